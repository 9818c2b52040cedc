"""The Clopper-Pearson interval the extractable rate is reported with (the probe itself runs a
trained GPT in test_extraction.py)."""

import pytest

from aigc_audit.evaluators.memorization.k_extractable import clopper_pearson


def test_clopper_pearson_bounds():
    assert clopper_pearson(0, 500) == (0.0, pytest.approx(0.00735, abs=1e-5))
    lower, upper = clopper_pearson(5, 10)
    assert lower == pytest.approx(0.1871, abs=1e-4) and upper == pytest.approx(0.8129, abs=1e-4)
    assert clopper_pearson(10, 10)[1] == 1.0
