"""Image copy detection: perceptual hashing throughput and Hamming-radius search speed.

Runs, in one process, ours and the baseline, checks that both give the same answer, and prints
the ratio:

- hashing pHash + dHash of N images: ``evaluators.copying.perceptual_hash.perceptual_hashes``
  (batched DCT and packing) against a per-image ``imagehash.phash`` + ``imagehash.dhash`` loop;
- search of 1,000 query hashes against 100,000 and 1,000,000 reference hashes within radius 10:
  ``evaluators.copying.hamming_search.radius_search`` (numpy XOR + popcount, blocked) against a
  brute-force Python loop over packed integers (``int.bit_count``) and against the loop people
  write with ``imagehash`` (``ImageHash`` subtraction). The loops would take minutes to hours, so
  they run on a subset of the queries and references and are extrapolated linearly in the number
  of pairs; the output says so.

    .venv/bin/python benchmarks/bench_image_hash.py [--images 2000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import time

import imagehash
import numpy as np
from PIL import Image

from aigc_audit.evaluators.copying.hamming_search import radius_search
from aigc_audit.evaluators.copying.perceptual_hash import perceptual_hashes, unpack_bits

RADIUS = 10


def _images(n: int, rng: np.random.Generator) -> list[Image.Image]:
    """Digits upscaled to 16 px as the generators make them, and larger random photos-to-be."""
    from sklearn.datasets import load_digits

    digits = np.rint(load_digits().images / 16 * 255).astype(np.uint8)
    images = []
    for i in range(n):
        if i % 4:
            image = Image.fromarray(digits[i % len(digits)])
            images.append(image.resize((16, 16), Image.Resampling.BILINEAR))
        else:
            images.append(Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), "RGB"))
    return images


def bench_hashing(n: int, rng: np.random.Generator) -> None:
    images = _images(n, rng)
    started = time.perf_counter()
    phash, dhash = perceptual_hashes(images)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    baseline = [(imagehash.phash(image), imagehash.dhash(image)) for image in images]
    loop = time.perf_counter() - started
    same = all(int(str(p), 16) == int(phash[i]) and int(str(d), 16) == int(dhash[i])
               for i, (p, d) in enumerate(baseline))
    print(f"hashing pHash + dHash of {n} in-memory images (3/4 digits at 16 px, 1/4 RGB at 128 px)")
    print(f"  aigc-audit (batched):      {ours:7.2f} s  {n / ours:8.0f} images/s")
    print(f"  imagehash, per image:      {loop:7.2f} s  {n / loop:8.0f} images/s")
    print(f"  identical hashes: {same}; speed-up: {loop / ours:.1f}x")


def _hashes(n_queries: int, n_refs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    references = rng.integers(0, 1 << 63, n_refs, dtype=np.uint64) ^ (
        rng.integers(0, 2, n_refs, dtype=np.uint64) << np.uint64(63))
    # Half of the queries are a training hash with a few bits flipped, so there are hits to find.
    queries = rng.integers(0, 1 << 63, n_queries, dtype=np.uint64)
    copied = rng.choice(n_queries, n_queries // 2, replace=False)
    flips = rng.integers(0, 64, (len(copied), 4)).astype(np.uint64)
    queries[copied] = references[rng.integers(0, n_refs, len(copied))]
    for column in range(flips.shape[1]):
        queries[copied] ^= np.uint64(1) << flips[:, column]
    return queries, references


def _python_loop(queries: list[int], references: list[int]) -> list[tuple[int, int]]:
    return [(qi, ri) for qi, q in enumerate(queries) for ri, r in enumerate(references)
            if (q ^ r).bit_count() <= RADIUS]


def _imagehash_loop(queries: list[imagehash.ImageHash],
                    references: list[imagehash.ImageHash]) -> list[tuple[int, int]]:
    return [(qi, ri) for qi, q in enumerate(queries) for ri, r in enumerate(references) if q - r <= RADIUS]


def bench_search(n_queries: int, n_refs: int, rng: np.random.Generator) -> None:
    queries, references = _hashes(n_queries, n_refs, rng)
    started = time.perf_counter()
    found = radius_search(queries, references, RADIUS)
    ours = time.perf_counter() - started
    pairs = n_queries * n_refs

    # Brute-force loop over packed ints, on the first queries, extrapolated to all pairs.
    sub_q = max(1, min(n_queries, 2_000_000 // n_refs))
    started = time.perf_counter()
    loop_pairs = _python_loop([int(v) for v in queries[:sub_q]], [int(v) for v in references])
    loop = (time.perf_counter() - started) * pairs / (sub_q * n_refs)
    ours_sub = [(q, r) for q, r in zip(found.query.tolist(), found.reference.tolist()) if q < sub_q]

    # The ImageHash loop: objects built from the same bits, on a smaller block of pairs.
    ih_q, ih_r = min(n_queries, 2), min(n_refs, 50_000)

    def to_objects(values):
        return [imagehash.ImageHash(bits.reshape(8, 8)) for bits in unpack_bits(values)]

    q_objects, r_objects = to_objects(queries[:ih_q]), to_objects(references[:ih_r])
    started = time.perf_counter()
    ih_pairs = _imagehash_loop(q_objects, r_objects)
    ih = (time.perf_counter() - started) * pairs / (ih_q * ih_r)
    ours_ih = [(q, r) for q, r in zip(found.query.tolist(), found.reference.tolist())
               if q < ih_q and r < ih_r]

    print(f"search: {n_queries} queries x {n_refs} reference hashes, radius {RADIUS} "
          f"({len(found)} pairs found)")
    print(f"  aigc-audit (numpy popcount, blocked):  {ours:9.2f} s")
    print(f"  Python loop, int.bit_count:            {loop:9.2f} s  (timed on {sub_q} queries x {n_refs} "
          f"references, extrapolated)")
    print(f"  Python loop, ImageHash subtraction:    {ih:9.2f} s  (timed on {ih_q} queries x {ih_r} "
          f"references, extrapolated)")
    print(f"  same pairs as the loops on their subsets: {ours_sub == loop_pairs and ours_ih == ih_pairs}; "
          f"speed-up: {loop / ours:.0f}x over the int loop, {ih / ours:.0f}x over the ImageHash loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--references", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    bench_hashing(args.images, rng)
    for n_refs in args.references:
        bench_search(args.queries, n_refs, rng)


if __name__ == "__main__":
    main()
