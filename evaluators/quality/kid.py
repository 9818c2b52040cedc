"""Kernel inception distance: an unbiased estimate of the squared MMD with a cubic kernel.

``k(x, y) = (x . y / D + 1) ** 3`` (Bińkowski et al., 2018). The unbiased estimator leaves the
kernel's diagonal out of the within-set terms, so two samples of the same distribution give values
scattered around zero (negative ones included), unlike the Fréchet distance, which is biased
upwards at small sample sizes.

It is computed on random subsets of ``m = min(subset_size, len(x), len(y))`` rows of each set and
reported, as the metric's authors do, as the mean over subsets with the standard deviation over
subsets. That standard deviation measures one thing: how much a KID computed from ``m`` rows of
each set moves with the choice of rows. It is not the standard error of the mean, and it can only
vary with what the subsets can vary in:

- when ``m`` is below both set sizes, both sides are drawn anew for each subset (subsets drawn from
  finite sets share rows, so the spread is somewhat below that of independent draws of ``m``);
- when ``m`` equals one set's size, that set enters every subset whole and the spread reflects the
  draws from the other set only: a lower bound on the spread of a KID from ``m`` rows of each;
- when ``m`` equals both set sizes, every subset is the two whole sets: the estimate is computed
  once and the standard deviation is NaN (reported as null), since nothing varies; a spread over
  identical subsets would be rounding noise (about 1e-16) that reads like a perfectly stable value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KidResult:
    mean: float          # mean over subsets of the unbiased squared MMD
    std: float           # standard deviation over subsets (ddof=1); NaN when the subsets cannot vary
    subsets: int         # subsets computed: 1 when every subset would be the two whole sets
    subset_size: int     # rows of each set per subset
    x_whole: bool        # every subset holds all of x: the spread reflects y's draws only
    y_whole: bool        # every subset holds all of y

    @property
    def varies(self) -> bool:
        """Whether the subsets differ, so that ``std`` is defined."""
        return not math.isnan(self.std)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    # Two in-place multiplications: ``** 3`` on the whole matrix costs several times more.
    cube = k * k
    cube *= k
    return cube


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD of two sets (each at least 2 rows) under :func:`polynomial_kernel`."""
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples per set; got {m} and {n}")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def kernel_inception_distance(x: np.ndarray, y: np.ndarray, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> KidResult:
    """Mean and standard deviation of :func:`mmd2_unbiased` over ``subsets`` random subsets of
    ``min(subset_size, len(x), len(y))`` rows of each set, drawn without replacement. When that size
    covers both sets, the one possible subset is computed once and ``std`` is NaN; one subset alone
    (``subsets=1``) has no spread either."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if subsets < 1:
        raise ValueError(f"KID needs at least 1 subset; got subsets={subsets}")
    size = min(subset_size, x.shape[0], y.shape[0])
    x_whole, y_whole = size == x.shape[0], size == y.shape[0]
    if x_whole and y_whole:
        return KidResult(mmd2_unbiased(x, y), math.nan, 1, size, True, True)
    rng = np.random.default_rng(seed)
    # A set taken whole is still drawn (as a permutation, which leaves the estimate unchanged), so
    # that the other set's subsets, and so the values, stay those of earlier versions.
    values = np.array([mmd2_unbiased(x[rng.choice(x.shape[0], size, replace=False)],
                                     y[rng.choice(y.shape[0], size, replace=False)])
                       for _ in range(subsets)])
    return KidResult(float(values.mean()), float(values.std(ddof=1)) if subsets > 1 else math.nan,
                     subsets, size, x_whole, y_whole)
