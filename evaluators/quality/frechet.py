"""Fréchet distance between two Gaussians fitted to feature sets (the "FD" of FID).

``FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``.

The trace of the matrix square root is computed without a general (non-symmetric) matrix square
root: ``S1 S2`` is similar to the symmetric positive semi-definite ``A = S1^(1/2) S2 S1^(1/2)``,
so ``tr((S1 S2)^(1/2))`` is the sum of the square roots of ``A``'s eigenvalues. Two symmetric
eigendecompositions in float64 are stable where ``scipy.linalg.sqrtm`` of the product can return
a complex result or lose accuracy on a nearly singular covariance; the tests check parity with
``sqrtm`` on well-conditioned inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance (unbiased, ``ddof=1``) of ``n`` feature vectors."""

    mean: np.ndarray        # (D,)
    covariance: np.ndarray  # (D, D)
    n: int

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Fit a Gaussian to ``features`` of shape ``(N, D)``, ``N >= 2``."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be a 2-d array with at least 2 rows; got shape {x.shape}")
    return GaussianStats(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False)), int(x.shape[0]))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((sigma1 @ sigma2) ** 0.5)`` for symmetric positive semi-definite inputs."""
    root = _psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    inner = root @ np.asarray(sigma2, dtype=np.float64) @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    if a.dim != b.dim:
        raise ValueError(f"feature dimensions differ: {a.dim} vs {b.dim}")
    diff = a.mean - b.mean
    value = float(diff @ diff + np.trace(a.covariance) + np.trace(b.covariance)
                  - 2.0 * trace_sqrt_product(a.covariance, b.covariance))
    # Rounding can take a distance of identical sets a hair below zero.
    return max(value, 0.0)


def frechet_distance_features(x: np.ndarray, y: np.ndarray) -> float:
    return frechet_distance(gaussian_stats(x), gaussian_stats(y))
