"""Fréchet distance: an analytic case, parity with scipy's matrix square root, edge cases."""

import numpy as np
import pytest
import scipy.linalg

from aigc_audit.evaluators.quality.frechet import (
    GaussianStats,
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
    trace_sqrt_product,
)


def _random_covariance(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def test_equal_covariance_gives_squared_distance_of_means():
    rng = np.random.default_rng(0)
    cov = _random_covariance(rng, 12)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12) + 3.0
    value = frechet_distance(GaussianStats(mu1, cov, 100), GaussianStats(mu2, cov, 100))
    assert value == pytest.approx(float(np.sum((mu1 - mu2) ** 2)), rel=1e-9)


def _scipy_reference(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook computation with scipy.linalg.sqrtm, in float64."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(root)))


@pytest.mark.parametrize("dim, shift, scale", [(8, 0.0, 1.0), (16, 0.5, 1.5), (32, 2.0, 0.7)])
def test_parity_with_scipy_sqrtm(dim, shift, scale):
    rng = np.random.default_rng(dim)
    mixing = rng.normal(size=(dim, dim))
    x = rng.normal(size=(600, dim)) @ mixing
    y = (rng.normal(size=(500, dim)) * scale + shift) @ mixing.T
    assert frechet_distance_features(x, y) == pytest.approx(_scipy_reference(x, y), rel=1e-6)


def test_trace_sqrt_product_of_commuting_diagonals():
    a, b = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 0.0])
    assert trace_sqrt_product(a, b) == pytest.approx(2.0 + 2.0 + 0.0)


def test_identical_sets_are_at_distance_zero():
    x = np.random.default_rng(1).normal(size=(200, 10))
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-9)


def test_fewer_samples_than_dimensions_still_gives_a_finite_distance():
    rng = np.random.default_rng(2)
    value = frechet_distance_features(rng.normal(size=(10, 64)), rng.normal(size=(10, 64)) + 1.0)
    assert np.isfinite(value) and value > 64  # at least the squared mean shift, about 64


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"at least 2 rows; got shape \(1, 3\)"):
        gaussian_stats(np.zeros((1, 3)))
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="feature dimensions differ: 3 vs 4"):
        frechet_distance(gaussian_stats(rng.normal(size=(5, 3))), gaussian_stats(rng.normal(size=(5, 4))))
