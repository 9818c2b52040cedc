"""MAUVE: how close the distribution of generated texts is to the reference texts' (Pillutla et
al., 2021), on sentence embeddings, with its spread over k-means seeds.

As in the authors' implementation: the embeddings of both sets are L2-normalised, reduced by PCA
(not whitened, keeping the components that explain 90% of the variance), quantised together by
k-means (5 restarts, at most 500 iterations; scikit-learn's here, faiss's there) into
``max(2, round(min(N_p, N_q) / 10))`` clusters, and each set becomes a histogram over the
clusters. For mixtures ``R = w P + (1 - w) Q`` the divergence curve has the points
``(exp(-c KL(Q || R)), exp(-c KL(P || R)))`` with scaling ``c = 5``; MAUVE is the area under that
curve, in ``(0, 1]``, and 1 when the two histograms are equal. (The authors average two
``sklearn.metrics.auc`` calls over the points sorted by x and by y; the curve is monotone, so
walking it in mixture-weight order gives the same area without their tie-breaking.)

The quantisation depends on the k-means seed, and a single MAUVE value is known to move with it
by a few hundredths, so the score is computed for several seeds and reported as their mean,
standard deviation, minimum and maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aigc_audit.evaluators.quality._threads import one_thread

DIVERGENCE_POINTS = 25
SCALING = 5.0
EXPLAINED_VARIANCE = 0.9


@dataclass(frozen=True)
class MauveResult:
    mean: float
    std: float
    minimum: float
    maximum: float
    per_seed: tuple[float, ...]
    clusters: int
    pca_dims: int


def auto_clusters(n_p: int, n_q: int) -> int:
    return max(2, int(round(min(n_p, n_q) / 10)))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) of histograms; infinite when p has mass where q has none."""
    if np.any((p > 0) & (q == 0)):
        return float("inf")
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def mauve_from_histograms(p: np.ndarray, q: np.ndarray, *, scaling: float = SCALING,
                          points: int = DIVERGENCE_POINTS) -> float:
    """Area under the divergence curve of two histograms over the same clusters."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    # Walk the curve in order of the mixture weight, from R = Q (x = 1) to R = P (y = 1): x only
    # falls and y only rises along it, so the trapezoids in this order give the area directly.
    xs, ys = [1.0], [0.0]
    for w in np.linspace(1e-6, 1 - 1e-6, points):
        r = w * p + (1 - w) * q
        xs.append(float(np.exp(-scaling * kl_divergence(q, r))))
        ys.append(float(np.exp(-scaling * kl_divergence(p, r))))
    xs.append(0.0)
    ys.append(1.0)
    x, y = np.array(xs), np.array(ys)
    return float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0))


def project(p_features: np.ndarray, q_features: np.ndarray, *,
            explained_variance: float = EXPLAINED_VARIANCE) -> np.ndarray:
    """Both sets (``q`` first) L2-normalised and projected on the principal components that
    explain ``explained_variance`` of the variance. A full SVD: the same for every seed."""
    from sklearn.decomposition import PCA

    data = np.vstack([q_features, p_features]).astype(np.float64)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    data = data / np.where(norms > 0, norms, 1.0)
    pca = PCA(n_components=None, whiten=False, svd_solver="full").fit(data)
    keep = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= explained_variance)) + 1
    return pca.transform(data)[:, :keep]


def quantise(projected: np.ndarray, n_q: int, *, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Histograms of ``p`` and ``q`` over the k-means clusters of the joint projection (its first
    ``n_q`` rows are ``q``)."""
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=clusters, n_init=5, max_iter=500, random_state=seed).fit(projected).labels_
    return (np.bincount(labels[n_q:], minlength=clusters).astype(np.float64),
            np.bincount(labels[:n_q], minlength=clusters).astype(np.float64))


def mauve(p_features: np.ndarray, q_features: np.ndarray, *, seeds: Sequence[int] = (0, 1, 2, 3, 4),
          clusters: int = 0, scaling: float = SCALING) -> MauveResult:
    """MAUVE between reference (``p``) and generated (``q``) embeddings, once per k-means seed.

    ``clusters=0`` picks the authors' default from the set sizes."""
    p_features = np.asarray(p_features, dtype=np.float64)
    q_features = np.asarray(q_features, dtype=np.float64)
    if len(p_features) < 2 or len(q_features) < 2:
        raise ValueError(f"MAUVE needs at least 2 texts per set; got {len(p_features)} and {len(q_features)}")
    if not seeds:
        raise ValueError("MAUVE needs at least one k-means seed")
    k = clusters or auto_clusters(len(p_features), len(q_features))
    k = min(k, len(p_features) + len(q_features))
    scores = []
    with one_thread():
        projected = project(p_features, q_features)
        for seed in seeds:
            p_hist, q_hist = quantise(projected, len(q_features), clusters=k, seed=seed)
            scores.append(mauve_from_histograms(p_hist, q_hist, scaling=scaling))
    values = np.array(scores)
    return MauveResult(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                       float(values.min()), float(values.max()), tuple(scores), k, projected.shape[1])
