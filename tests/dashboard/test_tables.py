"""The pages' tables and filters."""

from __future__ import annotations

from aigc_audit.dashboard.tables import filter_findings, filter_runs, item_scores_frame, rules_frame
from aigc_audit.governance.ledger import Entry
from tests.governance.report_factory import evaluation, finding, make_report, outcome


def _run(run_id, verdict, samples):
    return {"run_id": run_id, "verdict": verdict, "samples_path": samples}


def test_runs_filter_by_verdict_and_sample_set():
    runs = [_run("a", "pass", "x"), _run("b", "fail", "x"), _run("c", "fail", "y")]
    assert [r["run_id"] for r in filter_runs(runs)] == ["a", "b", "c"]
    assert [r["run_id"] for r in filter_runs(runs, verdicts=["fail"])] == ["b", "c"]
    assert [r["run_id"] for r in filter_runs(runs, verdicts=["fail"], samples="x")] == ["b"]
    assert filter_runs(runs, verdicts=["warn"]) == []


def _entry(rule, sha, decision):
    return Entry(1, "2026-11-28T00:00:00", "alice", decision, rule, "i", sha, "run", "s", "why",
                 None, "0" * 64, "1" * 64)


def test_findings_filter_by_rule_status_and_review():
    report = make_report(item_sha256={"i1": "h1", "i2": "h2", "i3": "h3"})
    findings = [finding("r1", "i1"), finding("r1", "i2", "waived"), finding("r2", "i3")]
    decisions = {("r1", "h2"): _entry("r1", "h2", "waive"), ("r2", "h1"): _entry("r2", "h1", "reject")}
    items = lambda **kw: [r.finding.item_id for r in filter_findings(findings, report, decisions, **kw)]  # noqa: E731
    assert items() == ["i1", "i2", "i3"]
    assert items(rules=["r1"]) == ["i1", "i2"]
    assert items(statuses=["fail"]) == ["i1", "i3"]
    assert items(reviews=["undecided"]) == ["i1", "i3"]  # r2's decision on h1 is not r1's
    assert items(reviews=["waive"], rules=["r1"]) == ["i2"]
    assert filter_findings(findings, report, decisions, reviews=["waive"])[0].decision.reviewer == "alice"


def test_rule_and_score_tables_read_the_report():
    report = make_report(rules=[outcome("r", "fail", 0.5, origin="p:3", n_flagged=2, n_waived=1)],
                         evaluations=[evaluation("e", {"i1": 0.7}), evaluation("f", {"i2": 0.1})])
    row = rules_frame(report).iloc[0]
    assert (row["status"], row["limit"], row["flagged"], row["waived"]) == ("FAIL", "<= 0", 2, 1)
    assert item_scores_frame(report, "i1").to_dict("records") == [{"evaluation": "e", "score": 0.7}]
