"""The text harm evaluator: the default classifier, odd input, metrics, and the default rules."""

import dataclasses
import json

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.base import NOTE_COUNTS
from aigc_audit.evaluators.harm.gate import clopper_pearson_upper
from aigc_audit.evaluators.harm.linear import LinearHarmHead, save_head
from aigc_audit.evaluators.harm.profanity import ProfanityClassifier
from aigc_audit.evaluators.harm.synthetic import synthetic_labelled_texts
from aigc_audit.evaluators.harm.text import HarmText
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit
from aigc_audit.sampleset import Item, SampleSet

OFFENSIVE = ["Shut up, you clueless moron.", "What a load of crap this forecast was.",
             "You are a pathetic loser and everyone knows it."]
BENIGN = ["Please remember to water the tomatoes while I am away.",
          "The committee approved the new timetable for the autumn term.",
          "Der Zug nach Berlin fährt um acht Uhr ab."]


def _set(texts, prefix="t"):
    items = tuple(Item(id=f"{prefix}-{i:03d}", modality="text", text=t) for i, t in enumerate(texts))
    return SampleSet(path=None, kind="test", role="samples", items=items, sha256="0")


def test_profanity_classifier_separates_clear_examples():
    scored = ProfanityClassifier().predict(OFFENSIVE + BENIGN)
    assert all(s.scores["profanity"] > 0.9 and s.labels["profanity"] == "offensive" for s in scored[:3])
    assert all(s.scores["profanity"] < 0.1 for s in scored[3:])
    assert all(s.scores["insult"] == s.scores["profanity"] for s in scored)  # one label, both categories
    assert ProfanityClassifier().version.startswith("alt-profanity-check==")


def test_items_metrics_and_evidence():
    evaluation = HarmText(category="profanity").evaluate(_set(OFFENSIVE + BENIGN), None)
    assert [r.flagged for r in evaluation.items] == [True] * 3 + [False] * 3
    assert evaluation.metrics["flagged_count"] == 3.0 and evaluation.metrics["flagged_rate"] == 0.5
    assert evaluation.metrics["flagged_rate_upper"] == pytest.approx(clopper_pearson_upper(3, 6, 0.95))
    evidence = evaluation.items[0].evidence
    assert evidence["label"] == "offensive" and evidence["classifier"] == "profanity"
    assert (evidence["classifier_version"].startswith("alt-profanity-check==")
            and evidence["text"] == OFFENSIVE[0])
    assert set(evidence["scores"]) == {"profanity", "insult"}
    assert HarmText.describe(evaluation.items[0]).startswith("profanity score 0.99")
    assert any("can pass only if L >= " in note.text for note in evaluation.notes)
    counts = [note.text for note in evaluation.notes if note.kind == NOTE_COUNTS]
    assert counts == ["3 of 6 item(s) flagged; one-sided 95% Clopper-Pearson upper bound on the rate: "
                      f"{clopper_pearson_upper(3, 6, 0.95):.4g}"]


def test_odd_input_gets_a_score_or_an_item_error_never_a_crash():
    texts = ["", "   ", "word " * 30000, "这是一个普通的句子。", "\x00\x01\x02\xff\ufffd junk \x7f",
             "lone surrogate \ud800 here", "🙂" * 50]
    evaluation = HarmText(max_chars=1000).evaluate(_set(texts), None)
    assert evaluation.errors == {} and len(evaluation.items) == len(texts)
    by_id = {r.item_id: r for r in evaluation.items}
    assert by_id["t-000"].score == 0.0 and by_id["t-000"].evidence["empty_text"] is True
    assert by_id["t-002"].evidence["truncated_to"] == 1000
    assert by_id["t-005"].evidence["replaced_invalid_characters"] is True
    assert all(0.0 <= r.score <= 1.0 for r in evaluation.items)
    assert any("scored on their beginning" in note.text for note in evaluation.notes)


def test_a_failing_item_is_reported_and_the_rest_are_scored():
    def predict_prob(texts):
        if any("boom" in t for t in texts):
            raise RuntimeError("tokeniser exploded")
        return [0.9 if "crap" in t else 0.1 for t in texts]

    evaluator = HarmText(classifier_factory=lambda: ProfanityClassifier(predict_prob=predict_prob))
    evaluation = evaluator.evaluate(_set(["crap", "boom", "fine"]), None)
    assert evaluation.errors == {
        "t-001": "profanity could not score this text: RuntimeError: tokeniser exploded"}
    assert [r.item_id for r in evaluation.items if r.flagged] == ["t-000"]
    assert evaluation.metrics["flagged_rate"] == 0.5 and evaluation.n_items == 3


def test_category_the_classifier_does_not_score_is_a_clear_error():
    with pytest.raises(AuditError, match=r"classifier 'profanity' .* does not score category 'S10'; it "
                                         r"scores \['profanity', 'insult'\]"):
        HarmText(category="S10").evaluate(_set(BENIGN), None)


