"""Sample-size notes are typed: readers select them by kind, never by wording."""

from aigc_audit.evaluators.base import NOTE_COUNTS, NOTE_TOO_FEW, Note
from aigc_audit.evaluators.quality.sample_size import counts_note, too_few, too_few_to_compute


def test_counts_note_is_a_counts_note():
    note = counts_note("frechet_distance", "200 generated vs 1797 reference images")
    assert note == Note(NOTE_COUNTS, "frechet_distance: computed on 200 generated vs 1797 reference images")


def test_too_few_is_a_too_few_note_below_the_minimum_only():
    note = too_few("mauve", 25, 100, "MAUVE is coarse")
    assert note == Note(NOTE_TOO_FEW, "too few samples for mauve: 25 < 100; MAUVE is coarse")
    assert too_few("mauve", 100, 100, "MAUVE is coarse") is None


def test_a_skip_reason_is_a_plain_sentence():
    reason = too_few_to_compute("5 generated text(s), fewer than min_samples=20")
    assert reason == "too few samples: 5 generated text(s), fewer than min_samples=20"
    assert isinstance(reason, str)
