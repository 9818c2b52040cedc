"""Decisions: approve, waive (with an expiry date) or reject a flagged item, with a reason. Only a
logged-in reviewer can record one; every decision goes into the hash-chained ledger."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets
from aigc_audit.errors import AuditError

DECISION_HELP = {"approve": "a false alarm or an acceptable use (sign-off; the finding still counts)",
                 "waive": "accepted until the expiry date: the next audit leaves the item out",
                 "reject": "the item must not ship"}

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

if findings:
    by_id = {f.key: f for f in findings}
    ids = list(by_id)
    # The finding opened on another page, else the one picked here before, else the worst.
    wanted = st.session_state.get(widgets.DECIDE_FINDING)
    if wanted in by_id:
        st.session_state["decide_select"] = wanted
    elif st.session_state.get("decide_select") not in by_id:
        st.session_state["decide_select"] = ids[0]

    def follow() -> None:
        st.session_state[widgets.DECIDE_FINDING] = st.session_state["decide_select"]

    def label(finding_key: str) -> str:
        f = by_id[finding_key]
        review, _ = tables.review_state(f, report, decisions)
        return f"{f.rule_id} · {f.item_id} · {f.status} · {review}"

    finding_id = st.selectbox("Finding", ids, format_func=label, key="decide_select", on_change=follow)
    st.session_state[widgets.DECIDE_FINDING] = finding_id
    finding = by_id[finding_id]
    st.text(finding.message)
    st.info(widgets.decision_note(tables.review_state(finding, report, decisions)[1]))

    with st.form("decision", clear_on_submit=True):
        decision = st.radio("Decision", list(DECISION_HELP), horizontal=True, key="decision_kind",
                            captions=list(DECISION_HELP.values()))
        reason = st.text_area("Reason", key="decision_reason",
                              placeholder="why: e.g. the passage is public domain (Shakespeare)")
        today = datetime.now(UTC).date()  # the ledger and the audit count days in UTC
        expires = st.date_input("Waiver holds until (inclusive, UTC; waivers only)",
                                key="decision_expires", value=today + timedelta(days=90), min_value=today)
        submitted = st.form_submit_button("Record decision", key="decision_submit", type="primary")
    if submitted:
        try:
            entry = data.record_decision(url, reviewer, report, finding, decision, reason, expires)
        except AuditError as error:
            st.error(str(error))
        else:
            # Shown after the rerun, which redraws the labels and the decision in force.
            st.session_state[FLASH] = (f"Recorded ledger entry {entry.seq}: {entry.decision} of "
                                       f"{entry.item_id} under {entry.rule_id} by {entry.reviewer}.")
            st.rerun()
    if FLASH in st.session_state:
        st.success(st.session_state.pop(FLASH))
else:
    st.success("Nothing was flagged in this run: there is nothing to decide.")

st.subheader("Ledger")
verification = data.verify_ledger(url)
(st.success if verification.ok else st.error)(str(verification))
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
