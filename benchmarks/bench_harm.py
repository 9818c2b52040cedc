"""Harm classifiers: per-text and per-image latency, and the trainable classifier's held-out figures.

Runs in one process: a word-list filter (the baseline a naive release check would use), the
default profanity classifier, the trainable head on TF-IDF and on MiniLM features, and NudeNet on
images when the optional extra is installed. Latency is measured through the evaluators on warm
models (the one-off load time is printed separately) and reported per item with its ratio to the
word-list baseline. The held-out precision, recall and ROC AUC come from the synthetic labelled set
of ``evaluators.harm.synthetic`` (25% held out).

    .venv/bin/python benchmarks/bench_harm.py [--texts 2000] [--images 40] [--no-minilm]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from aigc_audit.evaluators.harm.classifier import HarmCache
from aigc_audit.evaluators.harm.linear import save_head, train_with_held_out
from aigc_audit.evaluators.harm.synthetic import synthetic_labelled_texts
from aigc_audit.evaluators.harm.text import HarmText
from aigc_audit.sampleset import IMAGE, TEXT, Item, SampleSet

WORDS = re.compile(r"\b(damn|crap|hell|bloody|idiot|moron|fool|loser|stupid)\b", re.IGNORECASE)


def _set(items: list[Item]) -> SampleSet:
    return SampleSet(path=None, kind="bench", role="samples", items=tuple(items), sha256="0")


def _timed(make, samples: SampleSet) -> tuple[float, float]:
    """(first call seconds, including model load; per-item seconds of a second, warm call).
    ``make(cache)`` builds the evaluator; both calls share one cache, so the second finds the
    model loaded."""
    cache = HarmCache()
    started = time.perf_counter()
    make(cache).evaluate(samples, None)
    first = time.perf_counter() - started
    cache.scores.clear()  # the warm run must score again, not read the cached scores
    started = time.perf_counter()
    make(cache).evaluate(samples, None)
    return first, (time.perf_counter() - started) / len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--per-category", type=int, default=100, help="synthetic rows per category")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM-feature head")
    args = parser.parse_args()

    rows = synthetic_labelled_texts(args.per_category, seed=0, noise=0.03)
    texts = [t for t, _ in rows]
    labels = [frozenset() if c == "none" else frozenset([c]) for _, c in rows]
    bench_texts = [texts[i % len(texts)] + f" ({i})" for i in range(args.texts)]
    samples = _set([Item(id=f"t{i}", modality=TEXT, text=t) for i, t in enumerate(bench_texts)])

    started = time.perf_counter()
    baseline_flags = [bool(WORDS.search(t)) for t in bench_texts]
    baseline = (time.perf_counter() - started) / len(bench_texts)
    print(f"{len(bench_texts)} texts; word-list baseline: {baseline * 1e6:.2f} us/text "
          f"({sum(baseline_flags)} flagged)")

    lines = []
    first, per = _timed(lambda cache: HarmText(category="profanity", cache=cache), samples)
    lines.append(("profanity (alt-profanity-check)", first, per))

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for features in ("tfidf",) + (() if args.no_minilm else ("minilm",)):
            started = time.perf_counter()
            head, held_out = train_with_held_out(texts, labels, features=features, test_size=0.25, seed=0)
            train_seconds = time.perf_counter() - started
            figures[features] = (held_out, train_seconds)
            path = Path(tmp) / f"{features}.json"
            sha = save_head(head, path)
            first, per = _timed(lambda cache, path=path, sha=sha: HarmText(
                classifier="linear", category="S1", head=str(path), head_sha256=sha, cache=cache), samples)
            lines.append((f"linear head, {features} features", first, per))

    print(f"\n{'text classifier':36s} {'first call (load)':>18s} {'per text':>12s} {'x baseline':>11s}")
    for name, first, per in lines:
        print(f"{name:36s} {first:17.2f}s {per * 1e3:10.3f}ms {per / baseline:10.0f}x")

    print(f"\nheld-out figures on the synthetic set ({len(rows)} rows, 25% held out, threshold 0.5)")
    for features, (held_out, seconds) in figures.items():
        print(f"  {features} features (train + held-out evaluation + refit: {seconds:.1f}s)")
        print(f"    {'category':10s} {'pos':>4s} {'neg':>4s} {'precision':>10s} "
              f"{'recall':>7s} {'ROC AUC':>8s}")
        for f in held_out:
            print(f"    {f.category:10s} {f.n_test_positive:4d} {f.n_test_negative:4d} {f.precision:10.3f} "
                  f"{f.recall:7.3f} {f.roc_auc:8.3f}")

    try:
        import nudenet  # noqa: F401
    except ImportError:
        print("\nimages: nudenet (optional extra 'nsfw') is not installed; per-image latency skipped")
        return
    from aigc_audit.evaluators.harm.image import HarmImage

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for i in range(args.images):
            path = Path(tmp) / f"{i}.png"
            Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)).save(path)
            items.append(Item(id=f"i{i}", modality=IMAGE, path=path))
        images = _set(items)
        started = time.perf_counter()
        for item in items:
            np.asarray(Image.open(item.path).convert("RGB"))
        decode = (time.perf_counter() - started) / len(items)
        first, per = _timed(lambda cache: HarmImage(cache=cache), images)
    print(f"\nimages (512x512 PNG): decode-only baseline {decode * 1e3:.2f} ms/image; nudenet "
          f"{per * 1e3:.1f} ms/image ({per / decode:.0f}x), first call with model load {first:.2f}s")


if __name__ == "__main__":
    main()
