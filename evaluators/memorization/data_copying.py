"""The three-sample data-copying test of Meehan, Chaudhuri and Dasgupta (AISTATS 2020).

Three samples in one feature space: the training data ``T`` the model saw, held-out data ``P`` from
the same distribution that it never saw, and generated samples ``Q``. The space is cut into cells
by k-means fitted on ``T``. In each cell, the distances of the held-out points to their nearest
training point are compared with those of the generated samples by a Mann-Whitney U test, z-scored:
``Z = (U - m n / 2) / sqrt(m n (m + n + 1) / 12)``, where ``U`` counts the (generated, held-out)
pairs in which the generated sample is the *farther* one. A model that copies puts its samples
closer to training points than new data falls, so Z is negative. The cells' scores are combined
into ``C_T``, weighted by each cell's share of the held-out points, over the cells that hold at
least ``min_cell_samples`` generated samples (the paper's ``Pi_tau``).

Reading ``C_T``: about 0 (|C_T| < 2) when the samples are as far from the training data as fresh
data is; strongly negative (< -3) when they sit closer to it: copying; positive when they sit
farther: underfitting, which this test does not judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aigc_audit.evaluators.quality.prdc import pairwise_distances

_BLOCK = 1024


@dataclass(frozen=True)
class DataCopyingResult:
    c_t: float                  # the combined statistic; NaN when no cell qualifies
    cell_z: np.ndarray          # (K,) each cell's Z; NaN for cells left out
    cell_heldout: np.ndarray    # (K,) held-out points per cell
    cell_generated: np.ndarray  # (K,) generated samples per cell
    cells_used: int
    generated_distance: np.ndarray  # (m,) each generated sample's distance to its nearest training point
    heldout_distance: np.ndarray    # (n,) the same for each held-out point
    generated_nearest: np.ndarray   # (m,) index of that nearest training point


def nearest(points: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's distance to its nearest row of ``train``, and that row's index."""
    distance = np.empty(len(points))
    index = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), _BLOCK):
        block = pairwise_distances(points[start:start + _BLOCK], train)  # (b, N)
        index[start:start + _BLOCK] = block.argmin(axis=1)
        distance[start:start + _BLOCK] = block.min(axis=1)
    return distance, index


def mann_whitney_z(generated: np.ndarray, heldout: np.ndarray) -> float:
    """z-scored U of ``generated`` against ``heldout`` (ties count one half); negative when the
    generated values are smaller."""
    m, n = len(generated), len(heldout)
    # U counts the pairs with the generated value larger, via ranks in the pooled sample.
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([generated, heldout]))
    u = ranks[:m].sum() - m * (m + 1) / 2.0
    return float((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))


def data_copying_test(train: np.ndarray, heldout: np.ndarray, generated: np.ndarray, *, cells: int = 5,
                      min_cell_samples: int = 3, seed: int = 0) -> DataCopyingResult:
    """C_T of ``generated`` against ``heldout``, in cells fitted on ``train`` (rows are points).

    ``cells`` is reduced to ``len(train)`` when there are fewer training points.
    """
    train, heldout, generated = (np.asarray(a, dtype=np.float64) for a in (train, heldout, generated))
    if not (train.ndim == heldout.ndim == generated.ndim == 2):
        raise ValueError("train, heldout and generated must be 2-d arrays (points x features)")
    if not train.shape[1] == heldout.shape[1] == generated.shape[1]:
        raise ValueError(f"feature dimensions differ: train {train.shape[1]}, held-out "
                         f"{heldout.shape[1]}, generated {generated.shape[1]}")
    if min(len(train), len(heldout), len(generated)) < 1:
        raise ValueError("each of train, heldout and generated needs at least one point")
    if cells < 1 or min_cell_samples < 1:
        raise ValueError(f"cells and min_cell_samples must be >= 1; got {cells} and {min_cell_samples}")
    from sklearn.cluster import KMeans

    k = min(cells, len(np.unique(train, axis=0)))
    kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(train)
    heldout_cell, generated_cell = kmeans.predict(heldout), kmeans.predict(generated)
    heldout_distance, _ = nearest(heldout, train)
    generated_distance, generated_nearest = nearest(generated, train)
    z = np.full(k, np.nan)
    n_heldout = np.bincount(heldout_cell, minlength=k)
    n_generated = np.bincount(generated_cell, minlength=k)
    for cell in range(k):
        if n_generated[cell] >= min_cell_samples and n_heldout[cell] > 0:
            z[cell] = mann_whitney_z(generated_distance[generated_cell == cell],
                                     heldout_distance[heldout_cell == cell])
    used = ~np.isnan(z)
    weights = n_heldout[used] / len(heldout)
    c_t = float((weights * z[used]).sum() / weights.sum()) if used.any() else float("nan")
    return DataCopyingResult(c_t, z, n_heldout, n_generated, int(used.sum()), generated_distance,
                             heldout_distance, generated_nearest)
