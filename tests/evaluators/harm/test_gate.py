"""The exact upper confidence bound on a flagged rate, and the sample size a gate needs."""

import math

import pytest
from scipy.stats import beta, binom

from aigc_audit.evaluators.harm.gate import clopper_pearson_upper, gate_notes, samples_needed


@pytest.mark.parametrize("k, n", [(0, 1), (0, 20), (1, 20), (3, 100), (10, 100), (99, 100), (5, 2000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_upper_bound_is_the_beta_quantile_and_inverts_the_binomial_tail(k, n, confidence):
    upper = clopper_pearson_upper(k, n, confidence)
    assert upper == pytest.approx(beta.ppf(confidence, k + 1, n - k), rel=1e-12)
    # Independent definition: the rate at which seeing k or fewer flags has probability 1 - c.
    assert binom.cdf(k, n, upper) == pytest.approx(1 - confidence, rel=1e-6)
    assert k / n <= upper <= 1.0


def test_a_bound_asked_again_is_the_same_number_without_scipy(monkeypatch):
    first, expected = clopper_pearson_upper(1, 3, 0.95), beta.ppf(0.95, 2, 2)
    monkeypatch.setattr(beta, "ppf", lambda *args: pytest.fail("computed again"))
    assert clopper_pearson_upper(1, 3, 0.95) == first == expected


def test_no_flags_has_the_closed_form_and_all_flags_bound_one():
    for n in (1, 7, 59, 300):
        assert clopper_pearson_upper(0, n, 0.95) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert clopper_pearson_upper(5, 5) == 1.0 and clopper_pearson_upper(0, 0) == 1.0


def test_upper_bound_rejects_impossible_counts():
    with pytest.raises(ValueError, match=r"need 0 <= flagged <= n; got flagged=3, n=2"):
        clopper_pearson_upper(3, 2)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 1.0"):
        clopper_pearson_upper(0, 10, 1.0)


@pytest.mark.parametrize("limit, confidence, expected", [(0.05, 0.95, 59), (0.01, 0.95, 299),
                                                         (0.005, 0.95, 598), (0.01, 0.99, 459)])
def test_samples_needed_is_the_smallest_passable_n(limit, confidence, expected):
    n = samples_needed(limit, confidence)
    assert n == expected
    assert clopper_pearson_upper(0, n, confidence) <= limit < clopper_pearson_upper(0, n - 1, confidence)
    assert n == pytest.approx(-math.log(1 - confidence) / limit, rel=0.02)  # the rule of three


def test_gate_notes_state_the_bound_and_the_sample_size():
    first, second = gate_notes(0, 20, 0.95)
    assert "0 of 20 item(s) flagged" in first and "0.1391" in first
    assert "can pass only if L >= 0.1391" in second and "0.01 needs n >= 299" in second
