"""``report.html``: one self-contained page to open from a CI artifact.

Verdict, rule table, inline SVG charts, the flagged items with their evidence and, for image
sets, small thumbnails embedded as ``data:`` URIs. No script, no external URL: a
Content-Security-Policy meta tag forbids both, and every string from samples, sources, ids and
reasons goes through :func:`html.escape`, so text from samples is shown and never acted on.

**Size bound.** The page stays under :data:`MAX_PAGE_BYTES` whatever the number of items: at most
:data:`PER_RULE` findings per rule are shown in full (each text cut at :data:`MAX_TEXT` characters),
thumbnails are at most :data:`THUMB_SIDE` pixels, and findings stop being added once the page
would pass the bound. The page counts what it leaves out; report.json has everything.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aigc_audit.errors import AuditError, ItemError
from aigc_audit.evaluators import evidence as keys
from aigc_audit.governance.report import Finding, Report, RuleOutcome
from aigc_audit.governance.status import WAIVED, style
from aigc_audit.sampleset import REFERENCE, SAMPLES, SampleSet, load_sample_set

MAX_PAGE_BYTES = 2_000_000
PER_RULE = 25
MAX_TEXT = 600
THUMB_SIDE = 96
HISTOGRAM_BINS = 10
MAX_ITEM_ERRORS = 25
# Room kept for the closing sections once the findings stop.
_RESERVE = 60_000

# Inline styles only; images only as data: URIs; nothing else may load or run.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#212121;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;
vertical-align:top}th{background:#f5f5f5}.badge{color:#fff;padding:2px 8px;border-radius:4px;font-weight:bold}
.finding{border:1px solid #ddd;border-radius:4px;padding:.5em;margin:.5em 0}.ev td{font-size:12px}
.text{white-space:pre-wrap;word-break:break-word}.thumbs img{margin-right:8px;border:1px solid #ccc}
.note{color:#555;font-style:italic}code{word-break:break-all}
"""


def _e(text: object) -> str:
    """Untrusted text as HTML text, cut to :data:`MAX_TEXT` characters."""
    text = str(text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"... [{len(text) - MAX_TEXT} more characters in report.json]"
    return html.escape(text, quote=True)


def _badge(status: str) -> str:
    s = style(status)
    return f'<span class="badge" style="background:{s.colour}">{html.escape(s.label)}</span>'


# -- charts ----------------------------------------------------------------------------------------
def flagged_chart(rules: Iterable[RuleOutcome]) -> str:
    """Horizontal bars: items flagged (and waived) per rule, coloured by the rule's status."""
    rules = list(rules)
    if not rules:
        return ""
    top = max((r.n_flagged + r.n_waived for r in rules), default=0) or 1
    row, label_w, bar_w = 22, 260, 420
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
             f'height="{row * len(rules) + 10}" role="img" aria-label="items flagged per rule">']
    for i, r in enumerate(rules):
        y = 5 + i * row
        flagged_w = bar_w * r.n_flagged / top
        waived_w = bar_w * r.n_waived / top
        name = r.rule_id if len(r.rule_id) <= 40 else r.rule_id[:39] + "…"
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(name)}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{flagged_w:.1f}" height="16" '
                     f'fill="{style(r.status).colour}"/>'
                     f'<rect x="{label_w + flagged_w:.1f}" y="{y + 2}" width="{waived_w:.1f}" height="16" '
                     f'fill="{style(WAIVED).colour}"/>'
                     f'<text x="{label_w + flagged_w + waived_w + 4:.1f}" y="{y + 14}" font-size="12">'
                     f'{r.n_flagged}{f" + {r.n_waived} waived" if r.n_waived else ""}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(scores: Iterable[float | None], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts of the scores in ``bins`` equal bins over [0, 1] (scores outside, infinite ones
    included, are clipped); a score that could not be computed (None, NaN) is not counted."""
    counts = [0] * bins
    for score in scores:
        if score is None or math.isnan(float(score)):
            continue
        counts[int(min(bins - 1, max(0.0, float(score) * bins)))] += 1
    return counts


def histogram_chart(counts: list[int], title: str) -> str:
    width, height, pad = 300, 110, 18
    top = max(counts) or 1
    bar = (width - 2) / len(counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + pad * 2}" '
             f'role="img" aria-label="{html.escape(title)}">'
             f'<text x="0" y="12" font-size="12">{html.escape(title)}</text>']
    for i, count in enumerate(counts):
        h = height * count / top
        parts.append(f'<rect x="{1 + i * bar:.1f}" y="{pad + height - h:.1f}" width="{bar - 2:.1f}" '
                     f'height="{h:.1f}" fill="#5c6bc0"><title>{i / len(counts):.1f}–'
                     f'{(i + 1) / len(counts):.1f}: {count}</title></rect>')
    parts.append(f'<text x="0" y="{height + pad * 2 - 2}" font-size="11">0</text>'
                 f'<text x="{width - 10}" y="{height + pad * 2 - 2}" font-size="11">1</text></svg>')
    return "".join(parts)


# -- thumbnails ------------------------------------------------------------------------------------
def thumbnail(path: Any, side: int = THUMB_SIDE) -> str:
    """A PNG ``data:`` URI of the image at ``path``, at most ``side`` pixels on its longer edge."""
    from aigc_audit.images import open_image_file

    image = open_image_file(path, item_id=str(path), mode="RGB")
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class _Images:
    """The run's image sets as they are on disk now, read only when the report has images."""

    samples: SampleSet | None = None
    reference: SampleSet | None = None
    note: str = ""

    @classmethod
    def of(cls, report: Report) -> _Images:
        if not report.samples.by_modality.get("image"):
            return cls()
        images, problems = cls(), []
        for role, summary in ((SAMPLES, report.samples), (REFERENCE, report.reference)):
            if summary is None or not summary.by_modality.get("image"):
                continue
            try:
                loaded = load_sample_set(summary.path, role=role)
            except AuditError as error:
                problems.append(f"the {role} set cannot be read now ({error})")
                continue
            if loaded.sha256 != summary.sha256:
                problems.append(f"the {role} set at {summary.path} changed since the audit")
                continue
            setattr(images, role, loaded)
        images.note = "; ".join(problems)
        return images

    def uri(self, sample_set: SampleSet | None, item_id: str | None) -> str | None:
        item = sample_set.get(item_id) if sample_set is not None and item_id else None
        if item is None or item.modality != "image" or item.path is None:
            return None
        try:
            return thumbnail(item.path)
        except (AuditError, ItemError):
            # An unreadable image is already an item error of the audit; the page shows its text.
            return None


