"""The retrieval past a band turned back, in one process on one thread: the full search
(``nearest_past_band``, every training image) against the search near its gate
(``nearest_past_band_above``, only the training images whose projection can come that close), on
the same generated drawings, alternating which goes first; the median times, their ratio, the share
of training images each band left out reads, and whether the rows agree (they must, but for exact
ties: the script stops if not).

The training set is ``--train`` drawings (the image benchmark's shapes); the generated images are
``--queries`` of them turned by a quarter, a half or flipped, every other one under a bar, and as
many distinct drawings, each turned back from every other orientation, as the alignment stage
turns them.

    .venv/bin/python benchmarks/bench_band_retrieval.py [--train 20000] [--queries 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from detect_image_copy import shape_image
from PIL import ImageDraw
from threadpoolctl import threadpool_limits

from aigc_audit.evaluators.copying.image_alignment import (
    SortedBands,
    band_descriptors,
    nearest_past_band,
    nearest_past_band_above,
)
from aigc_audit.evaluators.copying.image_near_duplicate import _BAND_TURN_SIMILAR, ORIENTATIONS, turned_back
from aigc_audit.evaluators.copying.pixel_distance import thumbnail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    training = np.stack([thumbnail(shape_image(np.random.default_rng([7, i])), 32)
                         for i in range(args.train)])
    transposes = [op for op in ORIENTATIONS.values() if op is not None]
    generated = []
    for i in range(args.queries):
        copy = shape_image(np.random.default_rng([7, i * 7])).transpose(transposes[i % len(transposes)])
        if i % 2:
            width, height = copy.size
            ImageDraw.Draw(copy).rectangle((0, height * 3 // 4, width, height), fill=(20, 20, 20))
        generated.append(copy)
    generated += [shape_image(np.random.default_rng([9, i])) for i in range(args.queries)]
    thumbs = [thumbnail(image, 32) for image in generated]
    turned = np.stack([turned_back(t, o) for t in thumbs for o in range(1, len(ORIENTATIONS))])
    references, queries = band_descriptors(training), band_descriptors(turned)
    print(f"{args.train:,} training drawings, {len(queries):,} generated images turned back "
          f"({len(generated)} images x {len(ORIENTATIONS) - 1} orientations); made in "
          f"{time.perf_counter() - started:.1f} s")

    with threadpool_limits(limits=1):
        started = time.perf_counter()
        index = SortedBands.of(references)
        sorting = time.perf_counter() - started
        full_times, above_times = [], []
        for repeat in range(args.repeats):
            for way in (("full", "above") if repeat % 2 == 0 else ("above", "full")):
                started = time.perf_counter()
                if way == "full":
                    full = nearest_past_band(queries, references, 1)[:, 0]
                    full_times.append(time.perf_counter() - started)
                else:
                    above = nearest_past_band_above(queries, index, _BAND_TURN_SIMILAR)
                    above_times.append(time.perf_counter() - started)

    def alike(rows: np.ndarray) -> np.ndarray:
        return np.einsum("qvd,qvd->qv", queries, references[np.maximum(rows, 0)]).max(axis=1)

    expected = np.where(alike(full) >= _BAND_TURN_SIMILAR, full, -1)
    # Two training drawings can be the same drawing: either row is the nearest then.
    tied = (above != expected) & (above >= 0) & (expected >= 0) & (alike(above) == alike(expected))
    wrong = (above != expected) & ~tied
    for q in np.flatnonzero(wrong):
        print(f"query {q}: full search {expected[q]} ({alike(expected)[q]}), near the gate {above[q]} "
              f"({alike(above)[q]})")
    if wrong.any():
        raise SystemExit(f"the rows differ for {int(wrong.sum())} of {len(queries)} queries")
    radius = np.sqrt(2 - 2 * _BAND_TURN_SIMILAR)
    read = [np.mean(np.searchsorted(index.projections[v], (queries[:, v] @ index.directions[v]) + radius)
                    - np.searchsorted(index.projections[v], (queries[:, v] @ index.directions[v]) - radius))
            / args.train for v in range(len(index.directions))]
    full_s, above_s = statistics.median(full_times), statistics.median(above_times)
    print(f"full search {full_s:.2f} s, near the gate {above_s:.2f} s (median of {args.repeats}, one "
          f"thread): {full_s / above_s:.1f}x; sorting the training images once {sorting:.2f} s")
    print(f"training images read per band left out: {min(read):.1%} to {max(read):.1%} (each query's own "
          f"window; a block of eight reads their union)")
    print(f"the same rows for all {len(queries):,} but exact ties (another training image as similar): "
          f"{int(tied.sum())}; {int((above >= 0).sum())} at least {_BAND_TURN_SIMILAR:g} similar")


if __name__ == "__main__":
    main()
