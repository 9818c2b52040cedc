"""The text_quality evaluator on Shakespeare: unseen passages read like the reference, shuffled
words read worse, a generator repeating one line has no diversity, and the reference scores the
best MAUVE against itself."""

import hashlib
import random

import numpy as np
import pytest

from aigc_audit.errors import InputError
from aigc_audit.evaluators.base import NOTE_COUNTS, NOTE_INFO, NOTE_TOO_FEW
from aigc_audit.evaluators.quality.text_quality import TextQuality
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import apply_rule, evaluation_key, run_audit
from aigc_audit.governance.status import FAIL, PASS, SKIP
from tests.evaluators.quality.quality_sets import write_text_set

TRAIN_PLAYS = ["hamlet", "macbeth"]
HELD_OUT_PLAYS = ["the-tempest", "twelfth-night"]


def bag_of_words(texts):
    """A fake sentence embedding: hashed word counts, normalised. Fast and deterministic."""
    out = np.zeros((len(texts), 64))
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


class Memo:
    """The real MiniLM embeddings, each distinct text embedded once per test module."""

    def __init__(self):
        from aigc_audit.evaluators.features.text_embeddings import MiniLMEmbedder

        self.model, self.table = MiniLMEmbedder(), {}

    def __call__(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.table]
        if missing:
            self.table.update(zip(missing, self.model(missing)))
        return np.stack([self.table[t] for t in texts])


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    rng = random.Random(0)
    reference = [p.text for p in corpus_passages(TRAIN_PLAYS)]
    held = rng.sample([p.text for p in corpus_passages(HELD_OUT_PLAYS) if len(p.text.split()) >= 12], 100)
    shuffled = [" ".join(rng.sample(t.split(), len(t.split()))) for t in held]
    small = rng.sample([t for t in reference if len(t.split()) >= 12], 60)
    return {
        "root": root,
        "reference": write_text_set(root / "reference", reference, reference=True, prefix="ref"),
        "small_reference": write_text_set(root / "small", small, reference=True, prefix="small"),
        "held_out": write_text_set(root / "held", held, prefix="held"),
        "shuffled": write_text_set(root / "shuffled", shuffled, prefix="shuf"),
        "repeat": write_text_set(root / "repeat", [held[0]] * 100, prefix="rep"),
        "held_texts": held,
    }


@pytest.fixture(scope="module")
def minilm():
    return Memo()


@pytest.fixture(scope="module")
def real(sets, minilm):
    """Evaluations with the real embeddings, against 150 reference texts for MAUVE (shuffled words
    barely move a sentence embedding, so the shuffled set is judged on fluency alone)."""
    evaluator = TextQuality(embedder=minilm, mauve_reference_size=150, mauve_seeds=3)
    return {"held_out": evaluator.evaluate(sets["held_out"], sets["reference"]),
            "repeat": evaluator.evaluate(sets["repeat"], sets["reference"]),
            "shuffled": TextQuality(mauve=False).evaluate(sets["shuffled"], sets["reference"])}


def test_unseen_passages_read_like_the_reference_and_shuffled_ones_worse(real):
    held, shuffled = real["held_out"].metrics, real["shuffled"].metrics
    assert held["n_samples"] == 100 and held["n_reference"] > 2000
    assert 0.7 < held["perplexity_ratio"] < 1.6
    assert shuffled["perplexity"] > 1.5 * held["perplexity"]
    assert shuffled["reference_perplexity"] == held["reference_perplexity"]
    assert held["distinct_2"] > 0.8 and held["self_bleu"] < 0.2


def test_a_generator_repeating_one_line_has_no_diversity_and_a_low_mauve(real):
    repeat, held = real["repeat"].metrics, real["held_out"].metrics
    assert repeat["distinct_1"] < 0.05 and repeat["distinct_2"] < 0.05 and repeat["self_bleu"] > 0.99
    assert repeat["mauve"] < held["mauve"] - 0.3 and held["mauve"] > 0.5
    note = next(n for n in real["repeat"].notes
                if n.text.startswith("mauve: computed on 100 generated vs 150"))
    assert note.kind == NOTE_COUNTS
    assert "a seeded random subset of" in note.text and "per seed" in note.text


