"""The console: the summary table under --strict and against a baseline, and output off a terminal."""

import io
import threading
from dataclasses import replace

from rich.console import Console

from aigc_audit.governance.console import (
    UNWRAPPED_WIDTH,
    baseline_line,
    make_console,
    progress_tracker,
    summary_table,
    verdict_line,
)
from aigc_audit.governance.report import NEW, PERSISTING, RESOLVED, Baseline, MetricChange
from tests.governance.report_factory import finding, make_report, outcome


def _text(table) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(table)
    return console.file.getvalue()


def test_strict_warning_reads_as_failing_everywhere_in_the_table():
    report = make_report("r-1", "warn", [outcome("sim", "fail", 0.5, level="warning")])
    assert "WARN  (" in _text(summary_table(report)) and "(strict)" not in _text(summary_table(report))
    strict = replace(report, strict=True)
    text = _text(summary_table(strict))
    assert "WARN (fails under --strict)" in text and "fail (strict)" in text
    assert verdict_line(strict) == "WARN (fails under --strict): exit 1, run r-1"
    assert verdict_line(report) == "WARN: exit 0, run r-1"


def test_baseline_adds_columns_and_a_line():
    report = make_report("r-2", "fail", [outcome("copy", "fail", 0.75)],
                         [replace(finding("copy", "a"), baseline=NEW),
                          replace(finding("copy", "b"), baseline=PERSISTING)])
    assert baseline_line(report) is None and "change" not in _text(summary_table(report))
    report = replace(report, baseline=Baseline("r-1", "2026-11-27", "old/report.json", "fail",
                                               (replace(finding("copy", "c"), baseline=RESOLVED),),
                                               (MetricChange("copy", "e.m", "max", 0.75, 0.5),)))
    text = _text(summary_table(report))
    assert "baseline" in text and "change" in text and "+0.25" in text
    assert baseline_line(report) == ("baseline run r-1 (old/report.json): 1 new, 1 persisting, 1 resolved "
                                     "finding(s)")


def test_a_console_off_a_terminal_is_wide_and_never_wraps(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())  # a pipe, as in CI
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    console = make_console()
    assert not console.is_terminal and console.width == UNWRAPPED_WIDTH and console.soft_wrap
    assert make_console(quiet=True).quiet


def test_progress_bars_on_a_terminal_draw_without_a_thread_of_their_own():
    # A process with one thread may fork workers safely (the image check's alignment stage).
    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=80)
    before = threading.active_count()  # other tests' threads may still run
    with progress_tracker(console) as track:
        seen = list(track(range(7), "Hashing things", 7))
        threads = threading.active_count()
    assert seen == list(range(7))
    assert threads == before
    assert "Hashing things" in written.getvalue() and "7/7" in written.getvalue()
