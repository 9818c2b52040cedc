"""Decisions: approve, waive (with an expiry date) or reject flagged items, with a reason: one
finding at a time (previous and next: keys k and j) or several at once (a group by training item
or rule, or a selection). Only a logged-in reviewer can record one; nothing is preselected; every
decision goes into the hash-chained ledger."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets
from aigc_audit.dashboard.markup import md
from aigc_audit.errors import AuditError

DECISION_HELP = {"approve": "a false alarm or an acceptable use (sign-off; the finding still counts)",
                 "waive": "accepted until the expiry date: the next audit leaves the item out",
                 "reject": "the item must not ship"}
ONE, SEVERAL = "one finding at a time", "several findings at once"

FLASH = "decision_recorded"

url = data.store_url()
st.title("Decisions")
reviewer = widgets.login_panel()
if reviewer is None:
    st.warning("Log in to record decisions: decisions are never anonymous.")
run_id = widgets.run_picker(data.runs(url), "decisions")
if run_id is None:
    st.stop()
report = data.report(url, run_id)
findings = data.findings(url, run_id)
decisions = data.decisions_in_force(url)


def decision_form(key: str, button: str) -> tuple[bool, str | None, str, object]:
    """The decision (none preselected), its reason and a waiver's expiry date, in one form."""
    with st.form(key, clear_on_submit=True):
        decision = st.radio("Decision", list(DECISION_HELP), horizontal=True, key=f"{key}_kind",
                            captions=list(DECISION_HELP.values()), index=None)
        reason = st.text_area("Reason", key=f"{key}_reason",
                              placeholder="why: e.g. the passage is public domain (Shakespeare)")
        today = datetime.now(UTC).date()  # the ledger and the audit count days in UTC
        expires = st.date_input("Waiver holds until (inclusive, UTC; waivers only)", key=f"{key}_expires",
                                value=today + timedelta(days=90), min_value=today)
        submitted = st.form_submit_button(button, key=f"{key}_submit", type="primary")
    return submitted, decision, reason, expires


