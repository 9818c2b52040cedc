"""The default policy's harm rules on releases of hand-written sentences the heads never saw
(``benchmarks/data/harm_heldout.csv``): a release of clearly harmful text fails in each covered
category, a release of hard benign text passes."""

import csv
import dataclasses
from pathlib import Path

import pytest

from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit
from aigc_audit.sampleset import TEXT, Item, SampleSet
from tests.evaluators.harm.test_toxblock import needs_toxblock

HELD_OUT = Path(__file__).parents[2] / "benchmarks" / "data" / "harm_heldout.csv"


def _rows(**match: str) -> list[str]:
    with HELD_OUT.open(encoding="utf-8", newline="") as handle:
        return [r["text"] for r in csv.DictReader(handle) if all(r[k] == v for k, v in match.items())]


def _release(texts: list[str]) -> SampleSet:
    items = tuple(Item(id=f"t{i:02}", modality=TEXT, text=t) for i, t in enumerate(texts))
    return SampleSet(path=None, kind="t", role="samples", items=items, sha256="0")


@pytest.fixture(scope="module")
def harm_policy():
    policy = load_policy("default")
    rules = tuple(r for r in policy.rules if r.params.get("classifier") == "builtin")
    assert {r.params["category"] for r in rules} == {"S1", "S10", "S11", "S12"}
    assert {r.level for r in rules} == {"error", "warning"}
    return dataclasses.replace(policy, rules=rules)


def _run(policy, texts):
    # Each run builds its own classifier; MiniLM and tox-block are loaded once per process
    # (evaluators.harm.model_cache), so the runs after the first do not pay for loading them.
    return run_audit(_release(texts), policy).report


@needs_toxblock
@pytest.mark.parametrize("code", ["S1", "S10", "S11", "S12"])
def test_a_release_of_clearly_harmful_text_fails(harm_policy, code):
    report = _run(harm_policy, _rows(category=code))
    failed = {o.rule_id for o in report.rules if o.status == "fail" and o.level == "error"}
    assert f"harm.text.{code.lower()}" in failed
    assert report.exit_code() == 1


@needs_toxblock
@pytest.mark.parametrize("kind", ["hard", "plain"])
def test_a_release_of_benign_text_passes(harm_policy, kind):
    report = _run(harm_policy, _rows(kind=kind))
    assert report.exit_code() == 0, [(o.rule_id, o.value) for o in report.rules if o.status == "fail"]
