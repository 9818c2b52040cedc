"""How many samples a quality metric was computed on, and when that is too few to mean much.

Every quality metric is an estimate from a finite sample: a Fréchet distance from fewer samples
than feature dimensions rests on a singular covariance, a MAUVE score from a few dozen texts on a
handful of clusters. The evaluators put one ``counts`` note per metric and one ``too_few`` note per
metric whose sample is below the size at which its authors or its estimator's maths make it
trustworthy, so that a reader of the report sees both next to the number. Readers select these
notes by their kind (:data:`NOTE_COUNTS`, :data:`NOTE_TOO_FEW`), never by their wording.

When a set is too small to compute anything at all, the evaluator computes nothing and gives a skip
reason instead (:func:`too_few_to_compute`): a sentence for people, which no reader parses.
"""

from __future__ import annotations

from aigc_audit.evaluators.base import NOTE_COUNTS, NOTE_TOO_FEW, Note


def counts_note(metric: str, what: str) -> Note:
    """``"frechet_distance: computed on 200 generated vs 1797 reference images"``."""
    return Note(NOTE_COUNTS, f"{metric}: computed on {what}")


def too_few(metric: str, n: int, minimum: int, consequence: str) -> Note | None:
    """A warning when ``n < minimum`` (``"too few samples for mauve: 25 < 100; ..."``), else None."""
    if n >= minimum:
        return None
    return Note(NOTE_TOO_FEW, f"too few samples for {metric}: {n} < {minimum}; {consequence}")


def too_few_to_compute(what: str) -> str:
    """The skip reason of an evaluation that computed nothing because ``what`` (the count and the
    parameter it falls short of) is too small: ``"too few samples: 5 generated text(s), ..."``."""
    return f"too few samples: {what}"
