"""Alpha-precision, beta-recall and authenticity (Alaa, van Breugel, Saveliev and van der Schaar,
ICML 2022), computed on the features directly, as synthcity's ``AlphaPrecision`` does without its
one-class embedding.

- alpha-precision: for each alpha in a grid, the share of generated samples inside the ball around
  the training data's mean that holds the alpha share of the training data (its alpha-support);
  ``1 - 2 * mean |share - alpha|`` over the grid. 1 when every share matches its alpha: the
  samples fill the typical region of the data exactly as densely as the data does.
- beta-recall: for each beta, the share of training points whose nearest generated sample is
  closer than their nearest other training point *and* lies in the generated samples' own beta-
  support; folded the same way. Low when the samples cover only part of the data.
- authenticity: the share of generated samples farther from their nearest training point than
  that point is from its own nearest other training point. A copy sits on its training point, so
  copies lower it; fresh data from the same distribution scores about one half or more, which is
  why the evaluator reports the held-out data's own authenticity beside it as a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aigc_audit.evaluators.memorization.data_copying import nearest
from aigc_audit.evaluators.quality.prdc import knn_radii

GRID = 30


@dataclass(frozen=True)
class FidelityResult:
    alpha_precision: float
    beta_recall: float
    authenticity: float
    authentic: np.ndarray  # (m,) bool: each generated sample's verdict


def authentic_mask(train: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point, whether it is farther from its nearest training point than that point is
    from its nearest other training point."""
    train, points = np.asarray(train, dtype=np.float64), np.asarray(points, dtype=np.float64)
    if len(train) < 2:
        raise ValueError(f"authenticity needs at least 2 training points; got {len(train)}")
    own = knn_radii(train, 1)
    distance, index = nearest(points, train)
    return distance > own[index]


def fidelity(train: np.ndarray, generated: np.ndarray) -> FidelityResult:
    """Alpha-precision, beta-recall and authenticity of ``generated`` against ``train``."""
    train, generated = np.asarray(train, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if train.shape[1] != generated.shape[1]:
        raise ValueError(f"feature dimensions differ: {train.shape[1]} vs {generated.shape[1]}")
    # alpha = 0 included, so that the grid's mean is 1/2 and the curves fold into [0, 1].
    alphas = np.linspace(0.0, 1.0, GRID + 1)
    to_center = np.linalg.norm(generated - train.mean(axis=0), axis=1)
    radii = np.quantile(np.linalg.norm(train - train.mean(axis=0), axis=1), alphas)
    precision_curve = np.array([(to_center <= r).mean() for r in radii])

    synth_center = generated.mean(axis=0)
    synth_radii = np.quantile(np.linalg.norm(generated - synth_center, axis=1), alphas)
    own = knn_radii(train, 1)
    to_generated, closest = nearest(train, generated)
    closest_to_center = np.linalg.norm(generated[closest] - synth_center, axis=1)
    recall_curve = np.array([((to_generated <= own) & (closest_to_center <= r)).mean()
                             for r in synth_radii])
    authentic = authentic_mask(train, generated)
    return FidelityResult(alpha_precision=float(1 - 2 * np.abs(precision_curve - alphas).mean()),
                          beta_recall=float(1 - 2 * np.abs(recall_curve - alphas).mean()),
                          authenticity=float(authentic.mean()), authentic=authentic)
