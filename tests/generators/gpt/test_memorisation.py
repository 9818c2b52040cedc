"""A GPT overfit on a handful of passages regurgitates them, and the audit catches it; the same
GPT before training copies nothing."""

import dataclasses

import pytest

from aigc_audit.generators.gpt.config import REFERENCE_DIR, SampleConfig
from aigc_audit.generators.gpt.sample import generate
from aigc_audit.generators.gpt.train import train
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit
from tests.generators.gpt.gpt_helpers import memorising_config

SAMPLES = SampleConfig(n=10, batch_size=10, temperature=0.5, min_new_tokens=16)


@pytest.fixture(scope="module")
def copy_policy():
    policy = load_policy("default")
    rules = tuple(r for r in policy.rules if r.id.startswith("copyright.text"))
    return dataclasses.replace(policy, rules=rules)


def _audit(tmp_path, name, config, copy_policy):
    model = train(config, tmp_path / name)
    samples = generate(model, tmp_path / f"{name}-samples", SAMPLES)
    return run_audit(samples, copy_policy, reference=model / REFERENCE_DIR)


def test_overfit_model_regurgitates_its_training_passages_and_fails(tmp_path, copy_policy):
    result = _audit(tmp_path, "overfit", memorising_config(), copy_policy)
    assert result.report.verdict == "fail"
    copies = [f for f in result.report.findings if f.rule_id == "copyright.text.copy"]
    assert len(copies) >= 5  # 8 of 10 here; sampling at temperature 0.5 can wander off
    assert max(f.score for f in copies) == 1.0  # a passage reproduced word for word
    assert {f.evidence["match_id"] for f in copies} <= {r.id for r in result.reference}
    assert all(f.evidence["match_license"].startswith("public domain") for f in copies)


def test_untrained_model_copies_nothing(tmp_path, copy_policy):
    result = _audit(tmp_path, "untrained", memorising_config(steps=1), copy_policy)
    assert result.report.verdict == "pass" and result.report.findings == ()
    evaluation = next(iter(result.evaluations.values()))
    assert evaluation.metrics["max_covered_share"] < 0.25
