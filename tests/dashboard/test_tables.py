"""The pages' tables and filters."""

from __future__ import annotations

from aigc_audit.dashboard.tables import (
    Reviewed,
    filter_findings,
    filter_runs,
    group_findings,
    groups_frame,
    item_scores_frame,
    neighbours,
    rules_frame,
    search_findings,
)
from aigc_audit.governance.ledger import Entry
from aigc_audit.governance.report import Finding
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


def _copy(item: str, match: str | None, rule: str = "copy", review: str = "undecided",
          **evidence) -> Reviewed:
    found = Finding(rule, item, "error", "fail", f"{item} copies", 1.0,
                    {"match_id": match, **evidence} if match else evidence)
    return Reviewed(found, review, None)


def test_findings_group_by_training_item_or_rule_largest_first_with_counts():
    reviewed = [_copy("a", "ref-1"), _copy("b", "ref-2", review="waive"), _copy("c", "ref-2"),
                _copy("d", None, rule="harm"), _copy("e", "ref-2", rule="other", review="reject")]
    groups = group_findings(reviewed, "training item")
    assert [(g.name, len(g.members)) for g in groups] == [("ref-2", 3), ("(no training item)", 1),
                                                          ("ref-1", 1)]
    assert groups[0].counts == {"undecided": 1, "approve": 0, "waive": 1, "reject": 1}
    assert groups[0].label == "ref-2 · 3 finding(s) · 1 undecided, 1 waived, 1 rejected"
    assert groups[0].finding_keys == [r.finding.key for r in reviewed[1:3] + reviewed[4:]]
    by_rule = group_findings(reviewed, "rule")
    assert [(g.name, len(g.members)) for g in by_rule] == [("copy", 3), ("harm", 1), ("other", 1)]
    frame = groups_frame(groups, "training item")
    assert list(frame.columns) == ["training item", "findings", "undecided", "approved", "waived", "rejected",
                                   "rules", "top score"]
    assert list(frame["rules"]) == [2, 1, 1]


def test_search_needs_every_word_or_phrase_in_id_text_or_training_source():
    reviewed = [_copy("s-1", "ref-1", match_source="Hamlet, Act 3"),
                _copy("s-2", "ref-2", match_source="Macbeth"),
                _copy("s-3", None)]
    texts = {"s-3": "To be or not to be"}
    assert search_findings(reviewed, "") == reviewed
    assert [r.finding.item_id for r in search_findings(reviewed, "HAMLET")] == ["s-1"]
    assert [r.finding.item_id for r in search_findings(reviewed, "ref-2")] == ["s-2"]
    assert [r.finding.item_id for r in search_findings(reviewed, "not be", texts)] == ["s-3"]
    assert search_findings(reviewed, "not be") == []  # without the generated texts
    assert [r.finding.item_id for r in search_findings(reviewed, '"act 3" hamlet')] == ["s-1"]
    assert search_findings(reviewed, '"3 act"') == []


def test_neighbours_are_the_findings_before_and_after_in_the_list():
    assert neighbours(["a", "b", "c"], "a") == (None, "b")
    assert neighbours(["a", "b", "c"], "b") == ("a", "c")
    assert neighbours(["a", "b", "c"], "c") == ("b", None)
    assert neighbours(["a"], "x") == (None, None)
