"""Kernel inception distance: unbiased (near 0 for one distribution), parity with a direct
computation, a spread over subsets that matches the spread of independent draws, and no spread
reported when every subset is the same."""

import math

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
    # x enters every subset whole: the spread is that of y's draws alone, and says so.
    assert a.x_whole and not a.y_whole and a.varies and a.std > 0


def test_the_spread_over_subsets_is_that_of_a_kid_from_subset_size_rows():
    """kid_std estimates how much a KID from m rows of each set moves with the choice of rows:
    with sets much larger than m, it matches the spread over independent draws of m rows."""
    rng = np.random.default_rng(4)
    m, d = 50, 8
    x, y = rng.normal(size=(3000, d)), rng.normal(size=(3000, d)) + 0.3
    kid = kernel_inception_distance(x, y, subsets=300, subset_size=m, seed=0)
    independent = [mmd2_unbiased(rng.normal(size=(m, d)), rng.normal(size=(m, d)) + 0.3) for _ in range(300)]
    assert not kid.x_whole and not kid.y_whole
    assert kid.std == pytest.approx(np.std(independent, ddof=1), rel=0.2)
    # The mean over subsets is unbiased for the estimate on the two whole sets; std / sqrt(subsets)
    # is the standard error of that mean, not what kid_std reports.
    assert kid.mean == pytest.approx(mmd2_unbiased(x, y), abs=4 * kid.std / np.sqrt(300))


def test_no_spread_is_reported_when_every_subset_is_the_two_whole_sets():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 0.2
    kid = kernel_inception_distance(x, y, subsets=100, subset_size=1000, seed=0)
    # Before, 100 identical subsets gave a standard deviation of rounding noise (about 1e-16).
    assert math.isnan(kid.std) and not kid.varies
    assert kid.subsets == 1 and kid.subset_size == 40 and kid.x_whole and kid.y_whole
    assert kid.mean == pytest.approx(mmd2_unbiased(x, y), rel=1e-12)
    # One row fewer than the sets: the subsets differ, and the spread is reported.
    smaller = kernel_inception_distance(x, y, subsets=20, subset_size=39, seed=0)
    assert smaller.varies and smaller.std > 0 and smaller.subsets == 20


def test_a_single_subset_has_no_spread():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(60, 3))
    kid = kernel_inception_distance(x, y, subsets=1, subset_size=20)
    assert kid.subsets == 1 and math.isnan(kid.std)
    with pytest.raises(ValueError, match="at least 1 subset; got subsets=0"):
        kernel_inception_distance(x, y, subsets=0)


def test_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="at least 2 samples per set; got 1 and 3"):
        mmd2_unbiased(np.zeros((1, 2)), np.zeros((3, 2)))
