"""Terminal output: progress bars on stderr and the summary table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

T = TypeVar("T")
STYLES = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim", "waived": "cyan"}


@contextmanager
def progress_tracker(console: Console) -> Iterator[Any]:
    """Yield a ``track(iterable, description, total)`` that draws a bar per long step."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)

    def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
        return progress.track(iterable, total=total, description=description)

    with progress:
        yield track


def summary_table(report: dict[str, Any]) -> Table:
    verdict = report["verdict"]
    table = Table(title=f"aigc-audit {report['policy']['name']}: [{STYLES[verdict]}]"
                        f"{verdict.upper()}[/]  ({report['inputs']['samples']['items']} items)")
    for column in ("rule", "level", "metric", "value", "limit", "status", "flagged"):
        # Rule ids and metric names wrap rather than being cut short in a narrow terminal.
        table.add_column(column, justify="right" if column in ("value", "limit", "flagged") else "left",
                         overflow="fold" if column in ("rule", "metric") else "ellipsis")
    flagged: dict[str, int] = {}
    for finding in report["findings"]:
        flagged[finding["rule"]] = flagged.get(finding["rule"], 0) + 1
    for rule in report["rules"]:
        value = "n/a" if rule["value"] is None else f"{rule['value']:.4g}"
        limit = f"{'<=' if rule['comparator'] == 'max' else '>='} {rule['limit']:g}"
        table.add_row(rule["id"], rule["level"], f"{rule['evaluator']}.{rule['metric']}", value, limit,
                      f"[{STYLES[rule['status']]}]{rule['status']}[/]", str(flagged.get(rule["id"], 0)))
    return table
