"""Quality step: runtime of image_quality and text_quality, cold (empty cache) and warm.

Images: generated images (default: 500 digits drawn from the set) against scikit-learn's 1,797
digits as 16x16 PNGs. Text: 100 passages of held-out plays (or a sample set you pass) against the
six tragedies the demo's GPT trains on. Cold runs train the domain CNN and embed the reference
texts; warm runs load both from the cache (and, in one process, reuse the fitted n-gram model and
the loaded embedding model), as a second release audited against the same reference does.

Also times three kernels against their baselines in the same process and prints the ratios:
self-BLEU (two largest counts per n-gram vs BLEU of every pair), the Fréchet distance (symmetric
eigendecompositions vs scipy.linalg.sqrtm) and MAUVE's k-means (one thread vs the default).

    .venv/bin/python benchmarks/bench_quality.py [--image-samples DIR] [--text-samples DIR]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

TRAINING_PLAYS = ["hamlet", "macbeth", "othello", "king-lear", "romeo-and-juliet", "julius-caesar"]
HELD_OUT_PLAYS = ["the-tempest", "twelfth-night"]


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _best_of(fn, repeats: int = 3):
    """The fastest of ``repeats`` runs: a kernel's time without first-call warm-up."""
    runs = [_timed(fn) for _ in range(repeats)]
    return runs[0][0], min(seconds for _, seconds in runs)


def _digit_sets(root: Path, samples: int) -> tuple[Path, Path]:
    from PIL import Image
    from sklearn.datasets import load_digits

    from aigc_audit.sampleset import write_manifest

    data = load_digits()
    raw = np.rint(data.images / 16 * 255).astype(np.uint8)
    images = [Image.fromarray(x).resize((16, 16), Image.Resampling.BILINEAR) for x in raw]
    for name, indices in (("reference", range(len(images))),
                          ("samples", np.random.default_rng(0).choice(len(images), samples, replace=False))):
        (root / name / "images").mkdir(parents=True)
        records = []
        for i in indices:
            images[i].save(root / name / "images" / f"{i}.png")
            record = {"id": f"d{i}", "modality": "image", "path": f"images/{i}.png"}
            record.update({"source": f"digits #{i}", "license": "CC BY 4.0",
                           "meta": {"label": int(data.target[i])}}
                          if name == "reference" else {"provenance": {"generator": "bench"}})
            records.append(record)
        write_manifest(root / name, records)
    return root / "samples", root / "reference"


def _text_sets(root: Path) -> tuple[Path, Path]:
    from aigc_audit.generators.corpus import corpus_passages, reference_records
    from aigc_audit.sampleset import write_manifest

    write_manifest(root / "text-reference", reference_records(corpus_passages(TRAINING_PLAYS)))
    pool = [p for p in corpus_passages(HELD_OUT_PLAYS) if len(p.text.split()) >= 12]
    picked = random.Random(0).sample(pool, 100)
    write_manifest(root / "text-samples", [{"id": f"s{i}", "modality": "text", "text": p.text,
                                            "provenance": {"generator": "bench"}}
                                           for i, p in enumerate(picked)])
    return root / "text-samples", root / "text-reference"


def _quality_step(name: str, evaluator_cls, samples: Path, reference: Path, cache: Path) -> None:
    from aigc_audit.sampleset import REFERENCE, load_sample_set

    s, r = load_sample_set(samples), load_sample_set(reference, role=REFERENCE)
    cold, cold_s = _timed(lambda: evaluator_cls(cache_dir=str(cache)).evaluate(s, r))
    warm, warm_s = _timed(lambda: evaluator_cls(cache_dir=str(cache)).evaluate(s, r))
    print(f"{name}: {warm.metrics.get('n_samples', 0):.0f} samples vs {len(r)} reference items: "
          f"cold {cold_s:.1f} s, warm {warm_s:.1f} s (cold/warm {cold_s / warm_s:.1f}x)")
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in warm.metrics.items()))


def _kernels() -> None:
    import scipy.linalg

    from aigc_audit.evaluators.features.tokens import tokenize
    from aigc_audit.evaluators.quality._threads import one_thread
    from aigc_audit.evaluators.quality.diversity import self_bleu, sentence_bleu
    from aigc_audit.evaluators.quality.frechet import frechet_distance_features
    from aigc_audit.evaluators.quality.mauve import project, quantise
    from aigc_audit.generators.corpus import corpus_passages

    texts = [tokenize(p.text) for p in corpus_passages(["hamlet"])[:300]]
    fast, ours = _timed(lambda: self_bleu(texts))
    slow, base = _timed(lambda: [sentence_bleu(t, texts[:i] + texts[i + 1:]) for i, t in enumerate(texts)])
    assert np.allclose(fast.per_sample, slow)
    print(f"self-BLEU of 300 texts: {ours * 1000:.0f} ms vs per-pair {base * 1000:.0f} ms "
          f"({base / ours:.0f}x faster, same values)")

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2000, 64)), rng.normal(size=(2000, 64)) + 0.1

    def scipy_fd():
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        return float(np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1) + np.trace(s2)
                     - 2 * np.trace(np.real(scipy.linalg.sqrtm(s1 @ s2))))

    a, ours = _best_of(lambda: frechet_distance_features(x, y))
    b, base = _best_of(scipy_fd)
    print(f"Fréchet distance, 64-d: {ours * 1000:.1f} ms vs scipy sqrtm {base * 1000:.1f} ms "
          f"({base / ours:.1f}x), relative difference {abs(a - b) / b:.1e}")

    projected = project(rng.normal(size=(500, 384)), rng.normal(size=(100, 384)))
    _, default = _timed(lambda: [quantise(projected, 100, clusters=10, seed=s) for s in range(5)])
    with one_thread():
        _, single = _timed(lambda: [quantise(projected, 100, clusters=10, seed=s) for s in range(5)])
    print(f"MAUVE k-means, 5 seeds: one thread {single:.2f} s vs default threads {default:.2f} s "
          f"({default / single:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-samples", type=Path, help="an image sample set (default: 500 digits)")
    parser.add_argument("--image-reference", type=Path, help="its reference set (default: the digits)")
    parser.add_argument("--text-samples", type=Path,
                        help="a text sample set (default: 100 held-out passages)")
    args = parser.parse_args()

    from aigc_audit.evaluators.quality.image_quality import ImageQuality
    from aigc_audit.evaluators.quality.text_quality import TextQuality

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        image_samples, image_reference = _digit_sets(root, 500)
        text_samples, text_reference = _text_sets(root)
        _quality_step("image_quality", ImageQuality, args.image_samples or image_samples,
                      args.image_reference or image_reference, root / "cache")
        _quality_step("text_quality", TextQuality, args.text_samples or text_samples, text_reference,
                      root / "cache")
        _kernels()


if __name__ == "__main__":
    main()
