import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from aigc_audit.demo.images import COPY_EVERY, EDITS, _plant_copies, build_image_sets, image_release
from aigc_audit.generators.image.data import load_image_data
from aigc_audit.sampleset import IMAGE, REFERENCE, load_sample_set, write_manifest


@pytest.fixture(scope="module")
def digits():
    return load_image_data()


def _healthy(folder, n=30):
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        path = f"images/{i:05d}.png"
        (folder / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(folder / path)
        records.append({"id": f"vae-s0-{i:05d}", "modality": IMAGE, "path": path,
                        "provenance": {"generator": "vae", "seed": 0, "params": {"index": i}}})
    write_manifest(folder, records)
    return folder


def test_planted_copies_are_edited_training_images(tmp_path, digits):
    healthy = _healthy(tmp_path / "healthy", n=90)
    folder = _plant_copies(healthy, tmp_path / "copying", digits)
    items = load_sample_set(folder).items
    assert [item.id for item in items] == [item.id for item in load_sample_set(healthy).items]
    planted = [item for item in items if item.meta]
    assert len(planted) == 90 // COPY_EVERY
    assert {item.meta["edit"] for item in planted} == set(EDITS)
    for position, item in enumerate(items):
        if position % COPY_EVERY:
            assert item.path.read_bytes() == (healthy / "images" / item.path.name).read_bytes()
            continue
        original = digits.images[digits.ids.index(item.meta["planted_copy_of"])].astype(float)
        edited = Image.open(item.path)
        if item.meta["edit"].startswith("JPEG"):
            assert edited.format == "JPEG"
        pixels = np.asarray(edited.convert("L").resize((16, 16), Image.Resampling.BILINEAR), float)
        if item.meta["edit"].startswith("shifted"):
            original = np.pad(original, ((0, 0), (1, 0)))[:, :16]
        if item.meta["edit"].startswith("flipped"):
            original = original[:, ::-1]
        if item.meta["edit"].startswith(("cropped", "turned", "captioned")):  # from the edit itself
            edit = EDITS[item.meta["edit"]][0]
            original = np.asarray(edit(original.astype(np.uint8)), float)
        # Close to its training original under the edit.
        assert np.abs(pixels - original).mean() < 12, item.meta["edit"]
        assert item.meta["source"].startswith("sklearn digits #")


@pytest.mark.slow
def test_image_releases_cold_then_warm(tmp_path):
    built = build_image_sets(tmp_path, Console(quiet=True))
    assert list(built) == ["vae-digits", "gan-digits", "vae-digits-copying"]
    for samples, reference in built.values():
        assert len(load_sample_set(samples)) == 100
        assert len(load_sample_set(reference, role=REFERENCE)) == 1797
    mtime = (tmp_path / "checkpoints" / "gan" / "model.safetensors").stat().st_mtime_ns
    # A release builds through the same sets, and a warm build trains nothing.
    warm = image_release("gan-digits", "d", "pass").build(tmp_path, Console(quiet=True))
    assert warm == built["gan-digits"]
    assert (tmp_path / "checkpoints" / "gan" / "model.safetensors").stat().st_mtime_ns == mtime
