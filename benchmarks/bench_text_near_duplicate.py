"""Text near-duplicate audit: 1,000 generated texts against 10,000 training texts.

Runs, in one process, the evaluator (MinHash + LSH + exact Jaccard of candidates) and the baseline
(exact Jaccard of every pair), checks that both flag the same items, and prints the ratio.

    .venv/bin/python benchmarks/bench_text_near_duplicate.py [--samples 1000] [--reference 10000]
"""

from __future__ import annotations

import argparse
import random
import time

from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, jaccard, word_shingles, words
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.sampleset import REFERENCE, text_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=10000)
    args = parser.parse_args()
    rng = random.Random(0)
    passages = [p.text for p in corpus_passages() if len(p.text.split()) >= 8]
    rng.shuffle(passages)
    reference_texts = passages[:args.reference]
    held_out = passages[args.reference:]
    # One sample in ten copies a training passage with a word changed; the rest are unseen passages.
    sample_texts = []
    for i in range(args.samples):
        if i % 10 == 0:
            tokens = rng.choice(reference_texts).split()
            tokens[rng.randrange(len(tokens))] = "verily"
            sample_texts.append(" ".join(tokens))
        else:
            sample_texts.append(held_out[i])
    samples = text_set(sample_texts, prefix="s")
    reference = text_set(reference_texts, role=REFERENCE, prefix="r")

    started = time.perf_counter()
    result = TextNearDuplicate(threshold=0.5, shingle_size=5).evaluate(samples, reference)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    ref_shingles = [word_shingles(words(t).tokens, 5) for t in reference_texts]
    baseline_flags = []
    for text in sample_texts:
        shingles = word_shingles(words(text).tokens, 5)
        best = max((jaccard(shingles, r) for r in ref_shingles if shingles & r), default=0.0)
        baseline_flags.append(best >= 0.5)
    baseline = time.perf_counter() - started

    ours_flags = [r.flagged for r in result.items]
    agree = sum(a == b for a, b in zip(ours_flags, baseline_flags))
    print(f"{args.samples} samples x {args.reference} reference texts (threshold 0.5, 5-word shingles)")
    print(f"  aigc-audit (MinHash LSH + exact check): {ours:8.2f} s, flagged {sum(ours_flags)}")
    print(f"  baseline (exact Jaccard, all pairs):     {baseline:8.2f} s, flagged {sum(baseline_flags)}")
    print(f"  agreement on flags: {agree}/{args.samples}; speed-up: {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
