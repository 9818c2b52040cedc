"""``report.sarif``: SARIF 2.1.0, so code-scanning UIs list findings as alerts.

Each policy rule is a reporting descriptor; each finding a result located at the manifest line of
the flagged item (the sample set's file, when the item came from one).
"""

from __future__ import annotations

import json
import re
from typing import Any

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning"}
_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)$")


def _location(origin: str | None) -> list[dict[str, Any]]:
    match = _ORIGIN.match(origin or "")
    if not match:
        return []
    return [{"physicalLocation": {"artifactLocation": {"uri": match["path"]},
                                  "region": {"startLine": int(match["line"])}}}]


def render(report: dict[str, Any]) -> str:
    rules = report["rules"]
    index = {r["id"]: i for i, r in enumerate(rules)}
    origins = report.get("item_origins", {})
    results = []
    for finding in report["findings"]:
        rule = rules[index[finding["rule"]]]
        results.append({
            "ruleId": finding["rule"], "ruleIndex": index[finding["rule"]],
            "level": LEVELS[rule["level"]] if finding["status"] == "fail" else "note",
            "message": {"text": f"{finding['item']}: {finding['message']}"},
            "locations": _location(origins.get(finding["item"])),
            "properties": {"item": finding["item"], "score": finding["score"]},
        })
    log = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aigc-audit", "version": report["tool"]["version"],
                "informationUri": "https://pypi.org/project/aigc-audit/",
                "rules": [{"id": r["id"], "name": r["id"],
                           "shortDescription": {"text": r["description"] or f"{r['evaluator']}."
                                                f"{r['metric']} {'<=' if r['comparator'] == 'max' else '>='} {r['limit']:g}"},
                           "defaultConfiguration": {"level": LEVELS[r["level"]]}} for r in rules]}},
            "automationDetails": {"id": report["run_id"]},
            "results": results,
            "properties": {"verdict": report["verdict"]},
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
