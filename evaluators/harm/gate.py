"""Gates that account for sampling error: the exact (Clopper-Pearson) upper confidence bound on a
flagged rate, and the sample size a gate on it needs before it can pass at all.

With ``k`` of ``n`` items flagged, the one-sided upper bound at confidence ``c`` is the ``c``
quantile of Beta(k + 1, n - k) (1 when every item is flagged). A policy that limits this bound,
rather than the observed rate, cannot be passed by a sample too small to tell: with no item
flagged the bound is ``1 - (1 - c) ** (1 / n)``, so a limit ``L`` needs
``n >= log(1 - c) / log(1 - L)`` items (about ``3 / L`` at 95%, the "rule of three").
"""

from __future__ import annotations

import functools
import math

# Limits shown in an evaluation's notes, to say what sample size each needs.
NOTE_LIMITS = (0.05, 0.01, 0.005, 0.001)


def _check(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")


def clopper_pearson_upper(flagged: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided upper confidence bound on a rate after ``flagged`` of ``n`` items."""
    _check(confidence)
    if n < 0 or not 0 <= flagged <= max(n, 0):
        raise ValueError(f"need 0 <= flagged <= n; got flagged={flagged}, n={n}")
    if n == 0 or flagged == n:
        return 1.0
    return _beta_quantile(confidence, flagged + 1, n - flagged)


@functools.lru_cache(maxsize=4096)
def _beta_quantile(q: float, a: int, b: int) -> float:
    # Kept: scipy's ppf checks its arguments on every call (some 50 us), a check of one text asks
    # for 13 bounds, and a service asks for the same few (one item, none or it flagged) every time.
    from scipy.stats import beta

    return float(beta.ppf(q, a, b))


def samples_needed(limit: float, confidence: float = 0.95) -> int:
    """The smallest ``n`` whose upper bound with zero flagged items is at most ``limit``: below
    it, a gate ``upper bound <= limit`` fails whatever the sample holds."""
    _check(confidence)
    if not 0.0 < limit < 1.0:
        raise ValueError(f"limit must be in (0, 1); got {limit!r}")
    n = math.ceil(math.log(1.0 - confidence) / math.log(1.0 - limit))
    # Guard the float rounding of the closed form against the definition.
    while n > 1 and 1.0 - (1.0 - confidence) ** (1.0 / (n - 1)) <= limit:
        n -= 1
    while 1.0 - (1.0 - confidence) ** (1.0 / n) > limit:
        n += 1
    return n


def gate_notes(flagged: int, n: int, confidence: float) -> list[str]:
    """What a reader needs to judge a gate on this evaluation: the bound, the smallest limit
    this sample size can pass, and the sample size common limits need."""
    upper = clopper_pearson_upper(flagged, n, confidence)
    floor = clopper_pearson_upper(0, n, confidence)
    needs = ", ".join(f"{limit:g} needs n >= {samples_needed(limit, confidence)}" for limit in NOTE_LIMITS)
    return [f"{flagged} of {n} item(s) flagged; one-sided {confidence:.0%} Clopper-Pearson upper "
            f"bound on the rate: {upper:.4g}",
            f"with {n} item(s), a gate 'flagged_rate_upper <= L' can pass only if L >= {floor:.4g} "
            f"(the bound with nothing flagged); {needs}"]


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact two-sided interval on a proportion after ``k`` successes in ``n`` trials
    (``(0, 1)`` when ``n`` is 0): what the model cards and the benchmark quote."""
    _check(confidence)
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= k <= n; got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import beta

    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high
