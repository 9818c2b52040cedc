"""Pieces several pages share: the login, the run picker, a run's header and the side-by-side
view of one flagged item. They render stored data; the reading is done by :mod:`dashboard.data`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from aigc_audit.dashboard import data
from aigc_audit.dashboard.evidence import (
    DISPLAY_SIDE,
    category_scores,
    details,
    figures,
    highlight_html,
    shared_spans,
)
from aigc_audit.dashboard.markup import code, md
from aigc_audit.dashboard.tables import item_scores_frame, neighbours, review_state
from aigc_audit.errors import ItemError
from aigc_audit.evaluators import evidence as keys
from aigc_audit.evaluators.copying.image_near_duplicate import ALIGNED
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.reviewers import Reviewer
from aigc_audit.governance.status import style
from aigc_audit.governance.store import display_url
from aigc_audit.sampleset import IMAGE

REVIEWER = "reviewer"        # session key: the logged-in Reviewer
SELECTED_RUN = "selected_run"
OPEN_FINDING = "open_finding"
DECIDE_FINDING = "decide_finding"
BULK_FINDINGS = "bulk_findings"  # (run, finding keys) a page hands to the Decisions page


def badge(status: str) -> str:
    shown = style(status)
    return f":{shown.badge}[**{shown.label}**]"


def current_reviewer() -> Reviewer | None:
    return st.session_state.get(REVIEWER)


def sidebar_status() -> None:
    with st.sidebar:
        st.caption(f"Store: {code(display_url(data.store_url()))}")
        reviewer = current_reviewer()
        st.caption(f"Reviewer: **{md(reviewer.name)}**" if reviewer else "Not logged in (log in on "
                   "the Decisions page to record decisions)")


def login_panel() -> Reviewer | None:
    """Log in with the reviewers' password file; the name becomes the author of decisions."""
    reviewer = current_reviewer()
    if reviewer is not None:
        left, right = st.columns([4, 1])
        left.success(f"Logged in as **{md(reviewer.name)}**")
        if right.button("Log out", key="logout"):
            del st.session_state[REVIEWER]
            st.rerun()
        return reviewer
    path = data.reviewers_path()
    with st.form("login", clear_on_submit=True):
        st.markdown("**Reviewer login**: decisions are recorded under your name.")
        left, right = st.columns(2)
        name = left.text_input("Name", key="login_name")
        password = right.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", key="login_submit")
    if submitted:
        reviewer = data.login(name, password)
        if reviewer is None:
            st.error("Unknown reviewer or wrong password.")
        else:
            st.session_state[REVIEWER] = reviewer
            st.rerun()
    if not path.is_file():
        st.caption(f"No reviewers in {code(path)}; add one with `aigc-audit reviewer add NAME`.")
    return None


def _select_run(key: str) -> None:
    st.session_state[SELECTED_RUN] = st.session_state[key]


def run_picker(runs: list[dict[str, Any]], page: str, *, label: str = "Run",
               default_index: int = 0, remember: bool = True) -> str | None:
    """A run selector that follows the run chosen on any page (``remember``)."""
    if not runs:
        st.info(f"No runs in {code(display_url(data.store_url()))} yet: audit a release with "
                "`aigc-audit audit --samples ... --store ...`.")
        return None
    ids = [r["run_id"] for r in runs]
    labels = {r["run_id"]: f"{r['created_at'][:19]} · {r['verdict'].upper()} · {r['samples_path']} · "
                           f"{r['run_id']}" for r in runs}
    key = f"run_picker_{page}"
    selected = st.session_state.get(SELECTED_RUN)
    if remember and selected in ids:
        st.session_state[key] = selected
    elif st.session_state.get(key) not in ids:
        st.session_state[key] = ids[min(default_index, len(ids) - 1)]
    st.selectbox(label, ids, key=key, format_func=labels.get,
                 on_change=_select_run if remember else None, args=(key,) if remember else None)
    if remember:
        st.session_state[SELECTED_RUN] = st.session_state[key]
    return st.session_state[key]


