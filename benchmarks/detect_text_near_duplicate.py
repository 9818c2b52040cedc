"""Detection quality of the text near-duplicate check on planted copies.

Training passages from four plays are copied with a known share of words replaced; passages from
two other plays are the unrelated texts of the same domain. Prints recall per edit share (among
copies whose true Jaccard is at or above the threshold) and the false-positive rate.

    .venv/bin/python benchmarks/detect_text_near_duplicate.py [--threshold 0.5] [--per-share 200]
"""

from __future__ import annotations

import argparse
import random

from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, jaccard, word_shingles, words
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.sampleset import REFERENCE, text_set

SHARES = (0.0, 0.02, 0.05, 0.08, 0.12, 0.2, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--per-share", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    training = [p.text for p in corpus_passages(["hamlet", "macbeth", "othello", "king-lear"])
                if len(p.text.split()) >= 25]
    unrelated = [p.text for p in corpus_passages(["the-tempest", "twelfth-night", "henry-v"])
                 if len(p.text.split()) >= 25]
    vocabulary = sorted({w for t in training for w in t.split()})
    planted, truths, shares = [], [], []
    for share in SHARES:
        for source in rng.sample(training, args.per_share):
            tokens = source.split()
            for index in rng.sample(range(len(tokens)), int(round(share * len(tokens)))):
                tokens[index] = rng.choice(vocabulary)
            text = " ".join(tokens)
            planted.append(text)
            shares.append(share)
            truths.append(jaccard(word_shingles(words(text).tokens, 5),
                                  word_shingles(words(source).tokens, 5)))
    negatives = rng.sample(unrelated, min(1000, len(unrelated)))
    result = TextNearDuplicate(threshold=args.threshold).evaluate(
        text_set(planted + negatives, prefix="s"), text_set(training, role=REFERENCE, prefix="r"))
    flags = [r.flagged for r in result.items]
    print(f"{len(training)} training passages; threshold {args.threshold}; "
          f"{result.notes[0]}")
    print("edited share | copies | true J >= threshold | found | recall")
    total_at, total_found = 0, 0
    for share in SHARES:
        rows = [i for i, s in enumerate(shares) if s == share]
        at = [i for i in rows if truths[i] >= args.threshold]
        found = [i for i in at if flags[i]]
        total_at, total_found = total_at + len(at), total_found + len(found)
        recall = f"{len(found) / len(at):.3f}" if at else "n/a"
        print(f"{share:12.2f} | {len(rows):6d} | {len(at):19d} | {len(found):5d} | {recall}")
    below = [i for i, t in enumerate(truths) if t < args.threshold]
    print(f"overall recall at true J >= threshold: {total_found}/{total_at} = {total_found / total_at:.4f}")
    print(f"copies below the threshold flagged: {sum(flags[i] for i in below)}/{len(below)} "
          "(must be 0: the similarity is exact)")
    fp = sum(flags[len(planted):])
    print(f"unrelated passages flagged: {fp}/{len(negatives)} = {fp / len(negatives):.4f}")


if __name__ == "__main__":
    main()
