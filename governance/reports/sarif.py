"""``report.sarif``: SARIF 2.1.0, so code-scanning UIs list findings as alerts.

Each policy rule is a reporting descriptor; each finding a result located at the manifest line of
the flagged item (the sample set's file, when the item came from one).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aigc_audit.governance.report import Report
from aigc_audit.governance.status import FAIL

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning"}
_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)$")


def _location(origin: str | None) -> list[dict[str, Any]]:
    match = _ORIGIN.match(origin or "")
    if not match:
        return []
    return [{"physicalLocation": {"artifactLocation": {"uri": match["path"]},
                                  "region": {"startLine": int(match["line"])}}}]


def render(report: Report) -> str:
    index = {r.rule_id: i for i, r in enumerate(report.rules)}
    results = []
    for finding in report.findings:
        rule = report.rules[index[finding.rule_id]]
        results.append({
            "ruleId": finding.rule_id, "ruleIndex": index[finding.rule_id],
            "level": LEVELS[rule.level] if finding.status == FAIL else "note",
            "message": {"text": f"{finding.item_id}: {finding.message}"},
            "locations": _location(report.item_origins.get(finding.item_id)),
            "properties": {"item_id": finding.item_id, "score": finding.score},
        })
    log = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aigc-audit", "version": report.tool_version,
                "rules": [{"id": r.rule_id, "name": r.rule_id,
                           "shortDescription": {"text": r.description or f"{r.metric_name} {r.limit_text}"},
                           "defaultConfiguration": {"level": LEVELS[r.level]}} for r in report.rules]}},
            "automationDetails": {"id": report.run_id},
            "results": results,
            "properties": {"verdict": report.verdict},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
