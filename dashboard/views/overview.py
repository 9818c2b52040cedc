"""Run overview: the rule table with the policy text each rule came from, and the charts."""

import streamlit as st
import yaml

from aigc_audit.dashboard import charts, data, tables, widgets
from aigc_audit.dashboard.markup import code, md

url = data.store_url()
st.title("Run overview")
run_id = widgets.run_picker(data.runs(url), "overview")
if run_id is None:
    st.stop()
report = data.report(url, run_id)
widgets.run_header(report)

st.subheader("Rules")
st.dataframe(tables.rules_frame(report), hide_index=True, key="rules_table")
with st.expander("Policy text of each rule"):
    for rule in report.policy.rules:
        source = data.rule_source(rule["origin"]) if rule.get("origin") else None
        st.markdown(f"**{md(rule['id'])}** — {md(rule.get('description') or '')}  \n"
                    f"{code(rule.get('origin', ''))}")
        effective = {k: v for k, v in rule.items() if k != "origin"}
        st.code(source if source is not None else yaml.safe_dump(effective, sort_keys=False),
                language="yaml")

distributions = charts.distributions(report)
if distributions:
    st.subheader("Score distributions")
    st.caption("Per-item scores of each evaluation; the red dashed line, where the evaluation has "
               "one, is the score at which an item is flagged.")
    columns = st.columns(2)
    for index, distribution in enumerate(distributions):
        with columns[index % 2]:
            st.altair_chart(charts.distribution_chart(distribution), width="stretch")
            note = "rules: " + ", ".join(distribution.rules) if distribution.rules else ""
            if not distribution.thresholds:
                note += ("; " if note else "") + "no flagging threshold: the rules read a summary metric"
            if note:
                st.caption(md(note))

limits = charts.limits_chart(report)
if limits is not None:
    st.subheader("Metrics against their limits")
    st.caption("Bar: the measured value; black tick: the policy's limit. Each rule has its own scale.")
    st.altair_chart(limits)

if report.item_errors:
    st.subheader(f"Unreadable items ({len(report.item_errors)})")
    st.dataframe([e.to_dict() for e in report.item_errors], hide_index=True)
