"""The run store: a report goes in and comes back equal; listings, findings and URLs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import text

from aigc_audit.errors import AuditError
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.store import RunStore, store_url
from tests.conftest import ROOT

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"


@pytest.fixture
def store(tmp_path):
    return RunStore(str(tmp_path / "runs.sqlite"))


def test_a_stored_report_comes_back_equal(store, copied_samples, reference_set):
    report = run_audit(copied_samples, POLICY, reference=reference_set).report
    store.record(report)
    assert store.report(report.run_id) == report
    findings = store.findings(report.run_id)
    assert sorted(findings) == sorted(report.findings + report.waived)
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)
    assert {f.item_id for f in store.findings(report.run_id, rule_id="copyright.text.near_duplicate")} \
        == {"c-1", "c-2"}


def test_runs_are_listed_newest_first_with_their_rules(store, clean_samples, copied_samples, reference_set):
    first = replace(run_audit(clean_samples, POLICY, reference=reference_set).report,
                    created_at="2026-11-01T00:00:00+00:00")
    second = replace(run_audit(copied_samples, POLICY, reference=reference_set).report,
                     created_at="2026-11-02T00:00:00+00:00")
    store.record(first)
    store.record(second)
    runs = store.list_runs(with_rules=True)
    assert [r["run_id"] for r in runs] == [second.run_id, first.run_id]
    assert runs[0]["rules"]["copyright.text.near_duplicate"] == {"status": "fail", "n_flagged": 2}
    assert [r["run_id"] for r in store.list_runs(verdict="pass")] == [first.run_id]
    assert "rules" not in store.list_runs()[0]


def test_an_unknown_run_and_a_report_of_another_schema_are_refused(store, copied_samples, reference_set):
    with pytest.raises(AuditError, match="no run 'nope' in store .*; list runs with 'aigc-audit runs'"):
        store.report("nope")
    report = run_audit(copied_samples, POLICY, reference=reference_set).report
    store.record(report)
    old = {**report.to_dict(), "schema": "aigc-audit/report/v1"}
    with store.engine.begin() as conn:
        conn.execute(text("update runs set report_json = :j"), {"j": json.dumps(old)})
    with pytest.raises(AuditError, match="report schema 'aigc-audit/report/v1' is not "
                                         "'aigc-audit/report/v2'.*run the audit again"):
        store.report(report.run_id)


def test_store_urls_mean_the_same_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_url("runs.sqlite") == f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert store_url("sqlite:///x/runs.sqlite") == f"sqlite:///{tmp_path / 'x' / 'runs.sqlite'}"
    assert store_url("sqlite:///:memory:") == "sqlite:///:memory:"
    assert store_url("postgresql://db/runs") == "postgresql://db/runs"
    monkeypatch.setenv("AIGC_AUDIT_STORE", "elsewhere.sqlite")
    assert store_url(None) == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"


def test_a_url_without_its_driver_is_a_one_line_error(tmp_path):
    with pytest.raises(AuditError, match="cannot open run store 'nosuchdb://x'"):
        RunStore("nosuchdb://x")


def _digest(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_store_opened_read_only_is_read_and_never_written(tmp_path, copied_samples, reference_set):
    from aigc_audit.governance.ledger import Ledger

    path = tmp_path / "runs.sqlite"
    writer = RunStore(str(path))
    report = run_audit(copied_samples, POLICY, reference=reference_set).report
    writer.record(report)
    writer.engine.dispose()
    before = _digest(path)
    reader = RunStore(str(path), read_only=True)
    assert [r["run_id"] for r in reader.list_runs()] == [report.run_id]
    assert reader.report(report.run_id) == report
    ledger = Ledger(reader)
    # No ledger table yet: it reads as empty and intact, and is not created.
    assert ledger.entries() == [] and ledger.verify().ok
    assert not reader.has_table("review_ledger")
    with pytest.raises(AuditError, match="opened read-only; open it with RunStore"):
        reader.record(replace(report, run_id="other"))
    reader.engine.dispose()
    assert _digest(path) == before
    # And SQLite itself refuses a write through it.
    with RunStore(str(path), read_only=True).engine.connect() as conn, \
            pytest.raises(Exception, match="readonly"):
        conn.execute(text("CREATE TABLE x (y INTEGER)"))


def test_a_missing_store_opened_read_only_is_empty_and_not_created(tmp_path):
    path = tmp_path / "nowhere" / "runs.sqlite"
    store = RunStore(str(path), read_only=True)
    assert store.list_runs() == [] and store.findings("r") == []
    with pytest.raises(AuditError, match="no run 'r'"):
        store.report("r")
    assert not path.parent.exists()
