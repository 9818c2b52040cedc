"""The memorization evaluator on text: held-out items from the reference set, C_T and
authenticity through the policy's metrics, and the skip when nothing is held out."""

import hashlib

import numpy as np
import pytest

from aigc_audit.evaluators.memorization.memorization import (
    KEY_AUTHENTICITY,
    KEY_C_T,
    KEY_HELDOUT_AUTHENTICITY,
    KEY_N_HELDOUT,
    KEY_N_TRAIN,
    Memorization,
)
from aigc_audit.sampleset import REFERENCE, load_sample_set, write_manifest


def fake_embed(texts):
    """Each distinct text a fixed random point: identical texts coincide, others are independent
    draws from one Gaussian, so 'fresh' texts are fresh draws in feature space."""
    return np.stack([np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
                     .normal(size=8) for t in texts])


@pytest.fixture
def reference(tmp_path):
    records = [{"id": f"r{i}", "modality": "text", "text": f"training text {i}", "source": f"doc {i}",
                "license": "CC0", **({"split": "heldout"} if i % 4 == 3 else {})} for i in range(400)]
    write_manifest(tmp_path / "reference", records)
    return load_sample_set(tmp_path / "reference", role=REFERENCE)


def _samples(tmp_path, texts):
    write_manifest(tmp_path / "samples", [{"id": f"s{i}", "modality": "text", "text": t}
                                          for i, t in enumerate(texts)])
    return load_sample_set(tmp_path / "samples")


def test_fresh_texts_pass_and_copies_of_training_texts_score_strongly_negative(tmp_path, reference):
    evaluator = Memorization(embedder=fake_embed)
    fresh = evaluator.evaluate(_samples(tmp_path / "a", [f"new text {i}" for i in range(100)]), reference)
    copies = evaluator.evaluate(_samples(tmp_path / "b", [f"training text {i}" for i in range(0, 200, 2)]),
                                reference)
    assert (fresh.metrics[KEY_N_TRAIN], fresh.metrics[KEY_N_HELDOUT]) == (300, 100)
    assert abs(fresh.metrics[KEY_C_T]) < 2 and copies.metrics[KEY_C_T] < -3
    assert copies.metrics[KEY_AUTHENTICITY] == 0.0 < fresh.metrics[KEY_AUTHENTICITY]
    assert fresh.metrics[KEY_HELDOUT_AUTHENTICITY] > 0.3
    # Each item names its nearest training item; a copy sits on it.
    first = next(r for r in copies.items if r.item_id == "s1")
    assert first.evidence["nearest_training_id"] == "r2" and first.evidence["distance"] == 0.0
    assert first.score == 1.0 and all(0.0 < r.score < 1.0 for r in fresh.items)
    c_t_note = copies.notes[-3].text
    assert c_t_note.startswith("C_T = ") and "closer to their nearest training item" in c_t_note


def test_a_reference_set_without_held_out_items_skips_with_the_reason(tmp_path):
    records = [{"id": f"r{i}", "modality": "text", "text": f"t {i}", "source": "s", "license": "l"}
               for i in range(50)]
    write_manifest(tmp_path / "reference", records)
    reference = load_sample_set(tmp_path / "reference", role=REFERENCE)
    evaluation = Memorization(embedder=fake_embed).evaluate(_samples(tmp_path, ["x"] * 30), reference)
    assert evaluation.skip_reason.startswith('the reference set marks 0 text item(s) as held out ("split": '
                                             '"heldout"), fewer than min_heldout=10')


def test_bad_split_is_refused_with_file_and_line(tmp_path):
    from aigc_audit.errors import InputError

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "manifest.jsonl").write_text(
        '{"id": "a", "modality": "text", "text": "x", "source": "s", "license": "l", "split": "test"}\n')
    with pytest.raises(InputError, match=r"manifest.jsonl:1: 'split' must be one of \['train', 'heldout'\]; "
                                         r"got 'test'"):
        load_sample_set(tmp_path / "r", role=REFERENCE)
