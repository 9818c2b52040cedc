"""MAUVE: parity with the authors' area computation, the extremes, and the spread over seeds."""

import numpy as np
import pytest
from sklearn.metrics import auc

from aigc_audit.evaluators.quality.mauve import auto_clusters, kl_divergence, mauve, mauve_from_histograms


def _authors_area(p, q, scaling=5.0, points=25):
    """The published computation: curve points with both extremes, then the mean of two
    ``sklearn.metrics.auc`` calls on the points sorted by x and by y."""
    curve = [[0, np.inf]]
    for w in np.linspace(1e-6, 1 - 1e-6, points):
        r = w * p + (1 - w) * q
        curve.append([kl_divergence(q, r), kl_divergence(p, r)])
    curve.append([np.inf, 0])
    x, y = np.exp(-scaling * np.asarray(curve)).T
    i, j = np.argsort(x), np.argsort(y)
    return 0.5 * (auc(x[i], y[i]) + auc(y[j], x[j]))


@pytest.mark.parametrize("seed", range(5))
def test_area_matches_the_authors_computation(seed):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(12) * 0.5)
    q[rng.integers(12)] = 0.0  # an empty cluster, as k-means gives
    q /= q.sum()
    assert mauve_from_histograms(p, q) == pytest.approx(_authors_area(p, q), abs=1e-9)


def test_equal_histograms_score_one_and_disjoint_ones_near_zero():
    p = np.array([0.2, 0.3, 0.5, 0.0])
    assert mauve_from_histograms(p, p) == pytest.approx(1.0)
    assert mauve_from_histograms(np.array([1.0, 0, 0, 0]), np.array([0, 0, 0.5, 0.5])) < 0.05


def test_same_distribution_scores_high_a_shifted_one_low_with_a_spread_over_seeds():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 8))
    same = mauve(reference, rng.normal(size=(200, 8)), seeds=(0, 1, 2))
    shifted = mauve(reference, rng.normal(size=(200, 8)) + 0.8, seeds=(0, 1, 2))
    itself = mauve(reference, reference, seeds=(0, 1))
    assert itself.mean == pytest.approx(1.0) and itself.std == pytest.approx(0.0)
    assert same.mean > 0.8 > 0.3 > shifted.mean
    assert len(same.per_seed) == 3 and same.std > 0 and same.minimum <= same.mean <= same.maximum
    assert same.clusters == 20 == auto_clusters(200, 200) and 1 <= same.pca_dims <= 8


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 texts per set; got 1 and 3"):
        mauve(np.zeros((1, 2)), np.zeros((3, 2)))
