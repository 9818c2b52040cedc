"""Flagged items: a gallery, or groups by training item or rule with their counts, filterable by
rule, status, review and a search; each opens side by side with its best training match, with
previous and next (keys k and j) through the findings shown."""

import streamlit as st

from aigc_audit.dashboard import data, tables, widgets
from aigc_audit.dashboard.markup import code, md
from aigc_audit.sampleset import IMAGE

GALLERY = "gallery"
VIEWS = (GALLERY, *(f"grouped by {by}" for by in tables.GROUPINGS))
SHOWN_ORDER = "flagged_order"  # the finding keys as last listed: what previous and next walk

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
    if st.button("← Back to the list", key="close_finding"):
        del st.session_state[widgets.OPEN_FINDING]
        st.rerun()
    order = [key for key in st.session_state.get(SHOWN_ORDER, []) if key in by_id] or list(by_id)
    widgets.step_buttons(order, opened, lambda key: st.session_state.update(
        {widgets.OPEN_FINDING: (run_id, key)}), "flagged")
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
reviews = right.multiselect("Review", tables.REVIEW_STATES, key="flagged_reviews",
                            format_func=tables.REVIEW_LABELS.get)
search_column, view_column = st.columns([2, 1])
query = search_column.text_input("Search", key="flagged_search",
                          placeholder="item id, text, training item or source (every word must match)")
view = view_column.radio("Show", VIEWS, key="flagged_view", horizontal=True)
samples, _ = data.sample_set(report)
shown = tables.filter_findings(findings, report, data.decisions_in_force(url), rules=rules,
                               statuses=statuses, reviews=reviews)
shown = tables.search_findings(shown, query, data.item_texts(samples) if query.strip() else None)
st.caption(f"{len(shown)} of {len(findings)} finding(s), worst first")


def open_button(finding_key: str, label: str = "Open") -> None:
    if st.button(label, key=f"open_{finding_key}"):
        st.session_state[widgets.OPEN_FINDING] = (run_id, finding_key)
        st.rerun()


if view == GALLERY:
    st.session_state[SHOWN_ORDER] = [r.finding.key for r in shown]
    columns = st.columns(3)
    for index, reviewed in enumerate(shown):
        finding = reviewed.finding
        with columns[index % 3].container(border=True):
            st.markdown(f"{widgets.badge(finding.status)} {code(finding.item_id)}  \n"
                        f"{md(finding.rule_id)} · score {finding.score:.3f} · review: "
                        f"**{tables.REVIEW_LABELS[reviewed.review]}**")
            item = samples.get(finding.item_id) if samples is not None else None
            if item is not None and item.modality == IMAGE and item.path is not None:
                st.image(str(item.path), width=160)
            else:
                message = finding.message
                st.text(message if len(message) <= 220 else message[:217] + "...")
            open_button(finding.key)
    st.stop()

by = view.removeprefix("grouped by ")
groups = tables.group_findings(shown, by)
st.session_state[SHOWN_ORDER] = [key for group in groups for key in group.finding_keys]
st.subheader(f"{len(groups)} {by}(s)")
st.dataframe(tables.groups_frame(groups, by), hide_index=True, key="flagged_groups")
for number, group in enumerate(groups):
    # Expanders and buttons are keyed by position: a group's name is data of any shape.
    with st.expander(md(group.label), expanded=len(groups) == 1):
        st.dataframe(tables.reviewed_frame(list(group.members)), hide_index=True,
                     key=f"flagged_group_{number}")
        left, right = st.columns(2)
        if left.button(f"Decide on these {len(group.members)} finding(s)", key=f"decide_group_{number}"):
            st.session_state[widgets.BULK_FINDINGS] = (run_id, group.finding_keys)
            st.switch_page("views/decisions.py")
        with right:
            open_button(group.finding_keys[0], "Open the first")