# -- sections --------------------------------------------------------------------------------------
def _evidence_rows(evidence: Mapping[str, Any]) -> str:
    rows = []
    for key, value in evidence.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        rows.append(f"<tr><th>{_e(key)}</th><td class=\"text\">{_e(shown)}</td></tr>")
    return f'<table class="ev">{"".join(rows)}</table>' if rows else ""


def _finding(f: Finding, report: Report, images: _Images) -> str:
    thumbs = []
    sample_uri = images.uri(images.samples, f.item_id)
    if sample_uri:
        thumbs.append(f'<figure><img src="{sample_uri}" alt="generated item"><figcaption>generated'
                      '</figcaption></figure>')
    match_uri = images.uri(images.reference, str(f.evidence.get(keys.MATCH_ID) or ""))
    if match_uri:
        thumbs.append(f'<figure><img src="{match_uri}" alt="training match"><figcaption>training match'
                      '</figcaption></figure>')
    origin = report.item_origins.get(f.item_id)
    return (f'<div class="finding">{_badge(f.status)} <code>{_e(f.item_id)}</code>'
            f'{f" <span class=note>({_e(origin)})</span>" if origin else ""} score {f.score:.4g}'
            f'<div class="text">{_e(f.message)}</div>'
            f'{"<div class=thumbs style=display:flex>" + "".join(thumbs) + "</div>" if thumbs else ""}'
            f"{_evidence_rows(f.evidence)}</div>")


def _findings_section(title: str, findings: tuple[Finding, ...], report: Report, images: _Images,
                      budget: int) -> tuple[str, int]:
    """The findings grouped by rule, the first :data:`PER_RULE` of each in full while ``budget``
    bytes last; returns the HTML and the bytes left."""
    if not findings:
        return "", budget
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    parts = [f"<h2>{html.escape(title)} ({len(findings)})</h2>"]
    for rule_id, group in by_rule.items():
        parts.append(f"<h3><code>{_e(rule_id)}</code>: {len(group)} item(s)</h3>")
        shown = 0
        for f in group[:PER_RULE]:
            block = _finding(f, report, images)
            size = len(block.encode("utf-8"))
            if size > budget:
                break
            parts.append(block)
            budget -= size
            shown += 1
        if shown < len(group):
            why = (f"the first {PER_RULE} per rule are shown" if shown == PER_RULE
                   else f"this page stops adding findings to stay under {MAX_PAGE_BYTES // 1_000_000} MB")
            parts.append(f'<p class="note">{shown} of {len(group)} shown ({why}); '
                         f"the other {len(group) - shown} are in report.json.</p>")
    return "".join(parts), budget


