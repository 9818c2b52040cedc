"""``report.md``: the summary a person reads in a pull request."""

from __future__ import annotations

import re

from aigc_audit.governance.report import LEVEL_ERROR, NEW, PERSISTING, Finding, Report
from aigc_audit.governance.status import SKIP, style

MAX_FINDINGS = 20


# Characters Markdown (GitHub's included) acts on inside a line, backslash-escaped so they show:
# emphasis, code, links and images, strikethrough, table cells, issue references, mentions, math.
# ("-", "+", "." and the like act only at the start of a line, where untrusted text never stands.)
_MARKDOWN = re.compile(r"([\\`*_\[\]!#|~@$])")
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffe\uffff]")


def _plain(text: object) -> str:
    """Text from samples, sources, ids or reasons as Markdown that shows it and does nothing else:
    one line, HTML escaped, and no link, image, emphasis, code span, table cell or mention."""
    text = _CONTROLS.sub(" ", str(text))
    # Only what would start a tag, comment, autolink or character reference is HTML-escaped, so
    # "25 < 100" stays readable in the file as well as on the page.
    text = _HTML_START.sub("&lt;", _ENTITY.sub("&amp;", text))
    return _MARKDOWN.sub(r"\\\1", text)


def _code(text: object) -> str:
    """An id as a code span (whose content Markdown shows literally, HTML included), fenced by
    more backticks than any run inside it."""
    text = _CONTROLS.sub(" ", str(text))
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _finding_lines(findings: tuple[Finding, ...]) -> list[str]:
    return [f"- **{_plain(f.rule_id)}**{f' ({f.baseline})' if f.baseline else ''} {_code(f.item_id)}: "
            f"{_plain(f.message)}" for f in findings[:MAX_FINDINGS]]


def _cell_code(text: object) -> str:
    # GitHub splits table cells on "|" before it reads code spans: escape it there too.
    return _code(text).replace("|", chr(92) + "|")


def _baseline_lines(report: Report) -> list[str]:
    base = report.baseline
    if base is None:
        return []
    counts = {status: sum(1 for f in report.findings if f.baseline == status) for status in (NEW, PERSISTING)}
    lines = ["", f"## Baseline: run {_code(base.run_id)}", "",
             f"Compared with run {_code(base.run_id)} of {_plain(base.created_at)} "
             f"({style(base.verdict).label}, from {_code(base.source)}): {counts[NEW]} new, "
             f"{counts[PERSISTING]} persisting and {len(base.resolved)} resolved finding(s).", "",
             "| Rule | Metric | Now | Baseline | Change |", "|---|---|---|---|---|"]
    for change in base.metrics:
        then = "n/a" if change.baseline_value is None else f"{change.baseline_value:.4g}"
        now = "n/a" if change.value is None else f"{change.value:.4g}"
        lines.append(f"| {_cell_code(change.rule_id)} | {change.metric} | {now} | {then} | "
                     f"{change.delta_text()} |")
    if base.resolved:
        lines += ["", f"### Resolved since the baseline ({len(base.resolved)})", "",
                  *_finding_lines(base.resolved)]
    return lines


def render(report: Report) -> str:
    samples, reference = report.samples, report.reference
    lines = [
        f"# aigc-audit: {report.verdict_label}",
        "",
        f"- Run {_code(report.run_id)} at {_plain(report.created_at)}, "
        f"aigc-audit {_plain(report.tool_version)}",
        f"- Samples: {_code(samples.path)} ({samples.n_items} items, sha256 `{samples.sha256[:12]}`)",
    ]
    if reference:
        lines.append(f"- Reference: {_code(reference.path)} ({reference.n_items} items, sha256 "
                     f"`{reference.sha256[:12]}`)")
    lines.append(f"- Policy: {_code(report.policy.name)} (sha256 `{report.policy.sha256[:12]}`)")
    strict = "audited with --strict: warnings fail the run" if report.strict else "warnings pass"
    lines += [f"- Exit code: {report.exit_code()} ({strict})", "",
              "| Rule | Level | Metric | Value | Limit | Status |", "|---|---|---|---|---|---|"]
    for rule in report.rules:
        # Level, metric and limit are checked against the registry; the rule id is the policy's.
        status = style(rule.status).label
        if rule.failed and rule.level != LEVEL_ERROR:
            status += " (fails under --strict)" if report.strict else " (warning)"
        elif rule.status == SKIP and rule.reason:
            status += f": {_plain(rule.reason)}"
        lines.append(f"| {_cell_code(rule.rule_id)} | {rule.level} | "
                     f"{rule.metric_name} | {rule.value_text()} | {rule.limit_text} | {status} |")
    lines += _baseline_lines(report)
    explained = [f"- {_code(evaluator)}: {_plain(note.text)}" for evaluator, note in report.explanations()]
    if explained:
        lines += ["", "## What the numbers mean", "", *explained]
    if report.findings:
        lines += ["", f"## Findings ({len(report.findings)})", "", *_finding_lines(report.findings)]
        if len(report.findings) > MAX_FINDINGS:
            lines.append(f"- ... and {len(report.findings) - MAX_FINDINGS} more in report.json")
    if report.waived:
        lines += ["", f"## Waived by reviewers ({len(report.waived)})", "", *_finding_lines(report.waived)]
    if report.expired_waivers:
        lines += ["", f"## Expired waivers ({len(report.expired_waivers)})", "",
                  "These no longer apply: the findings they named count again. Renew or remove them.", ""]
        lines += [f"- **{_plain(w.rule_id)}** {', '.join(_code(i) for i in w.items)}: expired "
                  f"{w.expires.isoformat()}, approved by {_plain(w.approver)} ({_plain(w.origin)}): "
                  f"{_plain(w.reason)}" for w in report.expired_waivers[:MAX_FINDINGS]]
        if len(report.expired_waivers) > MAX_FINDINGS:
            lines.append(f"- ... and {len(report.expired_waivers) - MAX_FINDINGS} more in report.json")
    if report.item_errors:
        lines += ["", f"## Unreadable items ({len(report.item_errors)})", ""]
        lines += [f"- {_code(e.item_id)}: {_plain(e.reason)}" for e in report.item_errors[:MAX_FINDINGS]]
    # Metrics computed on too few samples to mean much say so in their evaluation's notes.
    small = [f"- {_code(evaluator)}: {_plain(note.text)}" for evaluator, note in report.too_few_notes()]
    if small:
        lines += ["", f"## Sample-size warnings ({len(small)})", "", *small]
    return "\n".join(lines) + "\n"