def run_header(report: Report) -> None:
    samples, reference = report.samples, report.reference
    st.markdown(f"### {badge(report.verdict)} run {code(report.run_id)}")
    columns = st.columns(4)
    columns[0].metric("Items", samples.n_items)
    columns[1].metric("Findings", len(report.findings))
    columns[2].metric("Waived", len(report.waived))
    columns[3].metric("Unreadable", len(report.item_errors))
    st.caption(f"{md(report.created_at)} · samples {code(samples.location or samples.path)} (sha256 "
               f"{samples.sha256[:12]})"
               + (f" · reference {code(reference.location or reference.path)} ({reference.n_items} items)"
                  if reference else "")
               + f" · policy **{md(report.policy.name)}** (sha256 {report.policy.sha256[:12]})"
               + f" · aigc-audit {md(report.tool_version)}")


def decision_note(entry: Any) -> str:
    if entry is None:
        return "No decision yet."
    until = f" until {md(entry.expires)}" if entry.expires else ""
    return (f"**{md(entry.decision)}**{until} by **{md(entry.reviewer)}** on {md(entry.created_at[:10])} "
            f"(ledger entry {entry.seq}): {md(entry.reason)}")


def provenance_note(item: Any) -> str:
    provenance = (item.provenance if item is not None else None) or {}
    if not provenance:
        return "provenance: not recorded"
    parts = [f"generator: {provenance.get('generator')}"]
    if provenance.get("seed") is not None:
        parts.append(f"seed {provenance['seed']}")
    if provenance.get("model_sha256"):
        parts.append(f"model {str(provenance['model_sha256'])[:12]}")
    return " · ".join(parts)


def _show_text(item_text: str, spans: list[list[int]]) -> None:
    st.markdown(highlight_html(item_text, spans), unsafe_allow_html=True)


def finding_detail(url: str, report: Report, finding: Finding) -> None:
    """The generated item beside its best training match (copying findings) or alone (harm and
    other findings), with the evidence."""
    evidence = finding.evidence
    st.markdown(f"#### {badge(finding.status)} {code(finding.item_id)} under {code(finding.rule_id)}")
    st.text(finding.message)
    _, entry = review_state(finding, report, data.decisions_in_force(url))
    st.info(decision_note(entry))

    item, item_note = data.generated_item(report, finding.item_id)
    has_match = evidence.get(keys.MATCH_ID) is not None
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Generated** {code(finding.item_id)}")
        st.caption(md(provenance_note(item)))  # one line, level with the match's source and licence
        if item_note:
            st.warning(md(item_note))
    if has_match:
        _match_side(report, evidence, item, left, right)
    elif item is not None and item.modality == IMAGE and item.path is not None:
        left.image(str(item.path), width=DISPLAY_SIDE)
    elif item is not None and item.text is not None:
        with left:
            _show_text(item.text, [])
    _evidence_figures(report, finding)


