"""Runtime of the memorization statistics (C_T, authenticity with alpha-precision and beta-recall)
as the training set grows, on Gaussian features of the sentence embeddings' width, printed as
ratios against the smallest size run in the same process.

    .venv/bin/python benchmarks/bench_memorization.py [--dim 384] [--samples 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from aigc_audit.evaluators.memorization import data_copying_test, fidelity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data_copying_test(*(rng.normal(size=(50, args.dim)) for _ in range(3)))  # imports, warm-up
    baseline = None
    print(f"{'train':>7} {'held-out':>8} {'C_T s':>7} {'fidelity s':>10} {'x baseline':>10}")
    for n_train in (500, 2000, 8000):
        train = rng.normal(size=(n_train, args.dim))
        heldout = rng.normal(size=(n_train // 20, args.dim))
        samples = rng.normal(size=(args.samples, args.dim))
        started = time.perf_counter()
        data_copying_test(train, heldout, samples)
        c_t = time.perf_counter() - started
        started = time.perf_counter()
        fidelity(train, samples)
        total = c_t + time.perf_counter() - started
        baseline = baseline or total
        print(f"{n_train:>7} {len(heldout):>8} {c_t:>7.2f} {total - c_t:>10.2f} {total / baseline:>10.1f}")


if __name__ == "__main__":
    main()
