"""History: one rule's metric across the runs of the same release (sample set) or the same
training data (reference set), with the policy's limit drawn in."""

import streamlit as st

from aigc_audit.dashboard import charts, data, widgets
from aigc_audit.dashboard.markup import code

url = data.store_url()
st.title("Metric history")
run_id = widgets.run_picker(data.runs(url), "history")
if run_id is None:
    st.stop()
report = data.report(url, run_id)
same = st.radio("Runs of", (data.RELEASE, data.TRAINING), horizontal=True, key="history_same")
rules = [r.rule_id for r in report.rules if r.value is not None]
if not rules:
    st.info("No rule of this run measured a value.")
    st.stop()
failed = [r.rule_id for r in report.rules if r.value is not None and r.status == "fail"]
# The first failed rule first: the one a reviewer is most likely to look at.
rule_id = st.selectbox("Rule", rules, key="history_rule", index=rules.index(failed[0]) if failed else 0)
reports = data.history(url, run_id, same)
frame = charts.history_frame(reports, rule_id)
summary = report.samples if same == data.RELEASE else report.reference
where = (summary.location or summary.path) if summary else "this run only (it had no reference set)"
st.caption(f"{len(frame)} run(s) of {code(where)}; the line is the measured value, the red dashed "
           "line the policy's limit at each run, the points' colour the rule's status.")
st.altair_chart(charts.history_chart(frame, rule_id), width="stretch")
st.dataframe(frame.assign(created=frame["created"].astype(str)), hide_index=True, key="history_table")
