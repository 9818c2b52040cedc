"""Which digit a generated image shows: a k-nearest-neighbour vote among scikit-learn's digits.

Generated images are brought back to 8x8 by averaging blocks (2x2 for 16 px) and to the digits'
0..16 ink scale, then classified by the 5 nearest of the 1,797 labelled digits (about 98% accurate
on held-out digits; numpy only, so it costs milliseconds). Used to check that a generator covers the
ten classes instead of collapsing onto one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from aigc_audit.generators.image.data import digits_arrays

MIN_SHARE = 0.03  # a class counts as covered when at least this share of samples shows it
K = 5


@lru_cache(maxsize=1)
def _labelled() -> tuple[np.ndarray, np.ndarray]:
    counts, labels = digits_arrays()
    return counts.reshape(len(counts), 64).astype(np.float32), labels


def digit_classes(images: np.ndarray) -> np.ndarray:
    """(N,) predicted class of (N, S, S) uint8 images, S a multiple of 8."""
    n, side, _ = images.shape
    block = side // 8
    small = images.reshape(n, 8, block, 8, block).mean(axis=(2, 4)) / 255.0 * 16.0  # (N, 8, 8)
    train, labels = _labelled()
    queries = small.reshape(n, 64).astype(np.float32)
    distances = (queries ** 2).sum(1)[:, None] - 2 * queries @ train.T + (train ** 2).sum(1)[None]
    nearest = np.argpartition(distances, K, axis=1)[:, :K]                          # (N, K)
    votes = np.zeros((n, 10), dtype=np.int64)
    np.add.at(votes, (np.arange(n)[:, None], labels[nearest]), 1)
    return votes.argmax(1)


def class_shares(images: np.ndarray) -> np.ndarray:
    """(10,) share of ``images`` classified as each digit."""
    return np.bincount(digit_classes(images), minlength=10) / len(images)


def covered(shares: np.ndarray) -> int:
    return int((shares >= MIN_SHARE).sum())
