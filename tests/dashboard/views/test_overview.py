"""Run overview: rule table, the policy text of each rule, charts from the stored report."""

import json

from tests.dashboard.conftest import open_page


def test_rule_table_policy_text_and_charts(dashboard_store):
    app = open_page("overview")
    assert app.selectbox(key="run_picker_overview").value == dashboard_store.copied_run
    rules = app.dataframe[0].value.set_index("rule")
    assert rules.loc["copyright.text.near_duplicate", "status"] == "FAIL"
    assert rules.loc["copyright.text.near_duplicate", "flagged"] == 2
    assert rules.loc["copyright.text.near_duplicate", "limit"] == "<= 0"
    assert rules.loc["integrity.unreadable_items", "status"] == "PASS"
    # The rule's own lines from the policy file, where it came from.
    sources = [c.value for c in app.code]
    near = next(s for s in sources if s.startswith("- id: copyright.text.near_duplicate"))
    assert "threshold: 0.5" in near and "max_similarity" not in near
    charts = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    assert len(charts) == 2  # the near-duplicate distribution and the limits
    distribution = json.dumps(charts[0])
    assert '"type": "rule"' in distribution and "text_near_duplicate score" in distribution


def test_overview_follows_the_run_chosen_elsewhere(dashboard_store):
    app = open_page("overview")
    app.session_state["selected_run"] = dashboard_store.clean_run
    app.run()
    assert app.selectbox(key="run_picker_overview").value == dashboard_store.clean_run
    assert any(m.value.startswith(f"### :green[**PASS**] run `{dashboard_store.clean_run}`")
               for m in app.main.markdown)
