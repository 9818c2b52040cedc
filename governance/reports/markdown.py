"""``report.md``: the summary a person reads in a pull request."""

from __future__ import annotations

from typing import Any

from aigc_audit.evaluators.base import NOTE_TOO_FEW

ICONS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP", "waived": "WAIVED"}
MAX_FINDINGS = 20


def _value(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any]) -> str:
    samples, reference = report["inputs"]["samples"], report["inputs"]["reference"]
    lines = [
        f"# aigc-audit: {ICONS[report['verdict']]}",
        "",
        f"- Run `{report['run_id']}` at {report['created_at']}, aigc-audit {report['tool']['version']}",
        f"- Samples: `{samples['path']}` ({samples['items']} items, sha256 `{samples['sha256'][:12]}`)",
    ]
    if reference:
        lines.append(f"- Reference: `{reference['path']}` ({reference['items']} items, sha256 "
                     f"`{reference['sha256'][:12]}`)")
    lines += [f"- Policy: `{report['policy']['name']}` (sha256 `{report['policy']['sha256'][:12]}`)", "",
              "| Rule | Level | Metric | Value | Limit | Status |", "|---|---|---|---|---|---|"]
    for rule in report["rules"]:
        limit = f"{'<=' if rule['comparator'] == 'max' else '>='} {rule['limit']:g}"
        lines.append(f"| `{rule['id']}` | {rule['level']} | {rule['evaluator']}.{rule['metric']} | "
                     f"{_value(rule['value'])} | {limit} | {ICONS[rule['status']]} |")
    findings = report["findings"]
    if findings:
        lines += ["", f"## Findings ({len(findings)})", ""]
        for finding in findings[:MAX_FINDINGS]:
            lines.append(f"- **{finding['rule']}** `{finding['item']}`: {_cell(finding['message'])}")
        if len(findings) > MAX_FINDINGS:
            lines.append(f"- ... and {len(findings) - MAX_FINDINGS} more in report.json")
    if report["waived"]:
        lines += ["", f"## Waived by reviewers ({len(report['waived'])})", ""]
        lines += [f"- **{f['rule']}** `{f['item']}`: {_cell(f['message'])}"
                  for f in report["waived"][:MAX_FINDINGS]]
    if report["item_errors"]:
        lines += ["", f"## Unreadable items ({len(report['item_errors'])})", ""]
        lines += [f"- `{e['item']}`: {_cell(e['reason'])}" for e in report["item_errors"][:MAX_FINDINGS]]
    # Metrics computed on too few samples to mean much say so in their evaluation's notes.
    small = [f"- `{e['evaluator']}`: {_cell(note['text'])}" for e in report["evaluations"].values()
             for note in e.get("notes", []) if note["kind"] == NOTE_TOO_FEW]
    if small:
        lines += ["", f"## Sample-size warnings ({len(small)})", "", *small]
    return "\n".join(lines) + "\n"
