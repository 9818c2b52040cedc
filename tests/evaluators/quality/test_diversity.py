"""Diversity: distinct-n by hand, self-BLEU against a per-pair reference implementation, and a
generator that repeats one line."""

import random

import numpy as np
import pytest

from aigc_audit.evaluators.quality.diversity import distinct_n, self_bleu, sentence_bleu


def test_distinct_n_by_hand():
    texts = [["a", "b", "a", "b"]]
    assert distinct_n(texts, 1) == pytest.approx(2 / 4)
    assert distinct_n(texts, 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n(texts, 3) == pytest.approx(2 / 2)  # aba, bab
    assert distinct_n([["a"]], 2) == 0.0


def test_a_generator_repeating_one_line_has_near_zero_diversity():
    line = "now is the winter of our discontent made glorious summer".split()
    texts = [line] * 100
    assert distinct_n(texts, 1) == pytest.approx(10 / 1000)
    assert distinct_n(texts, 2) == pytest.approx(9 / 900)
    assert self_bleu(texts).mean == pytest.approx(1.0)


def test_self_bleu_matches_the_per_pair_computation():
    rng = random.Random(0)
    vocabulary = "a b c d e f g h".split()
    texts = [[rng.choice(vocabulary) for _ in range(rng.randint(0, 12))] for _ in range(40)]
    texts += [["a", "b", "c"]] * 3 + [["x"]]
    fast = self_bleu(texts, max_order=4)
    for i, tokens in enumerate(texts):
        expected = sentence_bleu(tokens, texts[:i] + texts[i + 1:], max_order=4)
        assert fast.per_sample[i] == pytest.approx(expected, abs=1e-12)


def test_a_sample_is_never_its_own_reference():
    texts = [["the", "quick", "brown", "fox", "jumps"],
             ["colourless", "green", "ideas", "sleep", "furiously"]]
    result = self_bleu(texts)
    assert result.mean < 0.05  # against itself each would score 1
    with pytest.raises(ValueError, match="at least 2 texts; got 1"):
        self_bleu(texts[:1])


def test_sentence_bleu_by_hand():
    hypothesis = "the cat sat on the mat".split()
    assert sentence_bleu(hypothesis, [hypothesis]) == pytest.approx(1.0)
    reference = "the cat sat on a mat".split()
    # Clipped matches: unigrams 5/6, bigrams 3/5, trigrams 2/4, 4-grams 1/3.
    assert sentence_bleu(hypothesis, [reference]) == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    # No trigram or 4-gram matches: each is smoothed to 0.1 / total.
    other = "the cat is on the mat".split()
    expected = (4 / 6 * 1 / 5 * 0.1 / 4 * 0.1 / 3) ** 0.25
    assert sentence_bleu(other, [reference]) == pytest.approx(expected)
    # Brevity penalty: a hypothesis shorter than the closest reference.
    assert sentence_bleu(["the", "cat"], [reference]) == pytest.approx(np.exp(1 - 6 / 2))
    assert sentence_bleu([], [reference]) == 0.0