if findings:
    by_id = {f.key: f for f in findings}

    def label(finding_key: str) -> str:
        f = by_id[finding_key]
        review, _ = tables.review_state(f, report, decisions)
        return f"{f.rule_id} · {f.item_id} · {f.status} · {review}"

    left, right = st.columns([1, 2])
    reviews = left.multiselect("Review", tables.REVIEW_STATES, key="decide_reviews",
                               format_func=tables.REVIEW_LABELS.get)
    query = right.text_input("Search", key="decide_search",
                             placeholder="item id, text, training item or source (every word must match)")
    shown = tables.filter_findings(findings, report, decisions, reviews=reviews)
    if query.strip():
        shown = tables.search_findings(shown, query, data.item_texts(data.sample_set(report)[0]))
    ids = [r.finding.key for r in shown]
    bulk = st.session_state.pop(widgets.BULK_FINDINGS, None)
    if bulk is not None and bulk[0] == run_id:
        # A group handed over by the Flagged items page.
        st.session_state["decide_mode"] = SEVERAL
        st.session_state["decide_bulk"] = [key for key in bulk[1] if key in by_id]
    mode = st.radio("Decide on", (ONE, SEVERAL), horizontal=True, key="decide_mode")
    st.caption(f"{len(shown)} of {len(findings)} finding(s) shown")

    if mode == ONE and ids:
        # The finding opened on another page, else the one picked here before, else the worst.
        wanted = st.session_state.get(widgets.DECIDE_FINDING)
        if wanted in ids:
            st.session_state["decide_select"] = wanted
        elif st.session_state.get("decide_select") not in ids:
            st.session_state["decide_select"] = ids[0]

        def follow() -> None:
            st.session_state[widgets.DECIDE_FINDING] = st.session_state["decide_select"]

        def step(finding_key: str) -> None:
            st.session_state["decide_select"] = st.session_state[widgets.DECIDE_FINDING] = finding_key

        widgets.step_buttons(ids, st.session_state["decide_select"], step, "decide")
        finding_id = st.selectbox("Finding", ids, format_func=label, key="decide_select", on_change=follow)
        st.session_state[widgets.DECIDE_FINDING] = finding_id
        finding = by_id[finding_id]
        st.text(finding.message)
        st.info(widgets.decision_note(tables.review_state(finding, report, decisions)[1]))
        submitted, decision, reason, expires = decision_form("decision", "Record decision")
        if submitted:
            try:
                entry = data.record_decision(url, reviewer, report, finding, decision, reason, expires)
            except AuditError as error:
                st.error(md(error))
            else:
                # Shown after the rerun, which redraws the labels and the decision in force.
                st.session_state[FLASH] = (f"Recorded ledger entry {entry.seq}: {md(entry.decision)} of "
                                           f"{md(entry.item_id)} under {md(entry.rule_id)} by "
                                           f"{md(entry.reviewer)}.")
                st.rerun()
    elif mode == SEVERAL and ids:
        by = st.radio("Groups by", tables.GROUPINGS, horizontal=True, key="decide_group_by")
        groups = {group.name: group for group in tables.group_findings(shown, by)}

        def select_group() -> None:
            chosen = groups.get(st.session_state["decide_group"])
            if chosen is not None:
                st.session_state["decide_bulk"] = chosen.finding_keys

        if st.session_state.get("decide_group") not in groups:
            st.session_state.pop("decide_group", None)  # the grouping or the filters changed
        st.selectbox("Select a group", list(groups), key="decide_group", index=None,
                     format_func=lambda name: groups[name].label, on_change=select_group,
                     placeholder="a training item or rule: selects its findings below")
        # After a recorded decision the selection starts empty; it never holds a finding not shown.
        done = st.session_state.pop("decide_bulk_done", False)
        kept = [] if done else st.session_state.get("decide_bulk", [])
        st.session_state["decide_bulk"] = [k for k in kept if k in ids]
        chosen_ids = st.multiselect("Findings to decide on", ids, key="decide_bulk", format_func=label)
        submitted, decision, reason, expires = decision_form(
            "bulk", f"Record the decision on {len(chosen_ids)} finding(s)")
        if submitted:
            try:
                entries = data.record_decisions(url, reviewer, report, [by_id[k] for k in chosen_ids],
                                                decision, reason, expires)
            except AuditError as error:
                st.error(md(error))
            else:
                first, last = entries[0], entries[-1]
                st.session_state[FLASH] = (f"Recorded {len(entries)} decision(s), ledger entries {first.seq} "
                                           f"to {last.seq}: {md(first.decision)} by {md(first.reviewer)}, "
                                           f"reason: {md(first.reason)}")
                st.session_state["decide_bulk_done"] = True
                st.rerun()
    else:
        st.info("No finding matches the review filter and the search.")
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
else:
    st.success("Nothing was flagged in this run: there is nothing to decide.")

st.subheader("Ledger")
verification = data.verify_ledger(url)
(st.success if verification.ok else st.error)(md(verification))
scope = st.radio("Show", ["decisions made on this run", "all decisions"], horizontal=True,
                 key="ledger_scope")
entries = data.ledger_entries(url)
if scope == "decisions made on this run":
    entries = [e for e in entries if e.run_id == run_id]
st.dataframe(tables.ledger_frame(entries), hide_index=True, key="ledger_table")
if verification.ok:
    # CI starts with an empty store: the waivers travel to it committed in the repository.
    waivers_text, n_waivers = data.waivers_file(url)
    if n_waivers:
        st.download_button(f"Download the {n_waivers} waiver(s) in force as waivers.yaml", waivers_text,
                           file_name="waivers.yaml", mime="application/yaml", key="waivers_download",
                           help="Commit it beside the policy and pass it to 'aigc-audit audit --waivers'.")
