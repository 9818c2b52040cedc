"""The image_quality evaluator on real digits: held-out digits score like the reference, a set of
one digit scores low class entropy and recall, and too few or unreadable samples are reported."""

import subprocess
import sys

import numpy as np
import pytest

from aigc_audit.evaluators.base import NOTE_COUNTS, NOTE_TOO_FEW, info
from aigc_audit.evaluators.quality.image_quality import (
    FEATURES_CAVEAT,
    KEY_CLASS_ENTROPY,
    KEY_OUTSIDE_SHARE,
    KEY_PRECISION,
    ImageQuality,
)
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.report import EvaluationRecord
from aigc_audit.governance.runner import apply_rule, evaluation_key, run_audit
from aigc_audit.governance.status import FAIL, PASS, SKIP
from aigc_audit.sampleset import load_sample_set
from tests.evaluators.quality.quality_sets import digits, write_image_set, write_text_set

EPOCHS = 5  # a few epochs: the tests check the metrics, not the classifier's last percent


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    images, labels = digits()
    order = np.random.default_rng(0).permutation(len(images))
    ref, rest = order[:800], order[800:]
    ones = [i for i in rest if labels[i] == 1]
    return {
        "root": root,
        "reference": write_image_set(root / "reference", images[ref], labels=labels[ref], reference=True,
                                     prefix="ref"),
        "held_out": write_image_set(root / "held_out", images[rest[:400]], prefix="held"),
        "one_digit": write_image_set(root / "one_digit", images[ones], prefix="one"),
        "images": images, "labels": labels, "rest": rest,
    }


def _evaluator(sets, **params):
    params = {"cache_dir": str(sets["root"] / "cache"), "epochs": EPOCHS, "kid_subsets": 10, **params}
    return ImageQuality(**params)


@pytest.fixture(scope="module")
def held_out(sets):
    return _evaluator(sets).evaluate(sets["held_out"], sets["reference"])


@pytest.fixture(scope="module")
def one_digit(sets):
    return _evaluator(sets).evaluate(sets["one_digit"], sets["reference"])


def test_held_out_digits_score_like_the_reference(held_out):
    m = held_out.metrics
    assert m["n_samples"] == 400 and m["n_reference"] == 800 and held_out.n_items == 400
    assert m["precision"] > 0.85 and m["recall"] > 0.85 and m["coverage"] > 0.85
    assert 0.7 < m["density"] < 1.3
    assert m["class_entropy"] > 0.95 and m["dominant_class_share"] < 0.2
    assert abs(m["kid"]) < 0.05 and m["kid_std"] > 0 and m["classifier_accuracy"] > 0.8
    # 400 generated images, subsets of up to 1000: every subset holds all of them.
    assert info("kid_std reflects the choice of reference images only: every subset holds all 400 "
                "generated images, so it understates how much KID moves with other generated images") \
        in held_out.notes
    assert info(FEATURES_CAVEAT) in held_out.notes and held_out.skip_reason == ""
    assert any(n.kind == NOTE_COUNTS and n.text.startswith("frechet_distance: computed on 400 generated vs "
                                                           "800 reference images, 64 feature dimensions")
               for n in held_out.notes)


def test_kid_std_is_not_reported_when_every_subset_is_the_two_whole_sets(sets, tmp_path):
    labels = sets["labels"]
    picked = sets["rest"][600:720]
    reference = write_image_set(tmp_path / "ref", sets["images"][picked], labels=labels[picked],
                                reference=True, prefix="r120")
    samples = write_image_set(tmp_path / "s", sets["images"][sets["rest"][:120]], prefix="s120")
    evaluation = _evaluator(sets).evaluate(samples, reference)  # kid_subset_size 1000 covers both
    assert (np.isnan(evaluation.metrics["kid_std"])
            and EvaluationRecord.of("q", evaluation).to_dict()["metrics"]["kid_std"] is None)
    assert np.isfinite(evaluation.metrics["kid"])
    assert info("kid_std not reported (null): kid_subset_size=1000 covers both sets (120 generated and 120 "
                "reference images), so every subset would be the same and there is no spread to report; set "
                "kid_subset_size below 120 for one") in evaluation.notes
    assert any(n.kind == NOTE_COUNTS and n.text.startswith("kid: computed on all 120 generated and all 120 "
                                                           "reference images, once: ")
               for n in evaluation.notes)
    spread = _evaluator(sets, kid_subset_size=100).evaluate(samples, reference)
    assert spread.metrics["kid_std"] > 0
    assert any(n.kind == NOTE_COUNTS and n.text.startswith("kid: computed on 10 subsets of 100 generated and "
                                                           "100 reference images: ") for n in spread.notes)
    assert not any("reflects the choice" in n.text or "not reported" in n.text for n in spread.notes)


