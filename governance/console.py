"""Terminal output: progress bars on stderr and the summary table."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aigc_audit.governance.report import Report
from aigc_audit.governance.status import style

T = TypeVar("T")
# Characters that would act on a terminal rather than show (escape sequences, carriage returns,
# bidirectional overrides): category Cc (controls) and Cf (format characters).
_ACTING = frozenset(("Cc", "Cf"))


def terminal_safe(text: object) -> str:
    """``text`` with every control or format character shown as an escape (``\\x1b``), so an id or
    a sample text cannot clear the screen, recolour it, retitle the window or reorder a line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if unicodedata.category(ch) not in _ACTING
                   else ch.encode("unicode_escape").decode("ascii") for ch in text)


def cell(text: object) -> str:
    """Untrusted text for a rich table cell or markup string: terminal-safe, markup escaped."""
    return escape(terminal_safe(text))


@contextmanager
def progress_tracker(console: Console) -> Iterator[Any]:
    """Yield a ``track(iterable, description, total)`` that draws a bar per long step."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)

    def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
        return progress.track(iterable, total=total, description=description)

    with progress:
        yield track


def summary_table(report: Report) -> Table:
    verdict = style(report.verdict)
    table = Table(title=f"aigc-audit {cell(report.policy.name)}: [{verdict.terminal}]{verdict.label}[/]  "
                        f"({report.samples.n_items} items)")
    for column in ("rule", "level", "metric", "value", "limit", "status", "flagged"):
        # Rule ids and metric names wrap rather than being cut short in a narrow terminal.
        table.add_column(column, justify="right" if column in ("value", "limit", "flagged") else "left",
                         overflow="fold" if column in ("rule", "metric") else "ellipsis")
    for rule in report.rules:
        table.add_row(cell(rule.rule_id), rule.level, cell(rule.metric_name), rule.value_text(),
                      rule.limit_text, f"[{style(rule.status).terminal}]{rule.status}[/]",
                      str(rule.n_flagged))
    return table
