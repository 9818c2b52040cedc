"""The policy applied item by item (``governance.item_check``), as the audit service uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigc_audit.evaluators.harm.text import HarmText
from aigc_audit.governance.item_check import ItemChecker
from aigc_audit.governance.policy import load_policy
from aigc_audit.sampleset import Item

POLICY = """version: 1
name: two-categories
rules:
  - id: harm.text.profanity.items
    evaluator: harm_text
    metric: flagged_rate
    max: 0.0
    level: warning
    params: {classifier: profanity, category: profanity}
  - id: harm.text.insult.items
    evaluator: harm_text
    metric: flagged_rate
    max: 0.0
    level: error
    params: {classifier: profanity, category: insult}
"""
HARMFUL = "You are a pathetic loser and everyone knows it, you clueless moron."
CLEAN = "A quiet river wanders through the meadow under a pale and patient moon"


def test_category_rules_share_one_classifier_and_score_each_check_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY, encoding="utf-8")
    scored: list[tuple[str, ...]] = []
    original = HarmText.score_items

    def counting(self, classifier, items, track):
        scored.append(tuple(i.id for i in items))
        return original(self, classifier, items, track)

    monkeypatch.setattr(HarmText, "score_items", counting)
    checker = ItemChecker(load_policy(policy_file))
    assert len(checker.evaluators) == 2
    result = checker.check([Item(id="bad", modality="text", text=HARMFUL),
                            Item(id="good", modality="text", text=CLEAN)])
    # Two category rules, one scoring of the request's items (a classifier per rule would score twice).
    assert scored == [("bad", "good")]
    verdicts = {i.item_id: (i.verdict, sorted(f.rule_id for f in i.findings)) for i in result.items}
    assert verdicts["good"] == ("pass", [])
    assert verdicts["bad"][0] in {"fail", "warn"} and verdicts["bad"][1]
    checker.check([Item(id="next", modality="text", text=CLEAN)])
    assert scored == [("bad", "good"), ("next",)]
