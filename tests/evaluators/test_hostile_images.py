"""Hostile image items in every evaluator that opens images: an EPS named ``.png``, a file over the
size limit, a colour mode that cannot be converted and an oversized text are each one counted item
error, and the rest of the run goes on; a LAB TIFF, which used to end the run, is read."""

import re

import numpy as np
import pytest
from PIL import Image

from aigc_audit import images
from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.evaluators.features.image_features import load_pixels
from aigc_audit.evaluators.harm.image import HarmImage
from aigc_audit.evaluators.harm.nudenet import LABEL_MAP, NudeNetClassifier
from aigc_audit.evaluators.item_integrity import KEY_UNREADABLE_COUNT, ItemIntegrity
from aigc_audit.images import MAX_IMAGE_BYTES_ENV
from aigc_audit.sampleset import MAX_TEXT_BYTES_ENV, REFERENCE, SAMPLES, Item, SampleSet, load_sample_set

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n%%EOF\n"
HOSTILE = {"cmyk": r"cannot convert image cmyk\.jpg from colour mode CMYK",
           "eps": r"signature of image format EPS", "huge": r"image file of \d+ bytes exceeds"}


def _noise(path, seed, size=(32, 32)):
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, size, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def items(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "20000")
    normalise = images._normalise_mode

    def no_cmyk(image, mode):  # stands for a colour mode Pillow cannot convert
        if image.mode == "CMYK":
            raise ValueError(f"conversion from CMYK to {mode} not supported")
        return normalise(image, mode)

    monkeypatch.setattr(images, "_normalise_mode", no_cmyk)
    Image.new("CMYK", (32, 32), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (32, 32, 3), dtype=np.uint8), "LAB") \
        .save(tmp_path / "lab.tif")
    (tmp_path / "eps.png").write_bytes(EPS)
    _noise(tmp_path / "huge.png", 1, size=(400, 400))
    _noise(tmp_path / "good.png", 2)
    paths = {"cmyk": "cmyk.jpg", "eps": "eps.png", "huge": "huge.png", "lab": "lab.tif", "good": "good.png"}
    return [Item(id=k, modality="image", path=tmp_path / v) for k, v in paths.items()]


def _set(items, role=SAMPLES):
    return SampleSet(path=None, kind="test", role=role, items=tuple(items), sha256="0")


def _assert_counted(errors):
    assert set(errors) == set(HOSTILE)
    for item_id, pattern in HOSTILE.items():
        assert re.search(pattern, errors[item_id]), errors[item_id]


def test_item_integrity(items):
    result = ItemIntegrity().evaluate(_set(items), None)
    _assert_counted(result.errors)
    assert result.metrics[KEY_UNREADABLE_COUNT] == 3.0


def test_image_near_duplicate(items, tmp_path):
    ref = [Item(id=f"r{i}", modality="image", path=_noise(tmp_path / f"r{i}.png", 10 + i), source="s",
                license="l") for i in range(3)]
    result = ImageNearDuplicate().evaluate(_set(items), _set(ref, REFERENCE))
    _assert_counted(result.errors)
    assert [r.item_id for r in result.items] == ["lab", "good"]


def test_harm_image(items):
    factory = lambda: NudeNetClassifier(detector=lambda bgr: [], labels=list(LABEL_MAP))  # noqa: E731
    result = HarmImage(classifier_factory=factory).evaluate(_set(items), None)
    _assert_counted(result.errors)
    assert [r.item_id for r in result.items] == ["lab", "good"]


def test_image_features_pixels(items):
    pixels = load_pixels(items, size=16)
    _assert_counted(pixels.errors)
    assert [i.id for i in pixels.items] == ["lab", "good"] and pixels.array.shape == (2, 16, 16)


def test_item_integrity_counts_oversized_texts(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_TEXT_BYTES_ENV, "50")
    path = tmp_path / "s.txt"
    path.write_text("a fine line\n" + "x" * 51 + "\n", encoding="utf-8")
    samples = load_sample_set(path)
    result = ItemIntegrity().evaluate(samples, None)
    big = samples.items[1]
    assert result.errors == {big.id: big.unreadable} and big.unreadable.startswith("text of 51 bytes")
    assert [r.flagged for r in result.items] == [False, True]
    assert result.metrics[KEY_UNREADABLE_COUNT] == 1.0
