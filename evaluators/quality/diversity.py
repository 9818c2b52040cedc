"""Diversity of generated texts: distinct-n and self-BLEU.

- distinct-n, as the n-gram type-token ratio over the whole set: the number of distinct n-grams
  divided by the number of n-grams, both counted over all texts together (an n-gram never spans
  two texts). Near 0 for a generator that repeats itself, exactly 1 when no n-gram recurs. This is
  *not* the ratio Li et al. (2016) print, which divides by the number of tokens instead: for n > 1
  theirs is lower by the factor (n-grams / tokens) and stays below 1 even when nothing recurs.
- self-BLEU (Zhu et al., 2018, Texygen): the sentence BLEU of each text with every *other* text
  as its references, averaged; near 1 for a generator that repeats itself. A text is never its own
  reference.

Self-BLEU reproduces, to rounding, what Texygen's ``SelfBleu`` computes through NLTK:
``nltk.translate.bleu_score.sentence_bleu(others, text, weights=(1/N,) * N,
smoothing_function=SmoothingFunction().method1)`` with N = ``max_order`` (4 by default), checked
against NLTK 3.10.4 in the tests. Its definition, case by case:

- p_n is the clipped n-gram precision: each n-gram of the text counts at most as often as it
  occurs in the one other text that holds it most often, over the text's number of n-grams.
- A text that shares no word with any other text (no clipped unigram) scores 0, as does an empty
  text.
- Otherwise an order with no clipped match counts as ``epsilon / max(1, n-grams)`` with epsilon
  0.1 ("method 1" of Chen and Cherry, 2014). A text shorter than N tokens has no n-grams of the
  longer orders; each such order counts as 0.1 / 1 (NLTK's denominator is at least 1), so a short
  text scores lower than it would with those orders left out.
- BLEU = BP * exp(sum of log(p_n) / N); the brevity penalty BP is exp(1 - r / c) when the text's
  length c is at most r, the length of the other text closest to it (ties: the shorter), else 1.

Self-BLEU is exact but not quadratic: BLEU needs, for each n-gram of a text, its largest count
in any other text, which is the n-gram's largest count overall unless the text itself holds
that maximum, in which case it is the second largest. Keeping the two largest counts per n-gram
(and which text holds the largest) makes the whole computation linear in the number of n-grams,
plus one search of the sorted lengths per text for the brevity penalty.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# NLTK's SmoothingFunction(epsilon=0.1).method1: the count an order with no match is given.
EPSILON = 0.1


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(token_lists: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams over all n-grams of all texts (the n-gram type-token ratio of the set; see
    the module docstring for how it differs from Li et al., 2016); 0 when there are no n-grams."""
    total, seen = 0, set()
    for tokens in token_lists:
        grams = ngrams(tokens, n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], *,
                  max_order: int = 4) -> float:
    """Sentence BLEU as NLTK computes it with method-1 smoothing, one pair at a time: the plain
    reference the fast :func:`self_bleu` is checked against."""
    if not hypothesis or not references:
        return 0.0
    max_ref: Counter = Counter()
    for ref in references:
        for n in range(1, max_order + 1):
            for gram, count in Counter(ngrams(ref, n)).items():
                max_ref[gram] = max(max_ref[gram], count)
    clipped, totals = [0] * max_order, [0] * max_order
    for n in range(1, max_order + 1):
        for gram, count in Counter(ngrams(hypothesis, n)).items():
            clipped[n - 1] += min(count, max_ref[gram])
            totals[n - 1] += count
    ref_len = min((len(r) for r in references), key=lambda length: (abs(length - len(hypothesis)), length))
    return _bleu(clipped, totals, len(hypothesis), ref_len)


def _bleu(clipped: Sequence[int], totals: Sequence[int], hyp_len: int, ref_len: int) -> float:
    """BLEU from the clipped matches and n-gram counts per order, in NLTK's order of operations."""
    if not clipped[0]:  # no word shared with any reference (or an empty hypothesis)
        return 0.0
    weight = 1.0 / len(clipped)
    # An order with no match is smoothed to epsilon over its n-gram count, floored at 1 as NLTK's
    # modified precision floors its denominator: an order longer than the hypothesis counts 0.1.
    log_sum = math.fsum(weight * math.log(c / t if c else EPSILON / max(1, t))
                        for c, t in zip(clipped, totals))
    brevity = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return brevity * math.exp(log_sum)


@dataclass(frozen=True)
class SelfBleu:
    mean: float
    per_sample: np.ndarray  # (N,) each sample's BLEU against all the others


def self_bleu(token_lists: Sequence[Sequence[str]], *, max_order: int = 4) -> SelfBleu:
    """Each text's BLEU (see the module docstring) with all other texts as its references, and
    their mean; needs at least 2 texts."""
    n_texts = len(token_lists)
    if n_texts < 2:
        raise ValueError(f"self-BLEU needs at least 2 texts; got {n_texts}")
    counts = [Counter(g for n in range(1, max_order + 1) for g in ngrams(tokens, n))
              for tokens in token_lists]
    # n-gram -> [largest count, index of the text holding it, second largest count]
    top: dict[tuple[str, ...], list[int]] = {}
    for index, grams in enumerate(counts):
        for gram, count in grams.items():
            entry = top.get(gram)
            if entry is None:
                top[gram] = [count, index, 0]
            elif count > entry[0]:
                entry[2], entry[0], entry[1] = entry[0], count, index
            elif count > entry[2]:
                entry[2] = count
    lengths = sorted(len(t) for t in token_lists)
    scores = np.empty(n_texts)
    for index, (tokens, grams) in enumerate(zip(token_lists, counts)):
        clipped, totals = [0] * max_order, [0] * max_order
        for gram, count in grams.items():
            best, holder, second = top[gram]
            others = second if holder == index else best
            clipped[len(gram) - 1] += min(count, others)
            totals[len(gram) - 1] += count
        scores[index] = _bleu(clipped, totals, len(tokens), _closest_other_length(lengths, len(tokens)))
    return SelfBleu(float(scores.mean()), scores)


def _closest_other_length(lengths: list[int], own: int) -> int:
    """The length closest to ``own`` among the other texts (ties: the shorter), given the sorted
    lengths of all texts including this one."""
    position = bisect.bisect_left(lengths, own)  # our own length's first occurrence
    # Without that one occurrence, the closest others are its two neighbours in sorted order.
    candidates = [lengths[i] for i in (position - 1, position + 1) if 0 <= i < len(lengths)]
    return min(candidates, key=lambda length: (abs(length - own), length))
