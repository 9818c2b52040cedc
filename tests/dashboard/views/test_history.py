"""History: a rule's value across the runs of one release, with its limit."""

from dataclasses import replace

from tests.dashboard.conftest import open_page


def _rule(report, rule_id, value, limit):
    rules = tuple(replace(r, value=value, limit=limit) if r.rule_id == rule_id else r for r in report.rules)
    return rules


def test_history_draws_a_rules_value_across_runs_of_the_release_with_its_limit(dashboard_store):
    copied = dashboard_store.copied_report
    rule = "copyright.text.max_similarity"
    # Two later runs of the same release (sample set): the value falls, the limit is tightened.
    for day, value, limit in ((3, 0.5, 0.35), (4, 0.2, 0.3)):
        dashboard_store.store.record(replace(
            copied, run_id=f"later-{day}", created_at=f"2026-11-0{day}T10:00:00+00:00",
            rules=_rule(copied, rule, value, limit)))
    app = open_page("history")
    assert not app.exception
    app.selectbox(key="run_picker_history").set_value(dashboard_store.copied_run).run()
    app.selectbox(key="history_rule").set_value(rule).run()
    table = app.dataframe[0].value
    # The clean run audited another sample set: not in this release's history.
    assert list(table["run"]) == [dashboard_store.copied_run, "later-3", "later-4"]
    assert [round(v, 4) for v in table["value"]][1:] == [0.5, 0.2]
    assert list(table["limit"]) == [0.35, 0.35, 0.3]
    assert "3 run(s) of" in app.caption[0].value and "red dashed" in app.caption[0].value
    (chart,) = app.get("vega_lite_chart")
    spec = chart.proto.spec
    assert '"strokeDash"' in spec and '"field": "limit"' in spec and '"field": "value"' in spec
    # Runs against the same training data: the clean run too.
    app.radio(key="history_same").set_value("the same training data (reference set)").run()
    assert list(app.dataframe[0].value["run"]) == [dashboard_store.clean_run, dashboard_store.copied_run,
                                                   "later-3", "later-4"]
