"""Auditing against a baseline: findings new, persisting or resolved, metric changes, the policy's
baseline gates, and the CLI's --baseline (a report.json or a stored run id)."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from aigc_audit.errors import InputError
from aigc_audit.governance.baseline import (
    gate_outcomes,
    mark_findings,
    metric_changes,
    read_baseline_file,
    resolved_findings,
)
from aigc_audit.governance.policy import BaselineGates, Rule
from aigc_audit.governance.report import NEW, NO_BASELINE, PERSISTING, RESOLVED, Report
from tests.conftest import JUNIT_XSD, REFERENCE_TEXTS, SARIF_SCHEMA, provenance, run_cli, write_jsonl
from tests.governance.report_factory import finding, make_report, outcome


def _rule(comparator="max", **gates) -> Rule:
    return Rule(id="copy", evaluator="text_near_duplicate", metric="share_flagged", comparator=comparator,
                limit=0.0, level="warning", baseline=BaselineGates(**{"level": "error", **gates}))


def test_findings_match_on_item_id_or_on_content():
    old = make_report("old", "fail", [outcome("copy", "fail", 0.5)],
                      [finding("copy", "s-1"), finding("copy", "s-2"), finding("copy", "s-3")],
                      item_sha256={"s-1": "h1", "s-2": "h2", "s-3": "h3"})
    # s-1 keeps its id but not its text; s-2's text came back as item-9; s-3 is gone; item-8 is new.
    now = [finding("copy", "s-1"), finding("copy", "item-9"), finding("copy", "item-8")]
    shas = {"s-1": "changed", "item-9": "h2", "item-8": "h8"}
    marked = mark_findings(now, shas, old, "copy")
    assert [(f.item_id, f.baseline) for f in marked] == [("s-1", PERSISTING), ("item-9", PERSISTING),
                                                         ("item-8", NEW)]
    resolved = resolved_findings(marked, shas, old)
    assert [(f.item_id, f.baseline) for f in resolved] == [("s-3", RESOLVED)]
    # The same item under another rule is a different finding.
    assert mark_findings([finding("other", "s-1")], shas, old, "other")[0].baseline == NEW


def test_metric_changes_read_each_rules_direction():
    old = make_report("old", rules=[outcome("a", value=0.5), outcome("b", value=0.9, comparator="min"),
                                    outcome("c", value=None)])
    now = [outcome("a", value=0.75), outcome("b", value=0.8, comparator="min"), outcome("c", value=1.0),
           outcome("added", value=2.0)]
    changes = {c.rule_id: c for c in metric_changes(now, old)}
    assert changes["a"].delta == 0.25 and changes["a"].worse_by == 0.25
    # A minimum that falls gets worse; the delta keeps its sign.
    assert changes["b"].delta == pytest.approx(-0.1) and changes["b"].worse_by == pytest.approx(0.1)
    assert changes["c"].delta is None and changes["added"].baseline_value is None
    assert changes["a"].delta_text() == "+0.25" and changes["c"].delta_text() == "n/a"


def test_gates_without_a_baseline_are_not_applicable_not_passed():
    gates = gate_outcomes(_rule(max_new_findings=0, max_regression=0.1), outcome("copy", "fail", 0.5),
                          [], None)
    assert [(g.rule_id, g.status, g.reason, g.level) for g in gates] == [
        ("copy:new_findings", "skip", NO_BASELINE, "error"),
        ("copy:regression", "skip", NO_BASELINE, "error")]


def test_new_findings_gate_passes_and_fails_on_the_count():
    base = make_report("old", rules=[outcome("copy", "fail", 0.5)])
    current = outcome("copy", "fail", 0.5)
    one_new = [replace(finding("copy", "x"), baseline=NEW)]
    failed, = gate_outcomes(_rule(max_new_findings=0), current, one_new, base)
    assert (failed.status, failed.value, failed.worst_items) == ("fail", 1.0, ("x",))
    assert failed.limit_text == "<= 0"
    assert failed.metric_name == "new findings of e.m" and failed.failed
    passed, = gate_outcomes(_rule(max_new_findings=1), current, one_new, base)
    assert passed.status == "pass"


@pytest.mark.parametrize("comparator, then, now, status", [
    ("max", 0.10, 0.15, "pass"), ("max", 0.10, 0.25, "fail"), ("max", 0.5, 0.0, "pass"),
    ("min", 0.90, 0.85, "pass"), ("min", 0.90, 0.70, "fail"), ("min", 0.5, 0.9, "pass"),
])
def test_regression_gate_reads_the_rules_direction(comparator, then, now, status):
    base = make_report("old", rules=[outcome("copy", value=then, comparator=comparator)])
    gate, = gate_outcomes(_rule(comparator, max_regression=0.1),
                          outcome("copy", value=now, comparator=comparator), [], base)
    worse_by = now - then if comparator == "max" else then - now
    assert gate.status == status and gate.value == pytest.approx(worse_by)


def test_regression_gate_exactly_at_the_margin_passes():
    base = make_report("old", rules=[outcome("copy", value=0.1)])
    gate, = gate_outcomes(_rule(max_regression=0.2), outcome("copy", value=0.3), [], base)
    assert gate.status == "pass"


def test_gates_say_why_they_do_not_apply():
    other = make_report("old", rules=[outcome("unrelated")])
    gate, = gate_outcomes(_rule(max_regression=0.1), outcome("copy", value=0.3), [], other)
    assert gate.status == "skip" and gate.reason == "not applicable: baseline run old did not apply rule copy"
    no_value = make_report("old", rules=[outcome("copy", value=None)])
    gate, = gate_outcomes(_rule(max_regression=0.1), outcome("copy", value=0.3), [], no_value)
    assert gate.reason == "not applicable: the metric has no value in baseline run old"
    skipped = outcome("copy", "skip", None, reason="no text items in the sample set")
    gate, = gate_outcomes(_rule(max_new_findings=0), skipped, [], no_value)
    assert gate.status == "skip" and gate.reason == "not applicable: no text items in the sample set"


def test_a_rule_without_gates_adds_none():
    rule = Rule(id="copy", evaluator="e", metric="m", comparator="max", limit=0.0, level="error")
    assert gate_outcomes(rule, outcome("copy"), [], None) == []


# ---- reading a baseline file -----------------------------------------------------------------

def test_read_baseline_file_round_trips_a_report(tmp_path):
    report = make_report("old", "fail", [outcome("copy", "fail", 0.5)], [finding("copy", "x")])
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report.to_dict()))
    assert read_baseline_file(path) == report


@pytest.mark.parametrize("content, message", [
    (None, r"missing\.json: baseline not found; pass a report\.json an earlier audit wrote, or a run id"),
    ('{"schema": "aigc-audit/report/v2",\n "run_id": }', r"missing\.json:2: baseline is not valid JSON: "
                                                         r"Expecting value"),
    ('{"schema": "aigc-audit/report/v2"}', r"missing\.json: baseline is not a complete aigc-audit report "
                                           r"\(no field 'inputs'\)"),
    ('{"schema": "other/v1"}', r"missing\.json: report schema 'other/v1' is not 'aigc-audit/report/v2'"),
    ("[1, 2]", r"missing\.json: report schema None is not"),
])
def test_bad_baseline_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_baseline_file(path)


# ---- the CLI ----------------------------------------------------------------------------------

POLICY = """\
version: 1
name: gate
rules:
  - id: copy
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.0
    level: warning
    params: {threshold: 0.5, shingle_size: 5}
    baseline: {max_new_findings: 0, level: error}
  - id: similarity
    evaluator: text_near_duplicate
    metric: max_similarity
    max: 0.35
    level: warning
    params: {threshold: 0.5, shingle_size: 5}
    baseline: {max_regression: 0.05}
