"""Comparing two reports: status changes, deltas, new and resolved findings."""

from aigc_audit.governance.compare import compare_reports
from tests.governance.report_factory import finding, make_report, outcome


def _report(run_id, verdict, rules, findings, shas=None):
    return make_report(run_id, verdict, [outcome(r, s, v) for r, s, v in rules],
                       [finding(r, i) for r, i in findings], item_sha256=shas)


def test_status_changes_deltas_and_findings():
    old = _report("a", "pass", [("copy", "pass", 0.0), ("gone", "pass", 1.0)], [("copy", "x")])
    new = _report("b", "fail", [("copy", "fail", 0.25), ("added", "pass", None)],
                  [("copy", "x"), ("copy", "y")])
    result = compare_reports(old, new)
    rules = {r.rule: r for r in result.rules}
    assert [r.rule for r in result.rules] == ["copy", "added", "gone"]
    assert rules["copy"].changed and rules["copy"].delta == 0.25
    assert rules["added"].old_status is None and rules["added"].delta is None
    assert rules["gone"].new_status is None and rules["gone"].changed
    assert [r.rule for r in result.changed_rules] == ["copy", "added", "gone"]
    assert [f.item_id for f in result.new_findings] == ["y"] and result.resolved_findings == []
    assert result.persisting == 1
    assert rules["copy"].limit == "<= 0"


def test_findings_match_on_content_when_both_reports_have_it():
    old = _report("a", "fail", [("copy", "fail", 0.5)], [("copy", "s-1")], {"s-1": "h"})
    renumbered = _report("b", "fail", [("copy", "fail", 0.5)], [("copy", "item-7")], {"item-7": "h"})
    result = compare_reports(old, renumbered)
    assert result.new_findings == [] and result.resolved_findings == [] and result.persisting == 1
    without = compare_reports(_report("a", "fail", [], [("copy", "s-1")]), renumbered)
    assert len(without.new_findings) == 1 and len(without.resolved_findings) == 1


def test_an_item_that_keeps_its_id_but_not_its_content_still_matches():
    # The same rule as an audit's --baseline: item id or content, either one.
    old = _report("a", "fail", [("copy", "fail", 0.5)], [("copy", "s-1")], {"s-1": "h"})
    edited = _report("b", "fail", [("copy", "fail", 0.5)], [("copy", "s-1")], {"s-1": "other"})
    result = compare_reports(old, edited)
    assert result.new_findings == [] and result.resolved_findings == [] and result.persisting == 1


def test_a_finding_waived_in_the_new_run_is_waived_not_resolved():
    old = _report("a", "fail", [("copy", "fail", 0.5)], [("copy", "x"), ("copy", "y")],
                  {"x": "hx", "y": "hy"})
    new = make_report("b", "pass", [outcome("copy", "pass", 0.0)], [],
                      waived=[finding("copy", "x", "waived")], item_sha256={"x": "hx"})
    result = compare_reports(old, new)
    assert [f.item_id for f in result.waived_findings] == ["x"]
    assert result.waived_findings[0].status == "waived"
    assert [f.item_id for f in result.resolved_findings] == ["y"]
