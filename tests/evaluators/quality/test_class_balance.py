"""Class balance: normalised entropy of predicted classes."""

import numpy as np
import pytest

from aigc_audit.evaluators.quality.class_balance import class_balance


def test_one_class_scores_zero_and_a_uniform_spread_scores_one():
    collapsed = class_balance(np.full(50, 3), 10)
    assert collapsed.entropy == pytest.approx(0.0) and collapsed.dominant_share == 1.0
    assert collapsed.dominant_class == 3
    uniform = class_balance(np.repeat(np.arange(10), 7), 10)
    assert uniform.entropy == pytest.approx(1.0) and uniform.dominant_share == pytest.approx(0.1)


def test_two_of_four_classes_is_half_the_entropy():
    assert class_balance(np.array([0, 1, 0, 1]), 4).entropy == pytest.approx(0.5)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes; got 1"):
        class_balance(np.array([0]), 1)
    with pytest.raises(ValueError, match=r"must be in \[0, 3\); got range \[0, 5\]"):
        class_balance(np.array([0, 5]), 3)
