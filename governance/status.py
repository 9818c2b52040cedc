"""The statuses of a verdict, a rule and a finding, and how each is shown everywhere.

One table, so that the terminal, the Markdown report, the dashboard's badges and its charts
never disagree on what a status looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"
SKIP = "skip"
WAIVED = "waived"


@dataclass(frozen=True)
class StatusStyle:
    label: str      # upper-case word, for text reports
    terminal: str   # a rich style
    badge: str      # a Streamlit Markdown colour name
    colour: str     # a hex colour, for charts


STYLES = {
    PASS: StatusStyle("PASS", "green", "green", "#2e7d32"),
    WARN: StatusStyle("WARN", "yellow", "orange", "#f9a825"),
    FAIL: StatusStyle("FAIL", "bold red", "red", "#c62828"),
    SKIP: StatusStyle("SKIP", "dim", "gray", "#9e9e9e"),
    WAIVED: StatusStyle("WAIVED", "cyan", "blue", "#00838f"),
}


def style(status: str) -> StatusStyle:
    """The style of ``status``; an unknown status (a report from a newer version) looks like skip."""
    return STYLES.get(status, StatusStyle(status.upper(), "dim", "gray", "#9e9e9e"))
