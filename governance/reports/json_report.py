"""``report.json``: the full report, versioned by its ``schema`` field."""

from __future__ import annotations

from aigc_audit.governance.report import Report, json_text


def render(report: Report) -> str:
    return json_text(report.to_dict()) + "\n"
