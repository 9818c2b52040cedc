"""Improved precision and recall, density and coverage: k-nearest-neighbour manifold metrics.

Each reference (real) sample gets a ball whose radius is the distance to its k-th nearest other
reference sample; the union of the balls estimates the real manifold, and likewise for the
generated (fake) samples.

- precision (Kynkäänniemi et al., 2019): share of generated samples inside the real manifold.
- recall: share of real samples inside the generated manifold; a mode-collapsed generator covers
  few real samples and scores low.
- density (Naeem et al., 2020): how many real balls contain a generated sample, on average,
  divided by k; about 1 when both sets come from one distribution.
- coverage: share of real samples whose ball holds at least one generated sample; about
  ``1 - 2**-k`` (0.97 for k=5) when both come from one distribution.

Comparisons use strict ``<`` as the published reference implementation does. Distances are
Euclidean in float64, computed block by block so that memory stays at ``block x N`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BLOCK = 1024


@dataclass(frozen=True)
class PrdcResult:
    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    nearest_reference: np.ndarray  # (F,) index of each generated sample's nearest real sample
    nearest_distance: np.ndarray   # (F,) its distance
    manifold_ratio: np.ndarray     # (F,) min over real i of d(fake, real_i) / radius_i; < 1 inside


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.clip(squared, 0.0, None))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (the row itself is not counted)."""
    x = np.asarray(features, dtype=np.float64)
    if not 1 <= k < x.shape[0]:
        raise ValueError(f"k must be in [1, {x.shape[0] - 1}] for {x.shape[0]} samples; got {k}")
    radii = np.empty(x.shape[0])
    for start in range(0, x.shape[0], _BLOCK):
        block = pairwise_distances(x[start:start + _BLOCK], x)
        # Column k after partitioning: column 0 is the row's distance to itself.
        radii[start:start + _BLOCK] = np.partition(block, k, axis=1)[:, k]
    return radii


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> PrdcResult:
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    real_radii = knn_radii(real, k)
    fake_radii = knn_radii(fake, k)
    n_fake = fake.shape[0]
    inside = np.zeros(n_fake, dtype=bool)
    balls_containing = np.zeros(n_fake)
    ratio = np.full(n_fake, np.inf)
    nearest = np.zeros(n_fake, dtype=np.int64)
    nearest_distance = np.full(n_fake, np.inf)
    covered, recalled = [], []
    for start in range(0, real.shape[0], _BLOCK):
        block = pairwise_distances(real[start:start + _BLOCK], fake)  # (b, F)
        radii = real_radii[start:start + _BLOCK, None]
        in_ball = block < radii
        inside |= in_ball.any(axis=0)
        balls_containing += in_ball.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(radii > 0, block / np.where(radii > 0, radii, 1.0), np.inf)
        ratio = np.minimum(ratio, scaled.min(axis=0))
        rows = block.argmin(axis=0)
        closer = block[rows, np.arange(n_fake)] < nearest_distance
        nearest[closer] = rows[closer] + start
        nearest_distance[closer] = block[rows, np.arange(n_fake)][closer]
        covered.append(block.min(axis=1) < radii[:, 0])
        recalled.append((block < fake_radii[None, :]).any(axis=1))
    return PrdcResult(precision=float(inside.mean()),
                      recall=float(np.concatenate(recalled).mean()),
                      density=float(balls_containing.sum() / (k * n_fake)),
                      coverage=float(np.concatenate(covered).mean()),
                      k=k, nearest_reference=nearest, nearest_distance=nearest_distance,
                      manifold_ratio=ratio)
