"""The data-copying test's known answers: fresh draws score near 0, noised training points far
below -3, and the Mann-Whitney z-score against an independent computation."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from aigc_audit.evaluators.memorization.data_copying import data_copying_test, mann_whitney_z

DIM = 8


def _gaussian(rng, n):
    return rng.normal(size=(n, DIM))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fresh_draws_from_the_training_distribution_score_near_zero(seed):
    rng = np.random.default_rng(seed)
    train, heldout, fresh = _gaussian(rng, 500), _gaussian(rng, 200), _gaussian(rng, 200)
    result = data_copying_test(train, heldout, fresh, seed=seed)
    assert abs(result.c_t) < 2
    assert result.cells_used == 5 and result.cell_heldout.sum() == 200 and result.cell_generated.sum() == 200


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_points_with_small_noise_score_below_minus_three(seed):
    rng = np.random.default_rng(seed)
    train, heldout = _gaussian(rng, 500), _gaussian(rng, 200)
    copies = train[rng.choice(500, 200)] + rng.normal(scale=0.05, size=(200, DIM))
    result = data_copying_test(train, heldout, copies, seed=seed)
    assert result.c_t < -3
    assert (result.generated_distance < 0.5).all()


def test_samples_far_from_the_data_score_positive():
    # Underfitting (samples farther than new data) is the opposite sign: not copying.
    rng = np.random.default_rng(3)
    train, heldout = _gaussian(rng, 400), _gaussian(rng, 150)
    result = data_copying_test(train, heldout, 2.0 * _gaussian(rng, 150))
    assert result.c_t > 3


def test_mann_whitney_z_matches_scipy_normal_approximation():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=30), rng.normal(0.5, size=40)
    u = mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=False).statistic
    expected = (u - 30 * 40 / 2) / np.sqrt(30 * 40 * (30 + 40 + 1) / 12)
    assert mann_whitney_z(a, b) == pytest.approx(expected)
    assert mann_whitney_z(a, b) < 0  # a is drawn from the smaller values


def test_cells_with_too_few_generated_samples_are_left_out_and_none_left_is_nan():
    rng = np.random.default_rng(5)
    train, heldout = _gaussian(rng, 100), _gaussian(rng, 50)
    result = data_copying_test(train, heldout, _gaussian(rng, 4), cells=3, min_cell_samples=5)
    assert result.cells_used == 0 and np.isnan(result.c_t) and np.isnan(result.cell_z).all()


def test_mismatched_dimensions_are_refused():
    with pytest.raises(ValueError, match="feature dimensions differ: train 2, held-out 3, generated 2"):
        data_copying_test(np.zeros((5, 2)), np.zeros((5, 3)), np.zeros((5, 2)))
