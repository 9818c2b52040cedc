"""Compare: two runs side by side (the last release and this one): rules whose status changed,
metric deltas, new, resolved and waived findings (a finding the later run waives is not
resolved)."""

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets

url = data.store_url()
st.title("Compare runs")
runs = data.runs(url)
if len(runs) < 2:
    st.info("Comparing needs at least two runs in the store.")
    st.stop()
left, right = st.columns(2)
with left:
    old = widgets.run_picker(runs, "compare_old", label="Before", default_index=1, remember=False)
with right:
    new = widgets.run_picker(runs, "compare_new", label="After")
if old == new:
    st.warning("Pick two different runs.")
    st.stop()
comparison = data.comparison(url, old, new)
st.markdown(f"Verdict {widgets.badge(comparison.old_verdict)} → {widgets.badge(comparison.new_verdict)}; "
            f"{len(comparison.changed_rules)} rule(s) changed status, "
            f"{len(comparison.new_findings)} new, {len(comparison.resolved_findings)} resolved and "
            f"{len(comparison.waived_findings)} waived finding(s), {comparison.persisting} in both.")

st.subheader("Rules")
only_changed = st.toggle("Only rules whose status changed", key="compare_only_changed")
frame = tables.rule_changes_frame(comparison)
st.dataframe(frame[frame["changed"]] if only_changed else frame, hide_index=True,
             key="compare_rules", column_config={"delta": st.column_config.NumberColumn(format="%+.4g")})

left, middle, right = st.columns(3)
with left:
    st.subheader(f"New findings ({len(comparison.new_findings)})")
    st.dataframe(tables.findings_frame(comparison.new_findings), hide_index=True, key="compare_new_f")
with middle:
    st.subheader(f"Resolved findings ({len(comparison.resolved_findings)})")
    st.caption("no longer found")
    st.dataframe(tables.findings_frame(comparison.resolved_findings), hide_index=True,
                 key="compare_resolved_f")
with right:
    st.subheader(f"Waived findings ({len(comparison.waived_findings)})")
    st.caption("still found, left out of the count by a waiver")
    st.dataframe(tables.findings_frame(comparison.waived_findings), hide_index=True,
                 key="compare_waived_f")
