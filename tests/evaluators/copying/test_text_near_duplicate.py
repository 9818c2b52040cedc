import random

import pytest

from aigc_audit.evaluators.base import NOTE_INFO
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, jaccard, word_shingles, words
from aigc_audit.evaluators.features.tokens import tokenize
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.sampleset import REFERENCE, SAMPLES, SampleSet, text_set


def _set(texts: list[str], role: str = SAMPLES, prefix: str = "s") -> SampleSet:
    return text_set(texts, role=role, prefix=prefix, license="public domain")


def test_shingles_and_exact_jaccard_by_hand():
    a = word_shingles(words("the cat sat on the mat").tokens, 2)
    b = word_shingles(words("The cat sat on a mat!").tokens, 2)
    assert a == {"the cat", "cat sat", "sat on", "on the", "the mat"}
    assert jaccard(a, b) == pytest.approx(3 / 7)  # shared: the cat, cat sat, sat on
    assert word_shingles(("short",), 5) == {"short"}
    assert word_shingles((), 5) == frozenset()


def test_words_are_the_package_tokens_with_spans_into_the_original_text():
    text = "Don't  STOP, the cat's\tmat—ok?"
    w = words(text)
    assert list(w.tokens) == tokenize(text) == ["don't", "stop", "the", "cat's", "mat", "ok"]
    assert [text[s:e] for s, e in w.spans] == ["Don't", "STOP", "the", "cat's", "mat", "ok"]


def test_notes_are_typed_and_say_the_lsh_bands_and_an_empty_reference():
    result = TextNearDuplicate().evaluate(_set(["a b c d e f"]), None)
    assert [n.kind for n in result.notes] == [NOTE_INFO, NOTE_INFO]
    assert result.notes[0].text.startswith("LSH with ") and "a pair at Jaccard 0.5" in result.notes[0].text
    assert result.notes[1].text == "the reference set holds no text items; nothing can be a copy"
    assert [r.flagged for r in result.items] == [False]


def test_reported_similarity_is_exact_and_names_the_source():
    reference = _set(["alpha beta gamma delta epsilon zeta eta theta iota kappa",
                      "one two three four five six seven eight nine ten"], REFERENCE, "r")
    samples = _set(["alpha beta gamma delta epsilon zeta eta theta iota lambda", "nothing alike here at all"])
    result = TextNearDuplicate(threshold=0.5, shingle_size=3).evaluate(samples, reference)
    hit, miss = result.items
    truth = jaccard(word_shingles(words(samples.items[0].text).tokens, 3),
                    word_shingles(words(reference.items[0].text).tokens, 3))
    assert hit.score == pytest.approx(truth) and hit.flagged
    assert hit.evidence["match_id"] == "r-0" and hit.evidence["match_source"] == "r #0"
    assert hit.evidence["match_license"] == "public domain"
    shared = hit.evidence["shared"][0]
    assert shared["text"] == "alpha beta gamma delta epsilon zeta eta theta iota"
    assert samples.items[0].text[slice(*shared["sample_span"])] == shared["text"]
    assert not miss.flagged and miss.score == 0.0
    assert result.metrics == {"share_flagged": 0.5, "flagged_count": 1.0, "max_similarity": hit.score}


def test_injected_hash_function_is_used():
    calls = []

    def fake_hash(data: bytes) -> int:
        calls.append(data)
        return sum(data) % (1 << 32)

    reference = _set(["a b c d e f"], REFERENCE, "r")
    TextNearDuplicate(hashfunc=fake_hash, shingle_size=2).evaluate(_set(["a b c d e f"]), reference)
    assert b"a b" in calls


def _edit(tokens: list[str], share: float, vocabulary: list[str], rng: random.Random) -> list[str]:
    edited = list(tokens)
    for index in rng.sample(range(len(tokens)), int(round(share * len(tokens)))):
        edited[index] = rng.choice(vocabulary)
    return edited


def test_planted_near_duplicates_found_and_unrelated_texts_not_flagged():
    """Copies of training passages with a known share of words edited must be found (recall
    >= 0.95 among those whose true Jaccard is at the threshold or above), and passages from plays
    that are not in the training set must not be flagged."""
    rng = random.Random(0)
    training = [p for p in corpus_passages(["hamlet", "macbeth", "othello", "king-lear"])
                if len(p.text.split()) >= 25]
    unrelated = [p for p in corpus_passages(["the-tempest", "twelfth-night"]) if len(p.text.split()) >= 25]
    vocabulary = sorted({w for p in training for w in p.text.split()})
    planted_sources = rng.sample(training, 300)
    planted = [" ".join(_edit(p.text.split(), rng.choice([0.0, 0.02, 0.05, 0.08, 0.12, 0.2]),
                              vocabulary, rng)) for p in planted_sources]
    reference = _set([p.text for p in training], REFERENCE, "r")
    samples = _set(planted + [p.text for p in rng.sample(unrelated, 300)])

    evaluator = TextNearDuplicate(threshold=0.5, shingle_size=5)
    result = evaluator.evaluate(samples, reference)
    by_id = {r.item_id: r for r in result.items}
    truths = [jaccard(word_shingles(words(text).tokens, 5), word_shingles(words(src.text).tokens, 5))
              for text, src in zip(planted, planted_sources)]
    at_threshold = [i for i, t in enumerate(truths) if t >= 0.5]
    found = [i for i in at_threshold if by_id[f"s-{i}"].flagged]
    assert len(at_threshold) > 150
    assert len(found) / len(at_threshold) >= 0.95
    false_positives = [r for r in result.items[300:] if r.flagged]
    assert len(false_positives) / 300 <= 0.01
