"""Terminal output: progress bars on stderr and the summary table."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aigc_audit.evaluators.base import no_progress
from aigc_audit.governance.report import NEW, PERSISTING, Report, json_text
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


# Redraws of the progress bars per second at most.
_REDRAWS_PER_SECOND = 10


@contextmanager
def progress_tracker(console: Console) -> Iterator[Any]:
    """Yield a ``track(iterable, description, total)`` that draws a bar per long step; off a
    terminal (a CI log) or on a quiet console there are no bars, and nothing is written. The bars
    are redrawn as the steps advance, not by a thread of their own: a process with one thread may
    fork worker processes safely (the image check's alignment does)."""
    if console.quiet or not console.is_terminal:
        yield no_progress
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True, auto_refresh=False)

    def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        task = progress.add_task(description, total=total)
        drawn = 0.0
        progress.refresh()
        for value in iterable:
            yield value
            progress.advance(task)
            if time.monotonic() - drawn >= 1 / _REDRAWS_PER_SECOND:
                progress.refresh()
                drawn = time.monotonic()
        progress.refresh()

    with progress:
        yield track


# Width of a console whose output is not a terminal (a CI log, a pipe, a file): wide enough that
# no table wraps a rule id or cuts a run id short, so lines can be grepped and parsed.
UNWRAPPED_WIDTH = 10_000
QUIET, NORMAL, VERBOSE = 0, 1, 2


def make_console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console for stdout or stderr: sized by the terminal when there is one, otherwise
    :data:`UNWRAPPED_WIDTH` wide and never soft-wrapping; ``quiet`` prints nothing."""
    console = Console(stderr=stderr, quiet=quiet)
    if not console.is_terminal:
        console = Console(stderr=stderr, quiet=quiet, width=UNWRAPPED_WIDTH, soft_wrap=True)
    return console


def summary_table(report: Report) -> Table:
    verdict = style(report.verdict)
    label = report.verdict_label.replace(verdict.label, f"[{verdict.terminal}]{verdict.label}[/]", 1)
    table = Table(title=f"aigc-audit {cell(report.policy.name)}: {label}  "
                        f"({report.samples.n_items} items)")
    changes = {} if report.baseline is None else {c.rule_id: c for c in report.baseline.metrics}
    columns = ["rule", "level", "metric", "value", "limit", "status", "flagged"]
    if report.baseline is not None:
        columns[4:4] = ["baseline", "change"]
    for column in columns:
        # Rule ids and metric names wrap rather than being cut short in a narrow terminal.
        table.add_column(column, justify="right" if column in ("value", "limit", "flagged", "baseline",
                                                               "change") else "left",
                         overflow="fold" if column in ("rule", "metric") else "ellipsis")
    for rule in report.rules:
        status = f"[{style(rule.status).terminal}]{rule.status}[/]"
        if rule.failed and rule.level != "error" and report.strict:
            status += " (strict)"
        row = [cell(rule.rule_id), rule.level, cell(rule.metric_name), rule.value_text(), rule.limit_text,
               status, str(rule.n_flagged)]
        if report.baseline is not None:
            change = changes.get(rule.rule_id)
            then = "" if change is None or change.baseline_value is None else f"{change.baseline_value:.4g}"
            row[4:4] = [then, "" if change is None else change.delta_text()]
        table.add_row(*row)
    return table


def baseline_line(report: Report) -> str | None:
    """One line: the baseline run and its new, persisting and resolved findings."""
    base = report.baseline
    if base is None:
        return None
    new = sum(1 for f in report.findings if f.baseline == NEW)
    persisting = sum(1 for f in report.findings if f.baseline == PERSISTING)
    return (f"baseline run {terminal_safe(base.run_id)} ({terminal_safe(base.source)}): {new} new, "
            f"{persisting} persisting, {len(base.resolved)} resolved finding(s)")


def verdict_line(report: Report) -> str:
    """The one line ``-q`` prints: verdict, exit code and run id."""
    return f"{report.verdict_label}: exit {report.exit_code()}, run {report.run_id}"


def print_json(data: object) -> None:
    """A command's ``--json`` output: one JSON document on stdout, whatever ``-q`` says."""
    print(json_text(data))