"""
QUIET = "A quiet river wanders through the meadow under a pale and patient moon"


def _release(folder: Path, items: list[tuple[str, str]]) -> Path:
    write_jsonl(folder / "manifest.jsonl", [{"id": i, "modality": "text", "text": t,
                                             "provenance": provenance()} for i, t in items])
    return folder


def _audit(tmp_path: Path, reference: Path, samples: Path, out: str, *extra: str):
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY)
    return run_cli("audit", "--samples", str(samples), "--reference", str(reference), "--policy", str(policy),
                   "--out", str(tmp_path / out), "--store", str(tmp_path / "runs.sqlite"), *extra)


def test_cli_gates_on_new_findings_only(tmp_path, reference_set):
    v1 = _release(tmp_path / "v1", [("a", QUIET), ("b", REFERENCE_TEXTS[2])])
    first = _audit(tmp_path, reference_set, v1, "out1")
    # Without a baseline the gates say they do not apply; the copy is only a warning.
    assert first.returncode == 0, first.stderr
    assert "copy:new_findings: not applicable: no baseline given" in first.stdout
    old = json.loads((tmp_path / "out1" / "report.json").read_text())
    assert old["baseline"] is None and old["findings"][0]["baseline"] is None
    gate = next(r for r in old["rules"] if r["rule_id"] == "copy:new_findings")
    assert gate["status"] == "skip" and gate["reason"] == NO_BASELINE
    assert "SKIP: not applicable: no baseline given" in (tmp_path / "out1" / "report.md").read_text()

    # The same copy renumbered: persisting, so the release passes its gate.
    same = _release(tmp_path / "v2", [("z", REFERENCE_TEXTS[2]), ("a", QUIET)])
    old_file = str(tmp_path / "out1" / "report.json")
    second = _audit(tmp_path, reference_set, same, "out2", "--baseline", old_file)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (f"baseline run {old['run_id']} ({old_file}): 0 new, 1 persisting, 0 resolved finding(s)"
            in second.stdout)
    report = Report.from_dict(json.loads((tmp_path / "out2" / "report.json").read_text()))
    assert [(f.item_id, f.baseline) for f in report.findings] == [("z", PERSISTING)]
    assert report.rule("copy:new_findings").status == "pass"
    assert report.baseline.run_id == old["run_id"] and report.baseline.resolved == ()

    # A new copy fails the gate; the baseline is a stored run this time; the old copy is resolved.
    worse = _release(tmp_path / "v3", [("a", QUIET), ("c", REFERENCE_TEXTS[5])])
    third = _audit(tmp_path, reference_set, worse, "out3", "--baseline", old["run_id"])
    assert third.returncode == 1, third.stdout + third.stderr
    report = json.loads((tmp_path / "out3" / "report.json").read_text())
    assert [(f["item_id"], f["baseline"]) for f in report["findings"]] == [("c", "new")]
    assert [(f["item_id"], f["baseline"]) for f in report["baseline"]["resolved"]] == [("b", "resolved")]
    assert report["baseline"]["source"].startswith("run store sqlite:")
    change = next(m for m in report["baseline"]["metrics"] if m["rule_id"] == "similarity")
    assert change["value"] - change["baseline_value"] == pytest.approx(change["delta"])
    markdown = (tmp_path / "out3" / "report.md").read_text()
    assert "## Baseline: run" in markdown and "1 new, 0 persisting and 1 resolved finding(s)" in markdown
    assert "**copy** (new) `c`" in markdown and "**copy** (resolved) `b`" in markdown
    junit = (tmp_path / "out3" / "junit.xml").read_text()
    assert 'failures="1"' in junit and 'name="copy:new_findings"' in junit and "worst items: c" in junit
    import jsonschema
    import xmlschema

    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "out3" / "junit.xml"))
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "out1" / "junit.xml"))
    log = json.loads((tmp_path / "out3" / "report.sarif").read_text())
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    sarif = log["runs"][0]
    assert {(r["ruleId"], r["level"], r.get("baselineState")) for r in sarif["results"]} == {
        ("copy", "warning", "new"), ("copy:new_findings", "error", "new")}


@pytest.mark.parametrize("baseline, message", [
    ("nowhere/report.json", r"^aigc-audit: error: nowhere/report\.json: baseline not found; pass a "
                            r"report\.json an earlier audit wrote, or a run id from 'aigc-audit runs'$"),
    ("20990101T000000Z-deadbeef", r"^aigc-audit: error: --baseline '20990101T000000Z-deadbeef' is neither a "
                                  r"report\.json file nor a run in store sqlite:.*runs\.sqlite; pass"),
    ("{tmp}/bad.json", r"^aigc-audit: error: .*/bad\.json:1: baseline is not valid JSON: Expecting value"),
])
def test_cli_bad_baseline_exits_2_with_one_line(tmp_path, clean_samples, reference_set, baseline, message):
    (tmp_path / "bad.json").write_text("not json")
    result = _audit(tmp_path, reference_set, clean_samples, "out", "--baseline",
                    baseline.format(tmp=tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and re.search(message, result.stderr)
    assert not (tmp_path / "out" / "report.json").exists()
