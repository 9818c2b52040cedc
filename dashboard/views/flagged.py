"""Flagged items: a gallery filterable by rule, status and review; each opens side by side with
its best training match."""

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets
from aigc_audit.sampleset import IMAGE

url = data.store_url()
st.title("Flagged items")
run_id = widgets.run_picker(data.runs(url), "flagged")
if run_id is None:
    st.stop()
report = data.report(url, run_id)
findings = data.findings(url, run_id)
by_id = {f.key: f for f in findings}

# (run, finding key): a finding key names one finding within one run.
opened_run, opened = st.session_state.get(widgets.OPEN_FINDING) or (None, None)
if opened_run == run_id and opened in by_id:
    if st.button("← Back to the gallery", key="close_finding"):
        del st.session_state[widgets.OPEN_FINDING]
        st.rerun()
    widgets.finding_detail(url, report, by_id[opened])
    if st.button("Record a decision on this item", key="decide_open"):
        st.session_state[widgets.DECIDE_FINDING] = opened
        st.switch_page("views/decisions.py")
    st.stop()

if not findings:
    st.success("Nothing was flagged in this run.")
    st.stop()
left, middle, right = st.columns(3)
rules = left.multiselect("Rule", sorted({f.rule_id for f in findings}), key="flagged_rules")
statuses = middle.multiselect("Status", sorted({f.status for f in findings}), key="flagged_status")
reviews = right.multiselect("Review", tables.REVIEW_STATES, key="flagged_reviews")
shown = tables.filter_findings(findings, report, data.decisions_in_force(url), rules=rules,
                               statuses=statuses, reviews=reviews)
st.caption(f"{len(shown)} of {len(findings)} finding(s), worst first")

samples, _ = data.sample_set(report)
columns = st.columns(3)
for index, reviewed in enumerate(shown):
    finding = reviewed.finding
    with columns[index % 3].container(border=True):
        st.markdown(f"{widgets.badge(finding.status)} `{finding.item_id}`  \n"
                    f"{finding.rule_id} · score {finding.score:.3f} · review: **{reviewed.review}**")
        item = samples.get(finding.item_id) if samples is not None else None
        if item is not None and item.modality == IMAGE and item.path is not None:
            st.image(str(item.path), width=160)
        else:
            message = finding.message
            st.text(message if len(message) <= 220 else message[:217] + "...")
        if st.button("Open", key=f"open_{finding.key}"):
            st.session_state[widgets.OPEN_FINDING] = (run_id, finding.key)
            st.rerun()
