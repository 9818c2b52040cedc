"""``report.json``: the full report, versioned by its ``schema`` field."""

from __future__ import annotations

import json

from aigc_audit.governance.report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
