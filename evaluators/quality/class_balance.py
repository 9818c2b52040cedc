"""Class balance of generated images, from a classifier's predicted classes.

The normalised entropy of the predicted-class histogram, ``H(counts) / log(C)`` for ``C`` classes
the classifier knows: 1 when every class is predicted equally often, 0 when every sample is
predicted as one class, which is what a generator collapsed to one digit produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassBalance:
    entropy: float               # normalised to [0, 1]
    dominant_share: float        # share of samples in the most predicted class
    dominant_class: int          # its index
    counts: tuple[int, ...]      # predictions per class


def class_balance(predicted: np.ndarray, n_classes: int) -> ClassBalance:
    """``predicted`` holds class indices in ``[0, n_classes)``; ``n_classes >= 2``."""
    predicted = np.asarray(predicted, dtype=np.int64)
    if n_classes < 2:
        raise ValueError(f"class balance needs at least 2 classes; got {n_classes}")
    if predicted.size == 0:
        raise ValueError("class balance needs at least one prediction")
    if predicted.min() < 0 or predicted.max() >= n_classes:
        raise ValueError(f"predicted classes must be in [0, {n_classes}); got range "
                         f"[{predicted.min()}, {predicted.max()}]")
    counts = np.bincount(predicted, minlength=n_classes)
    share = counts / counts.sum()
    nonzero = share[share > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(n_classes))
    dominant = int(counts.argmax())
    return ClassBalance(entropy=max(0.0, min(1.0, entropy)), dominant_share=float(share[dominant]),
                        dominant_class=dominant, counts=tuple(int(c) for c in counts))
