"""The audit runner: one evaluation per (evaluator, parameters), outcomes that name the evaluation
they read, waivers taken out of per-item counts, and rules that do not apply."""

from __future__ import annotations

import json

import pytest

from aigc_audit.errors import InputError
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.report import Location, Report
from aigc_audit.governance.runner import evaluation_key, run_audit
from tests.conftest import write_jsonl

TWO_THRESHOLDS = """\
version: 1
name: two-thresholds
rules:
  - id: copy.loose
    evaluator: text_near_duplicate
    metric: flagged_count
    max: 0
    level: error
    params: {threshold: 0.5}
  - id: copy.exact
    evaluator: text_near_duplicate
    metric: flagged_count
    max: 0
    level: warning
    params: {threshold: 0.99}
  - id: copy.loose.max
    evaluator: text_near_duplicate
    metric: max_similarity
    max: 0.99
    level: warning
    params: {threshold: 0.5}
"""


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO_THRESHOLDS)
    return load_policy(path)


def test_rules_with_other_parameters_read_their_own_evaluation(policy, copied_samples, reference_set):
    result = run_audit(copied_samples, policy, reference=reference_set)
    report = result.report
    loose, exact, loose_max = report.rules
    # Same evaluator, two parameter sets: two evaluations; the third rule shares the first's.
    assert len(report.evaluations) == 2 and loose.evaluation == loose_max.evaluation != exact.evaluation
    assert report.evaluations[loose.evaluation].params["threshold"] == 0.5
    assert report.evaluations[exact.evaluation].params["threshold"] == 0.99
    assert (loose.n_flagged, exact.n_flagged) == (2, 1)  # c-1 is verbatim; c-2 has a word changed
    assert {f.item_id for f in report.findings_of("copy.exact")} == {"c-1"}
    assert loose.status == exact.status == "fail" and report.verdict == "fail"
    assert loose.limit_text == "<= 0" and loose.value == 2.0
    assert evaluation_key(policy.rules[1]) == exact.evaluation


def test_a_waived_item_leaves_the_count_and_is_reported_apart(policy, copied_samples, reference_set):
    waived = {("copy.exact", "c-1")}
    result = run_audit(copied_samples, policy, reference=reference_set,
                       waiver=lambda rule, item: "public domain" if (rule, item) in waived else None)
    exact = result.report.rule("copy.exact")
    assert exact.status == "pass" and exact.value == 0.0 and (exact.n_flagged, exact.n_waived) == (0, 1)
    assert "1 flagged item(s) waived by reviewers" in exact.reason
    (finding,) = result.report.waived
    assert finding.status == "waived" and finding.message.endswith("; public domain")
    assert result.report.verdict == "fail"  # the loose rule still sees c-1 and c-2


def test_rules_on_an_absent_modality_are_skipped_with_the_reason(tmp_path, reference_set):
    images_only = tmp_path / "policy.yaml"
    images_only.write_text("version: 1\nname: img\nrules:\n  - id: copy.img\n"
                           "    evaluator: image_near_duplicate\n    metric: share_flagged\n"
                           "    max: 0\n    level: error\n")
    samples = write_jsonl(tmp_path / "s" / "manifest.jsonl", [{"id": "t", "modality": "text", "text": "hi"}])
    report = run_audit(samples.parent, images_only, reference=reference_set).report
    (outcome,) = report.rules
    assert outcome.status == "skip" and outcome.value is None and "no image items" in outcome.reason
    assert report.verdict == "pass"


def test_a_rule_that_needs_a_reference_stops_the_run_without_one(policy, copied_samples):
    with pytest.raises(InputError, match=r"rule\(s\) \['copy.loose', 'copy.exact', 'copy.loose.max'\] "
                                         "compare against a training set; pass --reference"):
        run_audit(copied_samples, policy)


def test_the_report_survives_json_unchanged(policy, copied_samples, reference_set):
    report = run_audit(copied_samples, policy, reference=reference_set).report
    assert Report.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert set(report.item_sha256) == {"c-1", "c-2"} and report.item_origins["c-1"].endswith(":2")


def test_a_strict_run_keeps_its_strictness(tmp_path, reference_set):
    samples = tmp_path / "s.txt"
    # Near ref-3 above the 0.35 warning, under the 0.5 error: a warning and nothing else.
    samples.write_text("Friends Romans countrymen lend me your ears I come to bless the good king\n")
    policy = tmp_path / "warn.yaml"
    policy.write_text("version: 1\nname: w\nrules:\n  - id: sim\n    evaluator: text_near_duplicate\n"
                      "    metric: max_similarity\n    max: 0.35\n    level: warning\n"
                      "    params: {threshold: 0.5, shingle_size: 5}\n")
    lenient = run_audit(samples, policy, reference=reference_set)
    strict = run_audit(samples, policy, reference=reference_set, strict=True)
    assert lenient.report.verdict == strict.report.verdict == "warn"
    assert (lenient.exit_code(), strict.exit_code(), strict.exit_code(strict=False)) == (0, 1, 0)
    assert strict.report.fails and not lenient.report.fails
    assert Report.from_dict(json.loads(json.dumps(strict.report.to_dict()))).exit_code() == 1


def test_a_run_against_a_baseline_survives_json_unchanged(policy, copied_samples, reference_set):
    first = run_audit(copied_samples, policy, reference=reference_set).report
    again = run_audit(copied_samples, policy, reference=reference_set, baseline=first,
                      baseline_source="first/report.json").report
    assert {f.baseline for f in again.findings} == {"persisting"} and again.baseline.resolved == ()
    assert again.baseline.source == "first/report.json" and again.baseline.run_id == first.run_id
    assert all(m.delta == 0 for m in again.baseline.metrics if m.value is not None)
    assert Report.from_dict(json.loads(json.dumps(again.to_dict()))) == again
    assert again.item_locations["c-1"] == (Location("manifest.jsonl", 2),)


def test_an_engine_that_no_rule_would_use_is_refused(reference_set, copied_samples):
    from aigc_audit.errors import ConfigError

    # The default policy has no text_near_duplicate rule: a cluster engine would be ignored.
    with pytest.raises(ConfigError, match=r"policy 'default' has no rule on an evaluator that runs on "
                                          r"a cluster \(text_near_duplicate\), so --engine dask would "
                                          r"do nothing"):
        run_audit(copied_samples, "default", reference=reference_set, engine=object())
