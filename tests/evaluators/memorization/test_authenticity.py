"""Authenticity drops when generated samples are copies; alpha-precision and beta-recall are high
for samples from the training distribution and low for a collapsed generator."""

import numpy as np
import pytest

from aigc_audit.evaluators.memorization.authenticity import authentic_mask, fidelity


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng, rng.normal(size=(400, 6))


def test_fresh_samples_are_mostly_authentic_and_copies_are_not(data):
    rng, train = data
    fresh = fidelity(train, rng.normal(size=(300, 6)))
    copies = fidelity(train, train[rng.choice(400, 300)] + rng.normal(scale=0.01, size=(300, 6)))
    assert 0.4 < fresh.authenticity < 0.8
    assert copies.authenticity < 0.05
    # Half copies, half fresh: in between.
    mixed = fidelity(train, np.concatenate([train[:150] + 0.01, rng.normal(size=(150, 6))]))
    assert copies.authenticity < mixed.authenticity < fresh.authenticity


def test_authentic_mask_by_hand():
    train = np.array([[0.0], [1.0], [3.0]])  # nearest-neighbour gaps 1, 1, 2
    points = np.array([[0.5], [0.1], [3.0], [5.5]])
    # 0.5 from 0 (gap 1): inside; 0.1: inside; on 3: inside; 2.5 from 3 (gap 2): authentic.
    assert authentic_mask(train, points).tolist() == [False, False, False, True]


def test_alpha_precision_and_beta_recall(data):
    rng, train = data
    matched = fidelity(train, rng.normal(size=(400, 6)))
    collapsed = fidelity(train, rng.normal(size=(400, 6)) * 0.1 + train[0])
    assert matched.alpha_precision > 0.85
    assert collapsed.alpha_precision < 0.6 and collapsed.beta_recall < 0.2
    assert matched.beta_recall > collapsed.beta_recall + 0.3
