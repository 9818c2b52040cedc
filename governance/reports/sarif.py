"""``report.sarif``: SARIF 2.1.0, so code-scanning UIs list findings as alerts.

Each policy rule is a reporting descriptor; each finding a result located at the flagged item's
own file (an image, or the file whose line holds a text, with that line as the region), relative to
the sample set's folder (the ``SAMPLES`` base URI) where it lies inside it; a manifest line that
lists an image is a related location. A new finding under a rule with a new-findings baseline gate
is a result of that gate too, and results carry SARIF's ``baselineState``.

A result's level is the level at which it fails the run: a warning rule's findings are errors in a
run audited with ``--strict``. The invocation records the exit code; ``executionSuccessful`` is true
whenever the audit ran to a verdict (a failed policy is a successful execution, as SARIF defines
it; a run that could not be made writes no report).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from aigc_audit.governance.report import (
    GATE_NEW_FINDINGS,
    LEVEL_ERROR,
    NEW,
    PERSISTING,
    Finding,
    Location,
    Report,
    RuleOutcome,
    json_text,
)
from aigc_audit.governance.status import FAIL

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SAMPLES_BASE = "SAMPLES"
BASELINE_STATES = {NEW: "new", PERSISTING: "unchanged"}
_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)$")


def _uri(path: str) -> tuple[str, bool]:
    """A POSIX path as a URI reference: relative (to ``SAMPLES``) or an absolute ``file:`` URI."""
    if PurePosixPath(path).is_absolute():
        return "file://" + quote(path), False
    return quote(path), True


def _physical(location: Location) -> dict[str, Any]:
    uri, relative = _uri(location.file)
    artifact: dict[str, Any] = {"uri": uri}
    if relative:
        artifact["uriBaseId"] = SAMPLES_BASE
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if location.line is not None:
        physical["region"] = {"startLine": location.line}
    return {"physicalLocation": physical}


def _locations(report: Report, item_id: str) -> list[Location]:
    found = list(report.item_locations.get(item_id, ()))
    if not found:  # a report stored before locations were recorded: its origin (file:line)
        match = _ORIGIN.match(report.item_origins.get(item_id, ""))
        if match:
            found = [Location(PurePosixPath(match["path"]).as_posix(), int(match["line"]))]
    return found


def _level(report: Report, rule: RuleOutcome) -> str:
    return "error" if rule.level == LEVEL_ERROR or report.strict else "warning"


def _findings(report: Report) -> list[tuple[RuleOutcome, Finding]]:
    """(outcome, finding) for each result: every finding under its rule, and each new finding
    again under its rule's new-findings gate, whose level it fails the run at."""
    by_id = {r.rule_id: r for r in report.rules}
    pairs = [(by_id[f.rule_id], f) for f in report.findings]
    for outcome in report.rules:
        if outcome.gate == GATE_NEW_FINDINGS:
            pairs += [(outcome, f) for f in report.findings_behind(outcome)]
    return pairs


def render(report: Report) -> str:
    index = {r.rule_id: i for i, r in enumerate(report.rules)}
    results = []
    for rule, finding in _findings(report):
        locations = _locations(report, finding.item_id)
        result: dict[str, Any] = {
            "ruleId": rule.rule_id, "ruleIndex": index[rule.rule_id],
            "level": _level(report, rule) if rule.status == FAIL else "note",
            "message": {"text": f"{finding.item_id}: {finding.message}"},
            "locations": [_physical(loc) for loc in locations[:1]],
            "properties": {"item_id": finding.item_id, "score": finding.score},
        }
        if locations[1:]:
            result["relatedLocations"] = [{"id": i, **_physical(loc)} for i, loc in enumerate(locations[1:])]
        if finding.baseline in BASELINE_STATES:
            result["baselineState"] = BASELINE_STATES[finding.baseline]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "aigc-audit", "version": report.tool_version,
            "rules": [{"id": r.rule_id, "name": r.rule_id,
                       "shortDescription": {"text": r.description or f"{r.metric_name} {r.limit_text}"},
                       "defaultConfiguration": {"level": _level(report, r)}} for r in report.rules]}},
        "invocations": [{"executionSuccessful": True, "exitCode": report.exit_code(),
                         "exitCodeDescription": f"verdict {report.verdict_label}",
                         "properties": {"strict": report.strict}}],
        "automationDetails": {"id": report.run_id},
        "results": results,
        "properties": {"verdict": report.verdict, "strict": report.strict, "fails": report.fails},
    }
    if report.samples_root:
        run["originalUriBaseIds"] = {SAMPLES_BASE: {"uri": _uri(report.samples_root.rstrip("/") + "/")[0]}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json_text(log) + "\n"
