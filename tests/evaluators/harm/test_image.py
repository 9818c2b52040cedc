"""The image harm evaluator: label mapping through a fake detector, unreadable files, the missing
optional extra, and the real NudeNet model when the extra is installed."""

import sys

import numpy as np
import pytest
from PIL import Image

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm.image import HarmImage
from aigc_audit.evaluators.harm.nudenet import LABEL_MAP, NudeNetClassifier
from aigc_audit.sampleset import Item, SampleSet


def _image(path, colour, size=(64, 64)):
    Image.new("RGB", size, colour).save(path)
    return path


def _set(paths):
    items = tuple(Item(id=f"img-{i}", modality="image", path=p) for i, p in enumerate(paths))
    return SampleSet(path=None, kind="test", role="samples", items=items, sha256="0")


def fake_detector(bgr):
    """'Detects' exposed content in red images, a covered part in blue ones, a face in green."""
    b, g, r = (int(v) for v in bgr[0, 0])
    if r > 200 and g < 50:
        return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.91, "box": [1, 2, 30, 30]},
                {"class": "FACE_FEMALE", "score": 0.99, "box": [0, 0, 10, 10]}]
    if b > 200 and r < 50:
        return [{"class": "BUTTOCKS_COVERED", "score": 0.95, "box": [0, 0, 5, 5]}]
    return [{"class": "FACE_MALE", "score": 0.8, "box": [0, 0, 8, 8]}] if g > 200 else []


def _evaluator(**params):
    return HarmImage(classifier_factory=lambda: NudeNetClassifier(detector=fake_detector,
                                                                  labels=list(LABEL_MAP)), **params)


def test_exposed_labels_map_to_s12_and_others_to_nothing(tmp_path):
    paths = [_image(tmp_path / f"{name}.png", colour)
             for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("green", (0, 255, 0)),
                                  ("grey", (128, 128, 128)))]
    evaluation = _evaluator().evaluate(_set(paths), None)
    assert [r.flagged for r in evaluation.items] == [True, False, False, False]
    first = evaluation.items[0]
    assert first.score == pytest.approx(0.91) and first.evidence["label"] == "FEMALE_BREAST_EXPOSED"
    assert first.evidence["detections"] == [
        {"label": "FEMALE_BREAST_EXPOSED", "score": 0.91, "box": [1, 2, 30, 30]}]
    assert evaluation.items[1].score == 0.0 and evaluation.items[1].evidence["label"] is None
    assert evaluation.metrics["flagged_count"] == 1.0 and evaluation.metrics["flagged_rate"] == 0.25
    assert HarmImage.describe(first).startswith("S12 (sexual content) score 0.910 >= 0.5")


def test_unreadable_images_are_item_errors(tmp_path):
    good = _image(tmp_path / "red.png", (255, 0, 0))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    tiny = _image(tmp_path / "tiny.png", (255, 0, 0), size=(2, 2))
    evaluation = _evaluator().evaluate(_set([good, junk, tiny]), None)
    assert set(evaluation.errors) == {"img-1", "img-2"}
    assert "cannot decode" in evaluation.errors["img-1"] or "not an image" in evaluation.errors["img-1"]
    assert [r.item_id for r in evaluation.items] == ["img-0"] and evaluation.n_items == 3
    assert any("could not be scored" in note.text for note in evaluation.notes)


def test_detector_label_outside_the_map_is_an_item_error(tmp_path):
    def clf():
        return NudeNetClassifier(detector=lambda bgr: [{"class": "NEW_LABEL", "score": 0.9}],
                                 labels=list(LABEL_MAP))

    evaluation = HarmImage(classifier_factory=clf).evaluate(_set([_image(tmp_path / "a.png", "red")]), None)
    assert "label map does not know" in evaluation.errors["img-0"]


def test_missing_extra_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nudenet", None)  # makes ``import nudenet`` fail
    with pytest.raises(AuditError, match=r"needs the optional package 'nudenet'; install it with: pip "
                                         r"install -e '\.\[nsfw\]' in a checkout of aigc-audit, or pip "
                                         r"install 'dist/aigc_audit-[0-9.]+-py3-none-any\.whl\[nsfw\]' "
                                         r"from a built wheel \(AGPL-3.0"):
        HarmImage(classifier="nudenet").evaluate(_set([_image(tmp_path / "a.png", "red")]), None)


def test_text_only_sets_never_need_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nudenet", None)
    texts = SampleSet(path=None, kind="t", role="samples", sha256="0",
                      items=(Item(id="t", modality="text", text="hello"),))
    assert HarmImage().evaluate(texts, None).n_items == 0


def test_real_nudenet_runs_offline_on_a_benign_image(tmp_path):
    pytest.importorskip("nudenet", reason="the optional nsfw extra is not installed")
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    noise.save(tmp_path / "noise.png")
    _image(tmp_path / "plain.png", (200, 180, 160), size=(300, 200))
    images = _set([tmp_path / "noise.png", tmp_path / "plain.png"])
    evaluation = HarmImage(classifier="nudenet").evaluate(images, None)
    assert evaluation.errors == {} and len(evaluation.items) == 2
    assert not any(r.flagged for r in evaluation.items)
    assert evaluation.items[0].evidence["classifier_version"].startswith("nudenet==3.")
