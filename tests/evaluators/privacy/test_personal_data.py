"""The personal_data evaluator: metrics, masked evidence, parameters, and a policy rule on it."""

from __future__ import annotations

import json

import pytest

from aigc_audit.errors import ConfigError
from aigc_audit.evaluators.privacy.personal_data import PersonalDataText
from aigc_audit.governance.runner import run_audit
from aigc_audit.sampleset import Item, SampleSet

TEXTS = ["Write to jane.doe@example.com and pay with 4111 1111 1111 1111.",
         "A card that fails Luhn: 4111 1111 1111 1112, an ID that fails: 110105194912310021.",
         "A quiet river under a pale moon."]


def _set(texts: list[str]) -> SampleSet:
    items = tuple(Item(id=f"t-{i}", modality="text", text=t) for i, t in enumerate(texts))
    return SampleSet(path=None, kind="test", role="samples", items=items, sha256="0")


def test_flags_only_texts_with_valid_personal_data() -> None:
    evaluation = PersonalDataText().evaluate(_set(TEXTS), None)
    assert [r.item_id for r in evaluation.flagged()] == ["t-0"]
    assert evaluation.metrics == {"flagged_count": 1.0, "flagged_rate": pytest.approx(1 / 3),
                                  "match_count": 2.0}
    evidence = evaluation.flagged()[0].evidence
    assert evidence["personal_data_kinds"] == ["email", "payment_card"]
    assert evidence["personal_data"][1] == {"kind": "payment_card", "span": [43, 62],
                                            "masked": "**** **** **** 1111"}
    assert "jane.doe" not in json.dumps(evidence) and "4111 1111" not in json.dumps(evidence)


def test_kinds_parameter_restricts_the_search_and_is_checked() -> None:
    evaluation = PersonalDataText(kinds=["email"]).evaluate(_set(TEXTS), None)
    assert evaluation.metrics["match_count"] == 1.0
    with pytest.raises(ConfigError, match=r"parameter 'kinds' of evaluator 'personal_data' names unknown "
                                          r"kind\(s\) \['passport'\]"):
        PersonalDataText(kinds=["passport"])


@pytest.mark.parametrize(("texts", "verdict", "code"), [(TEXTS[1:], "pass", 0), (TEXTS, "fail", 1)])
def test_policy_rule_passes_and_fails(tmp_path, texts: list[str], verdict: str, code: int) -> None:
    policy = tmp_path / "privacy.yaml"
    policy.write_text("version: 1\nname: privacy\nrules:\n  - id: privacy.personal_data\n"
                      "    evaluator: personal_data\n    metric: flagged_count\n    max: 0\n"
                      "    level: error\n", encoding="utf-8")
    result = run_audit(_set(texts), policy)
    assert result.report.verdict == verdict and result.exit_code() == code
    assert [f.item_id for f in result.report.findings] == (["t-0"] if code else [])
    if code:
        assert "payment_card **** **** **** 1111" in result.report.findings[0].message