def test_linear_head_needs_a_pinned_hash(tmp_path):
    rows = synthetic_labelled_texts(20, seed=3, noise=0.0)
    head = LinearHarmHead().fit([t for t, _ in rows], [frozenset() if c == "none" else frozenset([c])
                                                     for _, c in rows])
    sha = save_head(head, tmp_path / "head.json")
    samples = _set(["the driver threatened to stab the clerk on Monday", "the coach fixed the bicycle chain"])
    evaluation = HarmText(classifier="linear", category="S1", head=str(tmp_path / "head.json"),
                          head_sha256=sha).evaluate(samples, None)
    assert [r.flagged for r in evaluation.items] == [True, False]
    assert evaluation.items[0].evidence["classifier_version"].startswith(f"head sha256:{sha[:12]}")
    with pytest.raises(AuditError, match=r"without its sha256"):
        HarmText(classifier="linear", category="S1", head=str(tmp_path / "head.json")).evaluate(samples, None)
    with pytest.raises(AuditError, match=r"needs the parameter 'head'"):
        HarmText(classifier="linear", category="S1").evaluate(samples, None)


def test_empty_set_of_texts_is_skipped_by_the_rule():
    images = SampleSet(path=None, kind="t", role="samples", sha256="0",
                       items=(Item(id="i", modality="image", path=None),))
    evaluation = HarmText().evaluate(images, None)
    assert evaluation.n_items == 0 and evaluation.items == []


def _harm_rules(prefix: str):
    policy = load_policy("default")
    return dataclasses.replace(policy, rules=tuple(r for r in policy.rules if r.id.startswith(prefix)))


@pytest.fixture
def harm_policy():
    """The profanity rules (the built-in heads' rules have tests/governance/test_default_policy_harm.py)."""
    return _harm_rules("harm.text.profanity")


def test_default_harm_rules_pass_a_clean_release():
    clean = [f"Item {i}: the museum opens a new exhibition of maps in room {i}." for i in range(80)]
    result = run_audit(_set(clean), _harm_rules("harm."))
    statuses = {r.rule_id: r.status for r in result.report.rules}
    assert {k for k, v in statuses.items() if v != "pass"} == {"harm.image.s12"}  # no images: skipped
    assert {"harm.text.profanity", "harm.text.s1", "harm.text.s10.items", "harm.text.s12"} <= set(statuses)
    assert result.report.findings == ()


def test_default_harm_rules_fail_with_evidence(harm_policy):
    texts = [f"Item {i}: the museum opens a new exhibition of maps in room {i}." for i in range(76)]
    result = run_audit(_set(texts + OFFENSIVE + ["This damn printer jams every morning."]), harm_policy)
    statuses = {r.rule_id: (r.status, r.value) for r in result.report.rules}
    assert statuses["harm.text.profanity"][0] == "fail"
    assert statuses["harm.text.profanity"][1] == pytest.approx(clopper_pearson_upper(4, 80, 0.95))
    assert statuses["harm.text.profanity.items"] == ("pass", 0.05)  # observed 4/80 is at the limit
    flagged = [f for f in result.report.findings if f.rule_id == "harm.text.profanity.items"]
    assert len(flagged) == 4 and flagged[0].evidence["label"] == "offensive"
    assert json.dumps(result.report.to_dict())  # the report serialises


def test_small_sample_cannot_pass_by_luck(harm_policy):
    clean = [f"Item {i}: the museum opens a new exhibition of maps in room {i}." for i in range(58)]
    result = run_audit(_set(clean), harm_policy)
    gate = result.report.rule("harm.text.profanity")
    assert gate.status == "fail" and gate.value > 0.05  # 58 clean texts: the bound is still above 5%


def test_policy_validation_checks_harm_parameters(tmp_path):
    from aigc_audit.errors import PolicyError

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules:\n  - id: harm.x\n    evaluator: harm_text\n"
                    "    metric: flagged_rate_upper\n    max: 0.01\n    level: error\n    params:\n"
                    "      classifier: transformers\n      category: S10\n      label_map: {toxic: rude}\n")
    with pytest.raises(PolicyError, match=r"p.yaml:11: rules\[0\].params.label_map: label map of the "
                                          r"policy's label_map: label 'toxic': unknown harm category 'rude'"):
        load_policy(path)
    path.write_text(path.read_text().replace("S10", "S15").replace("rude", "S10"))
    with pytest.raises(PolicyError, match=r"params.category: must be one of \['S1', .*got 'S15'"):
        load_policy(path)
    path.write_text(path.read_text().replace("S15", "S10"))
    assert load_policy(path).rules[0].params["label_map"] == {"toxic": "S10"}
