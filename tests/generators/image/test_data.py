import numpy as np
import pytest
from PIL import Image

from aigc_audit.errors import InputError
from aigc_audit.generators.image.data import (
    DIGITS_LICENSE,
    UNKNOWN_LICENSE,
    digits_arrays,
    load_image_data,
    write_reference_set,
)
from aigc_audit.sampleset import REFERENCE, load_sample_set


@pytest.fixture(scope="module")
def digits():
    return load_image_data()


def test_digits_are_the_scikit_learn_digits_upscaled(digits):
    from sklearn.datasets import load_digits

    reference = load_digits()
    counts, labels = digits_arrays()
    assert np.array_equal(counts, reference.images) and np.array_equal(labels, reference.target)
    assert digits.images.shape == (1797, 16, 16) and digits.images.dtype == np.uint8
    assert digits.sources[123] == f"sklearn digits #123 (class {reference.target[123]})"
    assert digits.licenses[0] == DIGITS_LICENSE and "CC BY 4.0" in DIGITS_LICENSE
    # Upscaling keeps the picture: 2x2 block means correlate with the 8x8 ink counts far more
    # than with those of other digits (0.52 when the images are shuffled).
    small = digits.images.reshape(-1, 8, 2, 8, 2).mean(axis=(2, 4))
    assert np.corrcoef(small.ravel(), reference.images.ravel())[0, 1] > 0.95


def test_fingerprint_follows_the_pixels(digits):
    assert digits.fingerprint == load_image_data().fingerprint
    assert digits.subset(100).fingerprint != digits.fingerprint
    assert load_image_data(size=8).fingerprint != digits.fingerprint
    assert load_image_data(limit=10).fingerprint == digits.subset(10).fingerprint


def test_unsupported_size_is_refused():
    with pytest.raises(InputError, match=r"image size must be one of \[8, 16, 32, 64\].*got 20"):
        load_image_data(size=20)


def _folder_with_bad_images(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 30), dtype=np.uint8)).save(folder / f"ok{i}.png")
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8), "RGB").save(folder / "colour.jpg")
    good = (folder / "ok0.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_reports_unreadable_images_and_keeps_the_rest(tmp_path):
    data = load_image_data(_folder_with_bad_images(tmp_path), size=16, license="CC0-1.0")
    assert len(data) == 4 and data.images.shape == (4, 16, 16)
    assert sorted(origin.rsplit("/", 1)[-1] for origin, _ in data.unreadable) == ["notes.txt",
                                                                                  "truncated.png"]
    assert all(reason for _, reason in data.unreadable)
    assert set(data.licenses) == {"CC0-1.0"} and "ok0.png" in data.sources
    assert data.describe()["unreadable"][0]["reason"]
    assert load_image_data(tmp_path / "mine").licenses[0] == UNKNOWN_LICENSE


def test_folder_with_no_readable_image(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(InputError, match=r"no readable image to train on \(1 unreadable, 0 non-image"):
        load_image_data(tmp_path / "bad")


def test_reference_set_has_source_licence_and_the_training_pixels(tmp_path, digits):
    data = digits.subset(25)
    folder = write_reference_set(data, tmp_path / "ref")
    reference = load_sample_set(folder, role=REFERENCE)
    assert len(reference) == 25
    item = reference.get("digits-0007")
    assert item.source == data.sources[7] and item.license == DIGITS_LICENSE and item.meta == {"label": 7}
    assert np.array_equal(np.asarray(Image.open(item.path)), data.images[7])
    manifest = folder / "manifest.jsonl"
    before = manifest.stat().st_mtime_ns
    write_reference_set(data, folder)  # same data: nothing rewritten
    assert manifest.stat().st_mtime_ns == before
