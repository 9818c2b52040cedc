"""Precision, recall, density, coverage: the published sanity values, mode collapse, and parity
with a brute-force computation."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from aigc_audit.evaluators.quality.prdc import knn_radii, prdc


def _brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    d = cdist(real, fake)
    precision = np.mean([any(d[i, j] < real_radii[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(d[i, j] < fake_radii[j] for j in range(len(fake))) for i in range(len(real))])
    inside = sum(d[i, j] < real_radii[i] for i in range(len(real)) for j in range(len(fake)))
    density = inside / (k * len(fake))
    coverage = np.mean([d[i].min() < real_radii[i] for i in range(len(real))])
    return precision, recall, density, coverage


def test_two_draws_of_one_gaussian_give_the_published_sanity_values():
    # The PRDC authors' sanity check: identical Gaussians give density about 1 and coverage about
    # 1 - 2**-k = 0.97 for k = 5.
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2000, 64)), rng.normal(size=(2000, 64))
    result = prdc(real, fake, k=5)
    assert result.density == pytest.approx(1.0, abs=0.1)
    assert result.coverage == pytest.approx(0.97, abs=0.02)


def test_mode_collapse_gives_high_precision_and_low_recall():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(10, 16)) * 6
    real = np.concatenate([c + rng.normal(size=(100, 16)) for c in centres])
    collapsed = centres[0] + rng.normal(size=(300, 16))
    result = prdc(real, collapsed, k=5)
    assert result.precision > 0.85 and result.density > 0.5
    assert result.recall < 0.2 and result.coverage < 0.15


def test_parity_with_brute_force_across_blocks():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(1100, 3)), rng.normal(size=(60, 3)) * 1.3 + 0.2  # 1100 > one block
    result = prdc(real, fake, k=3)
    expected = _brute_force(real, fake, 3)
    assert (result.precision, result.recall, result.density, result.coverage) == pytest.approx(expected)
    # Per item: inside the manifold exactly when the ratio is below 1, and the nearest neighbour.
    assert np.mean(result.manifold_ratio < 1) == pytest.approx(result.precision)
    d = cdist(real, fake)
    assert np.array_equal(result.nearest_reference, d.argmin(axis=0))
    assert np.allclose(result.nearest_distance, d.min(axis=0))


def test_radii_exclude_the_point_itself():
    x = np.array([[0.0], [1.0], [3.0]])
    assert list(knn_radii(x, 1)) == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"k must be in \[1, 2\] for 3 samples; got 3"):
        knn_radii(x, 3)