def _rule_table(report: Report) -> str:
    rows = [f"<tr><td><code>{_e(r.rule_id)}</code></td><td>{_e(r.level)}</td>"
            f"<td>{_e(r.metric_name)}</td><td>{_e(r.value_text())}</td><td>{_e(r.limit_text)}</td>"
            f"<td>{_badge(r.status)}</td><td>{r.n_flagged}</td><td>{r.n_waived}</td>"
            f'<td class="text">{_e(r.reason)}</td></tr>' for r in report.rules]
    return ("<table><tr><th>Rule</th><th>Level</th><th>Metric</th><th>Value</th><th>Limit</th>"
            "<th>Status</th><th>Flagged</th><th>Waived</th><th>Reason</th></tr>" + "".join(rows)
            + "</table>")


def _inputs(report: Report) -> str:
    rows = [("Run", f"{report.run_id} at {report.created_at}, aigc-audit {report.tool_version}"),
            ("Samples", f"{report.samples.path} ({report.samples.n_items} items, sha256 "
                        f"{report.samples.sha256})")]
    if report.reference:
        rows.append(("Reference", f"{report.reference.path} ({report.reference.n_items} items, sha256 "
                                  f"{report.reference.sha256})"))
    rows.append(("Policy", f"{report.policy.name} ({report.policy.path}, sha256 {report.policy.sha256})"))
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _charts(report: Report) -> str:
    charts = [flagged_chart(report.rules)]
    for record in report.evaluations.values():
        if record.scores:
            charts.append(histogram_chart(histogram(record.scores.values()),
                                          f"{record.key}: item scores ({len(record.scores)})"))
    return "<h2>Charts</h2><div style=\"display:flex;flex-wrap:wrap;gap:16px\">" + "".join(charts) + "</div>"


def render(report: Report) -> str:
    images = _Images.of(report)
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="referrer" content="no-referrer">'
            f"<title>aigc-audit {html.escape(style(report.verdict).label)}: {_e(report.run_id)}</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>aigc-audit {_badge(report.verdict)}</h1>{_inputs(report)}"
            f"<h2>Rules</h2>{_rule_table(report)}{_charts(report)}")
    if images.note:
        head += f'<p class="note">Thumbnails left out: {_e(images.note)}.</p>'
    tail = []
    if report.item_errors:
        tail.append(f"<h2>Unreadable items ({len(report.item_errors)})</h2><ul>")
        tail += [f"<li><code>{_e(e.item_id)}</code>: {_e(e.reason)}</li>"
                 for e in report.item_errors[:MAX_ITEM_ERRORS]]
        tail.append("</ul>")
        if len(report.item_errors) > MAX_ITEM_ERRORS:
            tail.append(f'<p class="note">and {len(report.item_errors) - MAX_ITEM_ERRORS} more in '
                        "report.json.</p>")
    explained = [f"<li><code>{_e(evaluator)}</code>: {_e(note.text)}</li>"
                 for evaluator, note in report.explanations()]
    if explained:
        tail.append(f"<h2>What the numbers mean</h2><ul>{''.join(explained)}</ul>")
    small = [f"<li><code>{_e(evaluator)}</code>: {_e(note.text)}</li>"
             for evaluator, note in report.too_few_notes()]
    if small:
        tail.append(f"<h2>Sample-size warnings ({len(small)})</h2><ul>{''.join(small)}</ul>")
    tail.append(f'<p class="note">Self-contained page (no script, no remote content). At most '
                f"{PER_RULE} findings per rule are shown in full and the page stays under "
                f"{MAX_PAGE_BYTES // 1_000_000} MB; report.json holds every finding.</p></body></html>")
    tail_html = "".join(tail)
    budget = MAX_PAGE_BYTES - _RESERVE - len(head.encode("utf-8")) - len(tail_html.encode("utf-8"))
    findings, budget = _findings_section("Findings", report.findings, report, images, budget)
    waived, _ = _findings_section("Waived by reviewers", report.waived, report, images, budget)
    return head + findings + waived + tail_html + "\n"


__all__ = ["CSP", "MAX_PAGE_BYTES", "PER_RULE", "THUMB_SIDE", "flagged_chart", "histogram",
           "histogram_chart", "render", "thumbnail"]
