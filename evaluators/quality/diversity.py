"""Diversity of generated texts: distinct-n and self-BLEU.

- distinct-n (Li et al., 2016): distinct n-grams over all n-grams in the whole sample set; near 0
  for a generator that repeats itself, near 1 when no n-gram recurs.
- self-BLEU (Zhu et al., 2018, Texygen): the BLEU of each sample with every *other* sample as its
  references, averaged; near 1 for a generator that repeats itself. A sample is never its own
  reference.

Self-BLEU is exact but not quadratic: BLEU needs, for each n-gram of a sample, its largest count
in any other sample, which is the n-gram's largest count overall unless the sample itself holds
that maximum, in which case it is the second largest. Keeping the two largest counts per n-gram
(and which sample holds the largest) makes the whole computation linear in the number of n-grams,
plus one search of the sorted lengths per sample for the brevity penalty.

BLEU here is sentence BLEU with uniform weights up to ``max_order`` and the "method 1" smoothing
of Chen and Cherry (2014): a precision with no match counts as ``epsilon / total``, as Texygen's
self-BLEU does through NLTK.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPSILON = 0.1


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(token_lists: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams over all n-grams of all texts; 0 when there are no n-grams."""
    total, seen = 0, set()
    for tokens in token_lists:
        grams = ngrams(tokens, n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], *,
                  max_order: int = 4) -> float:
    """Plain sentence BLEU with method-1 smoothing (the per-pair reference implementation)."""
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
    # Orders longer than the hypothesis have no n-grams and are left out of the geometric mean.
    logs = [math.log((c if c else EPSILON) / t) for c, t in zip(clipped, totals) if t]
    if hyp_len == 0 or not logs:
        return 0.0
    brevity = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return brevity * math.exp(sum(logs) / len(logs))


@dataclass(frozen=True)
class SelfBleu:
    mean: float
    per_sample: np.ndarray  # (N,) each sample's BLEU against all the others


def self_bleu(token_lists: Sequence[Sequence[str]], *, max_order: int = 4) -> SelfBleu:
    """Each text's BLEU with all other texts as references; needs at least 2 texts."""
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
