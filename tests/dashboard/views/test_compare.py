"""Compare: the release before and this one."""

from tests.dashboard.conftest import open_page


def test_compare_shows_changed_rules_and_new_findings(dashboard_store):
    app = open_page("compare")
    assert app.selectbox(key="run_picker_compare_old").value == dashboard_store.clean_run
    assert app.selectbox(key="run_picker_compare_new").value == dashboard_store.copied_run
    summary = next(m.value for m in app.main.markdown if m.value.startswith("Verdict"))
    assert "2 rule(s) changed status, 2 new and 0 resolved finding(s)" in summary
    rules = app.dataframe[0].value.set_index("rule")
    assert rules.loc["copyright.text.near_duplicate", "before"] == "PASS"
    assert rules.loc["copyright.text.near_duplicate", "after"] == "FAIL"
    assert abs(rules.loc["copyright.text.near_duplicate", "delta"] - 2 / 3) < 1e-9
    assert not rules.loc["integrity.unreadable_items", "changed"]
    assert sorted(app.dataframe[1].value["item"]) == ["c-1", "c-2"]
    assert app.dataframe[2].value.empty
    # Swapped: the copies are resolved.
    app.selectbox(key="run_picker_compare_old").set_value(dashboard_store.copied_run)
    app.selectbox(key="run_picker_compare_new").set_value(dashboard_store.clean_run).run()
    assert sorted(app.dataframe[2].value["item"]) == ["c-1", "c-2"]
    app.toggle(key="compare_only_changed").set_value(True).run()
    assert set(app.dataframe[0].value["rule"]) == {"copyright.text.near_duplicate",
                                                   "copyright.text.max_similarity"}
