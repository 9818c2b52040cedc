"""How many samples a quality metric was computed on, and when that is too few to mean much.

Every quality metric is an estimate from a finite sample: a Fréchet distance from fewer samples
than feature dimensions rests on a singular covariance, a MAUVE score from a few dozen texts on a
handful of clusters. The evaluators put one ``counts`` note per metric and one ``too few`` note per
metric whose sample is below the size at which its authors or its estimator's maths make it
trustworthy, so that a reader of the report sees both next to the number.
"""

from __future__ import annotations

TOO_FEW = "too few samples"


def counts_note(metric: str, what: str) -> str:
    """``"frechet_distance: computed on 200 generated vs 1797 reference images"``."""
    return f"{metric}: computed on {what}"


def too_few(metric: str, n: int, minimum: int, consequence: str) -> str | None:
    """A warning when ``n < minimum``, else None."""
    if n >= minimum:
        return None
    return f"{TOO_FEW} for {metric}: {n} < {minimum}; {consequence}"