def _match_side(report: Report, evidence: Mapping[str, Any], item: Any, left: Any,
                right: Any) -> None:
    match, match_note = data.training_item(report, evidence[keys.MATCH_ID])
    with right:
        st.markdown(f"**Best training match** {code(evidence[keys.MATCH_ID])}")
        source = evidence.get(keys.MATCH_SOURCE) or (match and match.source) or "unknown"
        licence = evidence.get(keys.MATCH_LICENSE) or (match and match.license) or "unknown"
        st.caption(f"source: {md(source)} · licence: {md(licence)}")
        if match_note and (match is None or (item is not None and item.modality == IMAGE)):
            st.warning(md(match_note))
    if item is not None and item.modality == IMAGE:
        if match is None or match.path is None or item.path is None:
            if item.path is not None:
                left.image(str(item.path), width=DISPLAY_SIDE)
            return
        try:
            shift = evidence.get(keys.SHIFT) or (0, 0)
            orientation = evidence.get(keys.ORIENTATION) or "as is"
            # A match by alignment, or a faint picture's block levels turned back, names its turn.
            turned = evidence.get(keys.MATCH_METHOD) == ALIGNED or evidence.get(keys.ROTATION) is not None
            alignment = ((float(evidence.get(keys.ROTATION) or 0.0), float(evidence.get(keys.SCALE) or 1.0))
                         if turned else None)
            region = evidence.get(keys.MATCHED_REGION)
            pair = data.compared_images(str(item.path), str(match.path), (int(shift[0]), int(shift[1])),
                                        orientation, alignment,
                                        tuple(float(v) for v in region) if region else None)
        except ItemError as error:
            st.error(f"cannot show the images: {md(error.reason)}")
            return
        # PNG: JPEG artefacts would show up as differences that are not there.
        left.image(pair.sample, output_format="PNG",
                   caption=f"generated, {pair.sample_size[0]}x{pair.sample_size[1]}")
        right.image(pair.reference, output_format="PNG",
                    caption=f"training, {pair.reference_size[0]}x{pair.reference_size[1]} (scaled to "
                            f"match{'; red: the region the generated image shows' if region else ''})")
        if alignment is not None:
            aligned = (f", training image turned by {alignment[0]:g} degrees, enlarged {alignment[1]:g}x "
                       f"and moved by ({shift[0]}, {shift[1]}) px")
        else:
            aligned = "".join((f", generated {orientation}, turned back" if orientation != "as is" else "",
                               f", generated moved by ({shift[0]}, {shift[1]}) px" if any(shift) else ""))
        aligned += " as the audit matched it" if aligned else ""
        st.image(pair.difference, output_format="PNG", width=DISPLAY_SIDE,
                 caption=f"pixel difference |generated - training| (mean "
                         f"{pair.mean_abs_difference:.1f} of 255; black is identical{aligned})")
        return
    with left:
        if item is not None and item.text is not None:
            _show_text(item.text, shared_spans(evidence, "sample"))
        else:
            st.caption("The generated text is not readable; shared passages below.")
    with right:
        if evidence.get(keys.MATCH_TEXT):
            _show_text(evidence[keys.MATCH_TEXT], shared_spans(evidence, "reference"))
        elif match is not None and match.text:
            _show_text(match.text, [])
    passages = evidence.get(keys.SHARED) or []
    if passages:
        st.markdown(f"**Shared passages** ({len(passages)}, highlighted above)")
        st.dataframe(pd.DataFrame([{"words": p["words"], "text": p["text"]} for p in passages]),
                     hide_index=True)


def _evidence_figures(report: Report, finding: Finding) -> None:
    evidence = finding.evidence
    shown = figures(evidence)
    if shown:
        st.markdown("**Figures**")
        columns = st.columns(min(4, len(shown)))
        for index, (name, value) in enumerate(shown.items()):
            columns[index % len(columns)].metric(name, f"{value:.4g}" if isinstance(value, float) else value)
    facts = details(evidence)
    if facts:
        st.caption(" · ".join(f"{md(name)}: {md(value)}" for name, value in facts.items()))
    harms = category_scores(evidence)
    if harms:
        st.markdown("**Scores by category**")
        st.bar_chart(pd.Series(harms, name="score"), horizontal=True)
    scores = item_scores_frame(report, finding.item_id)
    if not scores.empty:
        with st.expander("This item's score in every evaluation of the run"):
            st.dataframe(scores, hide_index=True)


def step_buttons(order: list[str], current: str, step: Callable[[str], None], page: str) -> None:
    """Previous and next buttons (keys ``k`` and ``j``) through ``order``, the findings as the page
    lists them; ``step`` is called with the finding to show."""
    before, after = neighbours(order, current)
    position = order.index(current) + 1 if current in order else 0
    left, middle, right = st.columns([1, 2, 1])

    def go(target: str | None) -> None:
        if target is not None:
            step(target)

    left.button("← Previous", key=f"{page}_previous", disabled=before is None, shortcut="k",
                on_click=go, args=(before,), help="keyboard: k")
    middle.caption(f"finding {position} of {len(order)} shown" if position else
                   f"not among the {len(order)} finding(s) shown")
    right.button("Next →", key=f"{page}_next", disabled=after is None, shortcut="j",
                 on_click=go, args=(after,), help="keyboard: j")
