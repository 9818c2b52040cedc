"""Kernel inception distance: unbiased (near 0 for one distribution), parity with a direct
computation, and a spread over subsets."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import polynomial_kernel as sklearn_polynomial_kernel

from aigc_audit.evaluators.quality.kid import kernel_inception_distance, mmd2_unbiased


def _direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 written out with explicit index loops and scikit-learn's kernel."""
    d = x.shape[1]
    kxx = sklearn_polynomial_kernel(x, x, degree=3, gamma=1.0 / d, coef0=1.0)
    kyy = sklearn_polynomial_kernel(y, y, degree=3, gamma=1.0 / d, coef0=1.0)
    kxy = sklearn_polynomial_kernel(x, y, degree=3, gamma=1.0 / d, coef0=1.0)
    m, n = len(x), len(y)
    xx = sum(kxx[i, j] for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kyy[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return xx + yy - 2 * kxy.sum() / (m * n)


def test_parity_with_direct_computation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 6)), rng.normal(size=(25, 6)) + 0.3
    assert mmd2_unbiased(x, y) == pytest.approx(_direct_mmd2(x, y), rel=1e-10)


def test_same_distribution_is_near_zero_with_a_spread_and_a_shift_is_not():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 32)), rng.normal(size=(400, 32))
    same = kernel_inception_distance(x, y, subsets=40, subset_size=200, seed=0)
    shifted = kernel_inception_distance(x, y + 0.5, subsets=40, subset_size=200, seed=0)
    assert same.std > 0 and same.subsets == 40 and same.subset_size == 200
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 50 * abs(same.mean) and shifted.mean > 10 * shifted.std


def test_subset_size_is_capped_by_the_smaller_set_and_seeded():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(80, 4))
    a = kernel_inception_distance(x, y, subsets=5, subset_size=1000, seed=3)
    b = kernel_inception_distance(x, y, subsets=5, subset_size=1000, seed=3)
    assert a.subset_size == 50 and a == b


def test_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="at least 2 samples per set; got 1 and 3"):
        mmd2_unbiased(np.zeros((1, 2)), np.zeros((3, 2)))