def test_the_reference_scores_the_best_mauve_against_itself(sets, minilm):
    evaluator = TextQuality(embedder=minilm, mauve_seeds=3)
    small = sets["small_reference"]
    scores = {name: evaluator.evaluate(samples, small).metrics["mauve"]
              for name, samples in (("itself", small), ("held_out", sets["held_out"]),
                                    ("repeat", sets["repeat"]))}
    assert scores["itself"] == pytest.approx(1.0)
    assert scores["itself"] > scores["held_out"] > scores["repeat"]


def test_default_policy_quality_rules(real):
    rules = {r.metric: r for r in load_policy("default").rules if r.evaluator == TextQuality.name}
    assert rules and all(r.level == "warning" for r in rules.values())

    def status(name, metric):
        return apply_rule(rules[metric], evaluation_key(rules[metric]), real[name])[0].status

    assert {status("held_out", m) for m in rules} == {PASS}
    assert status("shuffled", "perplexity_ratio") == FAIL
    assert status("repeat", "self_bleu") == FAIL and status("repeat", "mauve") == FAIL


def test_each_item_scores_its_own_perplexity(sets):
    evaluation = TextQuality(embedder=bag_of_words).evaluate(sets["held_out"], sets["reference"])
    assert len(evaluation.items) == 100 and not any(r.flagged for r in evaluation.items)
    worst = evaluation.worst(1)[0]
    assert worst.score == max(r.score for r in evaluation.items)
    assert worst.evidence["perplexity"] == pytest.approx(worst.score, abs=1e-3)
    assert TextQuality.describe(worst).startswith(f"perplexity {worst.score:.1f} over ")


def test_too_few_samples_skip_the_rules_with_the_reason(sets, tmp_path):
    few = write_text_set(tmp_path / "few", sets["held_texts"][:5])
    evaluation = TextQuality(embedder=bag_of_words).evaluate(few, sets["reference"])
    assert evaluation.metrics == {}
    assert evaluation.skip_reason == ("too few samples: 5 generated text(s), fewer than min_samples=20; "
                                      "no text quality metric computed")
    # The reason is also an info note; only metrics computed on too few samples are too_few notes.
    assert [(n.kind, n.text) for n in evaluation.notes] == [(NOTE_INFO, evaluation.skip_reason)]
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - id: quality.text.mauve\n    evaluator: text_quality\n"
                      "    metric: mauve\n    min: 0.5\n    level: warning\n")
    rule = run_audit(few, policy, reference=sets["reference"]).report.rules[0]
    assert rule.status == SKIP and "min_samples=20" in rule.reason


def test_small_sets_are_computed_with_a_warning(sets, tmp_path):
    samples = write_text_set(tmp_path / "s", sets["held_texts"][:25])
    evaluation = TextQuality(embedder=bag_of_words).evaluate(samples, sets["reference"])
    assert evaluation.metrics["n_samples"] == 25
    too_few = [n.text for n in evaluation.notes if n.kind == NOTE_TOO_FEW]
    assert any(n.startswith("too few samples for mauve: 25 < 100") for n in too_few)
    assert any(n.startswith("too few samples for perplexity") for n in too_few)
    counts = [n.text for n in evaluation.notes if n.kind == NOTE_COUNTS]
    assert any(n.startswith("distinct_1/2/3, self_bleu: computed on 25 generated texts") for n in counts)
    assert not any(n.startswith("too few samples") for n in counts)


def test_mauve_can_be_switched_off(sets):
    evaluation = TextQuality(mauve=False).evaluate(sets["held_out"], sets["reference"])
    assert "mauve" not in evaluation.metrics and "perplexity" in evaluation.metrics


def test_a_missing_language_model_folder_is_an_input_error(sets, tmp_path):
    with pytest.raises(InputError, match="config.json missing"):
        TextQuality(lm=str(tmp_path), mauve=False).evaluate(sets["held_out"], sets["reference"])


def test_the_markdown_report_lists_sample_size_warnings(sets, tmp_path, monkeypatch):
    from aigc_audit.governance.reports.markdown import render

    monkeypatch.setenv("AIGC_AUDIT_CACHE", str(tmp_path / "cache"))

    samples = write_text_set(tmp_path / "s", sets["held_texts"][:25])
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - id: quality.text.mauve\n    evaluator: text_quality\n"
                      "    metric: mauve\n    min: 0.1\n    level: warning\n"
                      "    params: {mauve_reference_size: 40, mauve_seeds: 2}\n")
    report = render(run_audit(samples, policy, reference=sets["reference"]).report)
    assert "## Sample-size warnings" in report
    assert "- `text_quality`: too few samples for mauve: 25 < 100" in report
