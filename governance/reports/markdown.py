"""``report.md``: the summary a person reads in a pull request."""

from __future__ import annotations

from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.status import style

MAX_FINDINGS = 20


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _finding_lines(findings: tuple[Finding, ...]) -> list[str]:
    return [f"- **{f.rule_id}** `{f.item_id}`: {_cell(f.message)}" for f in findings[:MAX_FINDINGS]]


def render(report: Report) -> str:
    samples, reference = report.samples, report.reference
    lines = [
        f"# aigc-audit: {style(report.verdict).label}",
        "",
        f"- Run `{report.run_id}` at {report.created_at}, aigc-audit {report.tool_version}",
        f"- Samples: `{samples.path}` ({samples.n_items} items, sha256 `{samples.sha256[:12]}`)",
    ]
    if reference:
        lines.append(f"- Reference: `{reference.path}` ({reference.n_items} items, sha256 "
                     f"`{reference.sha256[:12]}`)")
    lines += [f"- Policy: `{report.policy.name}` (sha256 `{report.policy.sha256[:12]}`)", "",
              "| Rule | Level | Metric | Value | Limit | Status |", "|---|---|---|---|---|---|"]
    for rule in report.rules:
        lines.append(f"| `{rule.rule_id}` | {rule.level} | {rule.metric_name} | {rule.value_text()} | "
                     f"{rule.limit_text} | {style(rule.status).label} |")
    if report.findings:
        lines += ["", f"## Findings ({len(report.findings)})", "", *_finding_lines(report.findings)]
        if len(report.findings) > MAX_FINDINGS:
            lines.append(f"- ... and {len(report.findings) - MAX_FINDINGS} more in report.json")
    if report.waived:
        lines += ["", f"## Waived by reviewers ({len(report.waived)})", "", *_finding_lines(report.waived)]
    if report.item_errors:
        lines += ["", f"## Unreadable items ({len(report.item_errors)})", ""]
        lines += [f"- `{e.item_id}`: {_cell(e.reason)}" for e in report.item_errors[:MAX_FINDINGS]]
    # Metrics computed on too few samples to mean much say so in their evaluation's notes.
    small = [f"- `{evaluator}`: {_cell(note.text)}" for evaluator, note in report.too_few_notes()]
    if small:
        lines += ["", f"## Sample-size warnings ({len(small)})", "", *small]
    return "\n".join(lines) + "\n"
