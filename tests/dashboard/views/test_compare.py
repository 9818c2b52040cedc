"""Compare: the release before and this one."""

from dataclasses import replace

from tests.dashboard.conftest import open_page


def test_compare_shows_changed_rules_and_new_findings(dashboard_store):
    app = open_page("compare")
    assert app.selectbox(key="run_picker_compare_old").value == dashboard_store.clean_run
    assert app.selectbox(key="run_picker_compare_new").value == dashboard_store.copied_run
    summary = next(m.value for m in app.main.markdown if m.value.startswith("Verdict"))
    assert "2 rule(s) changed status, 2 new, 0 resolved and 0 waived finding(s)" in summary
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


def test_a_finding_the_later_run_waives_is_waived_not_resolved(dashboard_store):
    copied = dashboard_store.copied_report
    waived = replace(copied, run_id="waived-run", created_at="2026-11-03T10:00:00+00:00", findings=(),
                     waived=tuple(replace(f, status="waived") for f in copied.findings))
    dashboard_store.store.record(waived)
    app = open_page("compare")
    app.selectbox(key="run_picker_compare_old").set_value(dashboard_store.copied_run)
    app.selectbox(key="run_picker_compare_new").set_value("waived-run").run()
    summary = next(m.value for m in app.main.markdown if m.value.startswith("Verdict"))
    assert "0 new, 0 resolved and 2 waived finding(s)" in summary
    assert app.dataframe[2].value.empty  # resolved
    waived_table = app.dataframe[3].value
    assert sorted(waived_table["item"]) == ["c-1", "c-2"] and set(waived_table["status"]) == {"waived"}
    assert [s.value for s in app.subheader][-3:] == ["New findings (0)", "Resolved findings (0)",
                                                     "Waived findings (2)"]
