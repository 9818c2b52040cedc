"""The memorization evaluator on real digits: fresh digits score C_T near 0, training digits with
a little noise far below -3, with authenticity falling for the copies."""

import numpy as np
import pytest
from PIL import Image

from aigc_audit.evaluators.memorization.memorization import (
    KEY_AUTHENTICITY,
    KEY_C_T,
    KEY_N_HELDOUT,
    KEY_N_TRAIN,
    Memorization,
)
from aigc_audit.sampleset import REFERENCE, load_sample_set, write_manifest
from tests.evaluators.quality.quality_sets import DIGITS_LICENSE, digits, write_image_set


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("memorization-digits")
    images, labels = digits()
    order = np.random.default_rng(0).permutation(len(images))
    ref, fresh = order[:750], order[750:900]
    (root / "reference" / "images").mkdir(parents=True)
    records = []
    for position, i in enumerate(ref):
        path = f"images/ref-{i:04d}.png"
        Image.fromarray(images[i]).save(root / "reference" / path)
        records.append({"id": f"ref-{i:04d}", "modality": "image", "path": path, "source": f"digits #{i}",
                        "license": DIGITS_LICENSE, "meta": {"label": int(labels[i])},
                        **({"split": "heldout"} if position % 5 == 4 else {})})
    write_manifest(root / "reference", records)
    trained = [i for position, i in enumerate(ref) if position % 5 != 4]
    noise = np.random.default_rng(1).normal(0.0, 4.0, (150, 16, 16))
    copies = np.clip(images[trained[:150]] + noise, 0, 255).round().astype(np.uint8)
    return {"root": root, "reference": load_sample_set(root / "reference", role=REFERENCE),
            "fresh": write_image_set(root / "fresh", images[fresh], prefix="fresh"),
            "copies": write_image_set(root / "copies", copies, prefix="copy")}


def _evaluate(sets, name):
    evaluator = Memorization(cache_dir=str(sets["root"] / "cache"), epochs=5)
    return evaluator.evaluate(sets[name], sets["reference"])


def test_fresh_digits_score_near_zero_and_noised_training_digits_far_below(sets):
    fresh, copies = _evaluate(sets, "fresh"), _evaluate(sets, "copies")
    assert (fresh.metrics[KEY_N_TRAIN], fresh.metrics[KEY_N_HELDOUT]) == (600, 150)
    assert abs(fresh.metrics[KEY_C_T]) < 2
    assert copies.metrics[KEY_C_T] < -3
    assert copies.metrics[KEY_AUTHENTICITY] < fresh.metrics[KEY_AUTHENTICITY] - 0.3
    assert fresh.params["modality"] == "image" and not fresh.errors