def test_one_digit_scores_low_class_entropy_and_recall(held_out, one_digit):
    m = one_digit.metrics
    assert m["class_entropy"] < 0.4 and m["dominant_class_share"] > 0.75
    assert m["precision"] > 0.8 and m["recall"] < 0.4 and m["coverage"] < 0.3
    assert m["frechet_distance"] > 5 * held_out.metrics["frechet_distance"]
    assert m["kid"] > 10 * abs(held_out.metrics["kid"])
    assert any(n.kind == NOTE_TOO_FEW and n.text.startswith("too few samples for frechet_distance")
               for n in one_digit.notes)


def test_each_item_scores_its_distance_to_the_reference_manifold(held_out):
    assert len(held_out.items) == 400
    for result in held_out.items:
        assert result.flagged == (result.score >= 1.0)
        assert result.evidence["nearest_reference_id"].startswith("ref-")
        assert result.evidence["predicted_class"] in range(10)
    outside = sum(r.flagged for r in held_out.items) / 400
    assert held_out.metrics[KEY_OUTSIDE_SHARE] == pytest.approx(outside)
    assert outside == pytest.approx(1 - held_out.metrics[KEY_PRECISION])
    worst = held_out.worst(1)[0]
    assert ImageQuality.describe(worst).startswith("outside the reference manifold" if worst.flagged
                                                   else "inside the reference manifold")


def test_default_policy_quality_rules_pass_held_out_digits_and_fail_one_digit(held_out, one_digit):
    rules = [r for r in load_policy("default").rules if r.evaluator == ImageQuality.name]
    assert rules and all(r.level == "warning" for r in rules)
    assert {apply_rule(r, evaluation_key(r), held_out)[0].status for r in rules} == {PASS}
    failed = {r.metric for r in rules if apply_rule(r, evaluation_key(r), one_digit)[0].status == FAIL}
    assert {KEY_CLASS_ENTROPY, "recall"} <= failed


def test_too_few_samples_skip_the_rules_with_the_reason(sets, tmp_path):
    few = write_image_set(tmp_path / "few", sets["images"][sets["rest"][:10]], prefix="few")
    evaluation = _evaluator(sets).evaluate(few, sets["reference"])
    assert evaluation.metrics == {} and evaluation.n_items == 10
    assert evaluation.skip_reason == ("too few samples: 10 generated image(s), fewer than min_samples=50; "
                                      "no image quality metric computed")
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - id: quality.image.recall\n    evaluator: image_quality\n"
                      "    metric: recall\n    min: 0.5\n    level: warning\n")
    result = run_audit(few, policy, reference=sets["reference"])
    rule = result.report.rules[0]
    assert rule.status == SKIP and "min_samples=50" in rule.reason and result.report.verdict == "pass"


def test_unreadable_samples_are_counted_and_the_rest_evaluated(sets, tmp_path):
    folder = tmp_path / "with-bad"
    write_image_set(folder, sets["images"][sets["rest"][:60]], prefix="ok")
    (folder / "images" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    records = [line for line in (folder / "manifest.jsonl").read_text().splitlines()]
    records.append('{"id": "bad", "modality": "image", "path": "images/bad.png", '
                   '"provenance": {"generator": "test"}}')
    (folder / "manifest.jsonl").write_text("\n".join(records) + "\n")

    evaluation = _evaluator(sets).evaluate(load_sample_set(folder), sets["reference"])
    assert set(evaluation.errors) == {"bad"} and evaluation.n_items == 61
    assert evaluation.metrics["n_samples"] == 60 and len(evaluation.items) == 60


def test_unlabelled_reference_images_are_clustered(sets, tmp_path):
    picked = sets["rest"][400:600]
    reference = write_image_set(tmp_path / "ref", sets["images"][picked], reference=True, prefix="u")
    samples = write_image_set(tmp_path / "s", sets["images"][sets["rest"][:60]], prefix="s")
    evaluation = _evaluator(sets, clusters=8).evaluate(samples, reference)
    assert any("carry no meta.label: domain classes are 8 k-means clusters" in n.text
               for n in evaluation.notes)
    assert 0.0 <= evaluation.metrics["class_entropy"] <= 1.0


def test_text_only_sets_compute_nothing(tmp_path, sets):
    texts = write_text_set(tmp_path / "t", ["a line of text"] * 3)
    evaluation = ImageQuality().evaluate(texts, sets["reference"])
    assert evaluation.n_items == 0 and evaluation.metrics == {} and evaluation.items == []


def test_parameters_are_checked():
    with pytest.raises(ValueError, match=r"'features' of evaluator 'image_quality' must be one of "
                                         r"\['domain', 'inception'\]; got 'clip'"):
        ImageQuality(features="clip")


def test_importing_the_evaluators_does_not_import_torch():
    code = ("import sys, aigc_audit.evaluators; heavy = [m for m in ('torch', 'transformers') "
            "if m in sys.modules]; assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
