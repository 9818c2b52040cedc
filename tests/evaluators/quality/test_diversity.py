"""Diversity: distinct-n by hand, self-BLEU against values NLTK produces and against the per-pair
computation, and a generator that repeats one line."""

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


def test_distinct_n_divides_by_n_grams_counted_within_each_text():
    texts = [["a", "b", "a", "b"], ["b", "c", "a"]]  # 7 tokens
    # Bigrams: ab, ba, ab | bc, ca: 5 in all, 4 distinct; "b b" across the two texts is no bigram.
    # Li et al. (2016) divide by the 7 tokens instead: 4 / 7.
    assert distinct_n(texts, 2) == pytest.approx(4 / 5)
    # Trigrams: aba, bab | bca: 3 in all, all distinct, so exactly 1 (Li et al.: 3 / 7).
    assert distinct_n(texts, 3) == 1.0
    assert distinct_n(texts, 1) == pytest.approx(3 / 7)  # a, b, c over 7 unigrams
    assert distinct_n([], 1) == 0.0


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
    # NLTK 3.10.4, sentence_bleu with SmoothingFunction().method1, on the same 44 texts.
    assert fast.mean == pytest.approx(0.31552876389916845, rel=1e-12)
    assert fast.per_sample[0] == pytest.approx(0.35930411196308426, rel=1e-12)
    assert fast.per_sample[-1] == 0.0 and fast.per_sample[-2] == pytest.approx(0.5623413251903491, rel=1e-12)


def test_a_sample_is_never_its_own_reference():
    texts = [["the", "quick", "brown", "fox", "jumps"],
             ["colourless", "green", "ideas", "sleep", "furiously"]]
    result = self_bleu(texts)
    assert result.mean == 0.0  # no shared word; against itself each would score 1
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
    # Brevity penalty: a hypothesis shorter than the closest reference. Its 3- and 4-grams do not
    # exist, and each of those orders counts 0.1 / 1 (NLTK floors the n-gram count at 1).
    assert sentence_bleu(["the", "cat"], [reference]) == pytest.approx(
        np.exp(1 - 6 / 2) * (0.1 * 0.1) ** 0.25)
    assert sentence_bleu([], [reference]) == 0.0
    # No word shared with the reference: 0, not a smoothed 0.1 per order.
    assert sentence_bleu(["a", "dog", "ran", "off"], [["the", "cat", "sat"]]) == 0.0


# Reference values: NLTK 3.10.4 (Python 3.11.7), Texygen's self-BLEU definition, computed as
#   [nltk.translate.bleu_score.sentence_bleu(texts[:i] + texts[i + 1:], texts[i], (1 / N,) * N,
#                                            smoothing_function=SmoothingFunction().method1)
#    for i in range(len(texts))]
# with N = 4 unless stated. Each text is whitespace-split.
MIXED = ["to be or not to be that is the question", "whether tis nobler in the mind to suffer",
         "the slings and arrows of outrageous fortune", "or to take arms against a sea of troubles",
         "to be or not to be", "the mind is the question", "a sea of troubles and a sea of arrows",
         "fortune", "to die to sleep no more", "the question"]
NLTK_SELF_BLEU = {
    "disjoint": (["a b c d", "e f g h"], 4, [0.0, 0.0]),
    "a unique one-word text": (["x", "a b c d", "a b c e"], 4, [0.0, 0.3976353643835253, 0.3976353643835253]),
    "short texts": (["the cat", "the cat sat on the mat", "a dog sat"], 4,
                    [0.19180183554164504, 0.09554427922043669, 0.11362193664674995]),
    "identical": (["now is the winter of our discontent"] * 3, 4, [1.0, 1.0, 1.0]),
    "mixed": (MIXED, 4, [0.6580370064762462, 0.06500593260343691, 0.04939382737115371,
                         0.3303164318013807, 1.0, 0.25890539701513365, 0.3303164318013807,
                         0.06541924356118012, 0.048549177170732344, 0.316227766016838]),
    "mixed, BLEU-2": (MIXED, 2, [0.8366600265340756, 0.23145502494313785, 0.10910894511799621, 0.5,
                                 1.0, 0.6341861143397762, 0.5, 0.11633369384516798,
                                 0.08164965809277261, 1.0]),
}


@pytest.mark.parametrize("case", list(NLTK_SELF_BLEU))
def test_self_bleu_matches_nltk_with_method1_smoothing(case):
    texts, order, expected = NLTK_SELF_BLEU[case]
    result = self_bleu([t.split() for t in texts], max_order=order)
    assert result.per_sample.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert result.mean == pytest.approx(sum(expected) / len(expected), rel=1e-12, abs=1e-15)
    for i, text in enumerate(texts):  # the per-pair computation agrees as well
        others = [t.split() for j, t in enumerate(texts) if j != i]
        assert sentence_bleu(text.split(), others, max_order=order) == pytest.approx(expected[i], rel=1e-12,
                                                                                      abs=1e-15)


def test_a_text_sharing_no_word_scores_exactly_zero():
    texts = [t.split() for t in MIXED] + [["zebra", "quagga", "okapi", "tapir"]]
    assert self_bleu(texts).per_sample[-1] == 0.0
    assert self_bleu(texts[:-1] + [["zebra"]]).per_sample[-1] == 0.0
