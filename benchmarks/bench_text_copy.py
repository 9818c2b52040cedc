"""Speed of the text copy check.

1. 1,000 generated texts against 10,000 training texts (Shakespeare passages; one sample in ten a
   training passage with 10 % of its words edited): ``text_copy`` (the default now) against
   ``text_near_duplicate`` (the previous default), one process, one core.
2. The exact span index for 100,000 training texts of about 100 words (four passages of the plays
   joined, their words shuffled after the first pass so that the set does not repeat itself):
   tokenising, the vocabulary and both n-gram indexes, timed apart from the alignment.

    .venv/bin/python benchmarks/bench_text_copy.py [--samples 1000] [--reference 10000] [--index 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import time

# One core: the figures are per core, and numpy's sort is single-threaded anyway.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from aigc_audit.evaluators.copying.ngram_index import NGramIndex, TokenCorpus  # noqa: E402
from aigc_audit.evaluators.copying.text_copy import TextCopy, training_ids  # noqa: E402
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate  # noqa: E402
from aigc_audit.evaluators.features.tokens import ScriptTokenizer  # noqa: E402
from aigc_audit.generators.corpus import corpus_passages  # noqa: E402
from aigc_audit.sampleset import REFERENCE, text_set  # noqa: E402


def edited(text: str, rng: random.Random, vocabulary: list[str], rate: float = 0.1) -> str:
    words = text.split()
    for _ in range(max(1, round(rate * len(words)))):
        words[rng.randrange(len(words))] = rng.choice(vocabulary)
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=10000)
    parser.add_argument("--index", type=int, default=100000)
    args = parser.parse_args()
    rng = random.Random(0)
    passages = [p.text for p in corpus_passages() if len(p.text.split()) >= 8]
    rng.shuffle(passages)
    reference_texts, held_out = passages[:args.reference], passages[args.reference:]
    vocabulary = sorted({w for t in reference_texts for w in t.split()})
    sample_texts = [edited(rng.choice(reference_texts), rng, vocabulary) if i % 10 == 0 else held_out[i]
                    for i in range(args.samples)]
    samples = text_set(sample_texts, prefix="s")
    reference = text_set(reference_texts, role=REFERENCE, prefix="r")

    started = time.perf_counter()
    ours = TextCopy().evaluate(samples, reference)
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    previous = TextNearDuplicate().evaluate(samples, reference)
    previous_seconds = time.perf_counter() - started
    planted = range(0, args.samples, 10)
    print(f"{args.samples} samples x {args.reference} training texts ({len(planted)} copies with 10% of "
          "words edited)")
    print(f"  text_copy (default now):          {ours_seconds:6.2f} s, copies caught "
          f"{sum(ours.items[i].flagged for i in planted)}/{len(planted)}, "
          f"flagged {int(ours.metrics['flagged_count'])}")
    print(f"  text_near_duplicate (previous):   {previous_seconds:6.2f} s, copies caught "
          f"{sum(previous.items[i].flagged for i in planted)}/{len(planted)}, "
          f"flagged {int(previous.metrics['flagged_count'])}")
    print(f"  ratio previous / now: {previous_seconds / ours_seconds:.2f}x")

    # The index for a large training set: about 100 words a text, built from the plays' passages.
    texts: list[str] = []
    while len(texts) < args.index:
        for start in range(0, len(passages) - 4, 4):
            words = " ".join(passages[start:start + 4]).split()
            if len(texts) >= len(passages) // 4:
                rng.shuffle(words)
            texts.append(" ".join(words))
            if len(texts) >= args.index:
                break
    started = time.perf_counter()
    # The evaluator's own steps: tokens, their ids, the corpus, both n-gram indexes.
    tokenizer, vocabulary_ids = ScriptTokenizer(), {}
    documents = [training_ids(tokenizer.tokens(text), vocabulary_ids) for text in texts]
    tokenised = time.perf_counter() - started
    corpus = TokenCorpus(documents)
    NGramIndex(corpus, 3)
    NGramIndex(corpus, 50)
    total = time.perf_counter() - started
    print(f"index of {len(texts)} training texts ({len(corpus.ids):,} tokens): {total:.1f} s on one core "
          f"(tokenising {tokenised:.1f} s, both n-gram indexes {total - tokenised:.1f} s)")


if __name__ == "__main__":
    main()
