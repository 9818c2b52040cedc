"""Threshold calibration at a target false-positive rate, on synthetic sets with known answers."""

import numpy as np
import pytest

from aigc_audit.evaluators.base import NOTE_TOO_FEW
from aigc_audit.evaluators.harm.calibration import calibrate, calibrate_threshold
from aigc_audit.evaluators.harm.labels import read_labels


def test_known_answer_on_a_uniform_grid():
    negative = [i / 1000 for i in range(1000)]      # 0.000 ... 0.999
    positive = [0.5, 0.98, 0.995, 0.999]
    c = calibrate_threshold(negative, positive, 0.01, category="S10")
    # 10 negatives may be flagged: 0.990 ... 0.999; 0.989 must not be.
    assert c.threshold == 0.99 and c.false_positives == 10 and c.fpr == 0.01
    assert c.recall == 0.5 and c.n_negative == 1000 and c.notes == ()


def test_threshold_is_the_lowest_that_meets_the_target_on_random_scores():
    rng = np.random.default_rng(0)
    negative, positive = rng.beta(2, 5, 5000), rng.beta(5, 2, 500)
    for target in (0.001, 0.01, 0.05, 0.2):
        c = calibrate_threshold(negative, positive, target)
        assert (negative >= c.threshold).mean() <= target
        # Any lower threshold that flags one more negative breaks the target.
        next_negative = negative[negative < c.threshold].max()
        assert (negative >= next_negative).mean() > target
        assert c.recall == pytest.approx((positive >= c.threshold).mean())


def test_ties_at_the_boundary_are_not_split():
    c = calibrate_threshold([0.9, 0.9, 0.9, 0.1], [0.95], 0.5)  # 2 may be flagged; 3 tie at 0.9
    assert c.threshold > 0.9 and c.false_positives == 0 and c.recall == 1.0


def test_too_few_negatives_is_said():
    c = calibrate_threshold([0.1, 0.2, 0.3], [0.9], 0.01)
    assert c.threshold > 0.3 and c.false_positives == 0
    assert c.notes[0].kind == NOTE_TOO_FEW
    assert "only 3 negative example(s)" in c.notes[0].text and "100 negatives" in c.notes[0].text
    with pytest.raises(ValueError, match=r"no negative examples for category 'S1'; "
                                         r"label benign texts 'none'"):
        calibrate_threshold([], [0.9], 0.01, category="S1")


def test_other_categories_are_neither_positive_nor_negative():
    scores = [{"profanity": 0.9, "insult": 0.9}, {"profanity": 0.95, "insult": 0.95},
              {"profanity": 0.1, "insult": 0.1}, {"profanity": 0.2, "insult": 0.2}]
    labels = [frozenset(["profanity"]), frozenset(["insult"]), frozenset(), frozenset()]
    by_category = {c.category: c for c in calibrate(scores, labels, ["profanity", "insult"], 0.4)}
    assert by_category["profanity"].n_negative == 2 and by_category["profanity"].recall == 1.0
    assert by_category["insult"].n_positive == 1 and by_category["insult"].recall == 1.0


def test_labels_file_problems_name_file_and_line(tmp_path):
    from aigc_audit.errors import InputError

    path = tmp_path / "labels.csv"
    path.write_text("text,category\nhello,none\nbad,S15\n")
    with pytest.raises(InputError, match=r"labels.csv:3: unknown harm category 'S15'"):
        read_labels(path)
    path.write_text("text,label\nhello,none\n")
    with pytest.raises(InputError, match=r"labels.csv:1: the header must name columns "
                                         r"\['text', 'category'\]"):
        read_labels(path)
    path.write_text("text,category\nhello,\n")
    with pytest.raises(InputError, match=r"labels.csv:2: empty category; use a category of .* or 'none'"):
        read_labels(path)
    path.write_text('text,category\n"multi\nline",hate;insult\n')
    rows = read_labels(path)
    assert rows[0].text == "multi\nline" and rows[0].categories == {"S10", "insult"}
