"""Runs: every audit in the store, filterable by verdict and sample set."""

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets

url = data.store_url()
runs = data.runs(url)
st.title("Runs")
if not runs:
    widgets.run_picker(runs, "runs")  # says how to make one
    st.stop()

left, right = st.columns(2)
verdicts = left.multiselect("Verdict", ["pass", "warn", "fail"], key="runs_verdicts")
sample_sets = sorted({r["samples_path"] for r in runs})
chosen_set = right.selectbox("Sample set", ["all sample sets", *sample_sets], key="runs_samples")
shown = tables.filter_runs(runs, verdicts=verdicts,
                           samples=None if chosen_set == "all sample sets" else chosen_set)
st.caption(f"{len(shown)} of {len(runs)} run(s)")
st.dataframe(tables.runs_frame(shown), hide_index=True, key="runs_table")

if shown:
    run_id = widgets.run_picker(shown, "runs", label="Open a run")
    left, middle, right = st.columns(3)
    if left.button("Run overview", key="open_overview"):
        st.switch_page("views/overview.py")
    if middle.button("Flagged items", key="open_flagged"):
        st.switch_page("views/flagged.py")
    if right.button("Compare with the run before", key="open_compare"):
        st.switch_page("views/compare.py")
