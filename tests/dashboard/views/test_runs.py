"""Runs page: every audit listed, filterable by verdict and sample set."""

from tests.dashboard.conftest import open_app


def test_runs_are_listed_newest_first(dashboard_store):
    app = open_app()
    assert not app.exception
    assert app.title[0].value == "Runs"
    table = app.dataframe[0].value
    assert list(table["run"]) == [dashboard_store.copied_run, dashboard_store.clean_run]
    assert list(table["verdict"]) == ["FAIL", "PASS"]
    assert "copyright.text.near_duplicate: 2" in table["flagged per rule"][0]
    assert table["failed rules"][1] == ""


def test_runs_filter_by_verdict_and_sample_set(dashboard_store):
    app = open_app()
    app.multiselect(key="runs_verdicts").set_value(["pass"]).run()
    assert list(app.dataframe[0].value["run"]) == [dashboard_store.clean_run]
    app.multiselect(key="runs_verdicts").set_value([]).run()
    copied_path = dashboard_store.copied_report.samples.path
    app.selectbox(key="runs_samples").set_value(copied_path).run()
    assert list(app.dataframe[0].value["run"]) == [dashboard_store.copied_run]
    assert app.caption[0].value == "1 of 2 run(s)"


def test_an_empty_store_says_how_to_fill_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_AUDIT_STORE", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    app = open_app()
    assert not app.exception
    assert "No runs in" in app.info[0].value and "aigc-audit audit" in app.info[0].value
