"""Per-category thresholds from labelled data, at a target false-positive rate.

A false positive is a benign text flagged: a category's negatives are the texts labelled ``none``,
its positives the texts labelled with it. Texts labelled only with other categories count neither
way (a classifier that cannot tell an insult from profanity is not wrong to flag either).

For a category with ``N`` negative texts and target rate ``f``, at
most ``k = floor(f * N)`` negatives may score at or above the threshold. The threshold is the
lowest one that keeps to that: just above the ``(k+1)``-th highest negative score, rounded up to
the shortest decimal that flags exactly the same labelled texts. Recall is then measured on the
positives. Below ``1 / f`` negatives the rate cannot be estimated at that resolution, which the
result says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aigc_audit.evaluators.base import NOTE_TOO_FEW, Note


@dataclass(frozen=True)
class Calibration:
    category: str
    threshold: float
    target_fpr: float
    n_negative: int
    n_positive: int
    false_positives: int
    recall: float | None
    notes: tuple[Note, ...] = ()

    @property
    def fpr(self) -> float:
        return self.false_positives / self.n_negative if self.n_negative else 0.0


def _short_decimal(low: float, high: float) -> float:
    """The decimal with the fewest digits in ``(low, high]``."""
    for digits in range(1, 17):
        scale = 10.0 ** digits
        candidate = math.floor(low * scale + 1.0) / scale
        if low < candidate <= high:
            return candidate
    return float(np.nextafter(low, np.inf))


def calibrate_threshold(negative: Sequence[float], positive: Sequence[float], target_fpr: float,
                        *, category: str = "") -> Calibration:
    """The threshold (flag at ``score >= threshold``) for one category; see the module doc."""
    if not 0.0 < target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in (0, 1); got {target_fpr!r}")
    neg = np.sort(np.asarray(negative, dtype=np.float64))[::-1]
    pos = np.asarray(positive, dtype=np.float64)
    if neg.size == 0:
        raise ValueError(f"no negative examples for category {category!r}; label benign texts "
                         "'none'")
    if not (np.all(np.isfinite(neg)) and np.all(np.isfinite(pos))):
        raise ValueError("scores must be finite numbers")
    allowed = math.floor(target_fpr * neg.size + 1e-9)
    notes: list[Note] = []
    if allowed >= neg.size:
        threshold = 0.0
    else:
        boundary = float(neg[allowed])  # the highest negative score that must not be flagged
        above = np.concatenate([neg, pos])
        above = above[above > boundary]
        ceiling = float(above.min()) if above.size else 1.0
        threshold = _short_decimal(boundary, max(ceiling, float(np.nextafter(boundary, np.inf))))
    if neg.size * target_fpr < 1.0:
        notes.append(Note(NOTE_TOO_FEW, f"only {neg.size} negative example(s): a false-positive rate of "
                          f"{target_fpr:g} cannot be observed below {math.ceil(1 / target_fpr)} "
                          "negatives, so the threshold flags none of them and the real rate is "
                          "unmeasured"))
    if pos.size == 0:
        notes.append(Note(NOTE_TOO_FEW, "no positive examples: recall unknown"))
    false_positives = int((neg >= threshold).sum())
    recall = float((pos >= threshold).mean()) if pos.size else None
    return Calibration(category, threshold, target_fpr, int(neg.size), int(pos.size), false_positives,
                       recall, tuple(notes))


def calibrate(scores: Sequence[dict[str, float]], labels: Sequence[frozenset[str]],
              categories: Sequence[str], target_fpr: float) -> list[Calibration]:
    """One :class:`Calibration` per category from per-text category scores and label sets (an
    empty set: a benign text, the negatives)."""
    if len(scores) != len(labels):
        raise ValueError(f"got {len(scores)} score rows but {len(labels)} label sets")
    out = []
    for code in categories:
        negative = [s[code] for s, cats in zip(scores, labels) if not cats]
        positive = [s[code] for s, cats in zip(scores, labels) if code in cats]
        out.append(calibrate_threshold(negative, positive, target_fpr, category=code))
    return out
