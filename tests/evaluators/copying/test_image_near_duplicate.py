"""The image copy check on scikit-learn's digits, upscaled to 16x16 as the image generators train
on them: planted copies under each edit that copying survives, distinct digits of the same class,
every kind of bad input, and a full CLI audit of a mixed text and image release."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

import aigc_audit.evaluators.copying.image_near_duplicate as ind
import aigc_audit.evaluators.copying.reference_index as ri
from aigc_audit.evaluators.base import NOTE_INFO
from aigc_audit.evaluators.copying.image_alignment import Alignment, foreign_overlay
from aigc_audit.evaluators.copying.image_near_duplicate import (
    KEY_FLAGGED_COUNT,
    KEY_MEDIAN_PIXEL_DISTANCE,
    KEY_MIN_PIXEL_DISTANCE,
    KEY_SHARE_FLAGGED,
    KEY_UNREADABLE_REFERENCE,
    ImageNearDuplicate,
    _by_variant,
    _confirmed,
    box_between,
    colour_pair,
    confidence,
    frame_box,
    frame_boxes,
    hue_turned_greys,
    orient,
    turned_back,
)
from aigc_audit.evaluators.copying.pixel_distance import gaussian_blur
from aigc_audit.evaluators.copying.reference_index import ReferenceIndex, update_index
from aigc_audit.sampleset import IMAGE, REFERENCE, SAMPLES, TEXT, Item, SampleSet
from tests.conftest import provenance, run_cli, write_jsonl
from tests.evaluators.copying.two_workers import evaluate_in_two_workers

SIDE = 16
LICENSE = "CC BY 4.0"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    loaded = load_digits()
    return np.rint(loaded.images / 16 * 255).astype(np.uint8), loaded.target


def digit(digits, index: int, side: int = SIDE) -> Image.Image:
    return Image.fromarray(digits[0][index]).resize((side, side), Image.Resampling.BILINEAR)


def _item(item_id: str, path: Path, **extra) -> Item:
    return Item(id=item_id, modality=IMAGE, path=path, **extra)


def _set(items, role: str = SAMPLES) -> SampleSet:
    return SampleSet(path=Path("."), kind="test", role=role, items=tuple(items), sha256="0")


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _reference(digits, folder: Path, indices) -> SampleSet:
    return _set([_item(f"ref-{i}", _save(digit(digits, i), folder / f"ref-{i}.png"),
                       source=f"sklearn digits #{i}", license=LICENSE) for i in indices], REFERENCE)


# -- the edits that copying survives --------------------------------------------------------
def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def _shift(image, rng):
    a = np.asarray(image)
    dx, dy = [(1, 0), (-1, 0), (0, 1), (0, -1)][rng.integers(4)]
    moved = np.zeros_like(a)  # the uncovered border is black, as a naive copy would leave it
    moved[max(dy, 0):a.shape[0] + min(dy, 0), max(dx, 0):a.shape[1] + min(dx, 0)] = \
        a[max(-dy, 0):a.shape[0] + min(-dy, 0), max(-dx, 0):a.shape[1] + min(-dx, 0)]
    return Image.fromarray(moved)


def _brightness(image, rng):
    if rng.integers(2):
        return ImageEnhance.Brightness(image).enhance(float(rng.choice([0.85, 1.15])))
    return Image.fromarray(np.clip(np.asarray(image, np.int16) + int(rng.choice([-20, 20])), 0, 255)
                           .astype(np.uint8))


def _noise(image, rng):
    a = np.asarray(image, np.float64)
    return Image.fromarray(np.clip(np.rint(a + rng.normal(0, 8, a.shape)), 0, 255).astype(np.uint8))


def _unchanged(image, rng):
    return image


# name: (edit, how the copy is saved)
EDITS: dict[str, tuple[Callable, dict]] = {
    "resize_up_24px": (lambda image, rng: image.resize((24, 24), Image.Resampling.BICUBIC), {}),
    "resize_down_12px": (lambda image, rng: image.resize((12, 12), Image.Resampling.BICUBIC), {}),
    "jpeg_q70": (_unchanged, {"format": "JPEG", "quality": 70}),
    "jpeg_q95": (_unchanged, {"format": "JPEG", "quality": 95}),
    "shift_1px": (_shift, {}),
    "brightness": (_brightness, {}),
    "noise_sigma8": (_noise, {}),
    # A 1 px blur of a 16 px digit moves the standardised pixels more than a distinct digit does;
    # only the smoothed comparison, which blurs the training image the same way, confirms it.
    "blur_radius1": (lambda image, rng: image.filter(ImageFilter.GaussianBlur(1)), {}),
    "flip_left_right": (lambda image, rng: image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), {}),
    "flip_top_bottom": (lambda image, rng: image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), {}),
    "rotate_90": (lambda image, rng: image.transpose(Image.Transpose.ROTATE_90), {}),
    "rotate_180": (lambda image, rng: image.transpose(Image.Transpose.ROTATE_180), {}),
    "rotate_270_jpeg_q70": (lambda image, rng: image.transpose(Image.Transpose.ROTATE_270),
                            {"format": "JPEG", "quality": 70}),
}
# The orientation the evidence must name for each edit that turns the image.
TURNED = {"flip_left_right": "flipped left-right", "flip_top_bottom": "flipped top-bottom",
          "rotate_90": "rotated 90", "rotate_180": "rotated 180", "rotate_270_jpeg_q70": "rotated 270"}
PER_EDIT = 30
DISTINCT = 120


@pytest.fixture(scope="module")
def planted(digits, tmp_path_factory):
    """One evaluation: the even-numbered digits are the training set; 30 of them are copied
    under each edit, and 120 odd-numbered digits of the same classes are the distinct images."""
    folder = tmp_path_factory.mktemp("planted")
    images, labels = digits
    train = np.arange(0, len(images), 2)
    held_out = np.arange(1, len(images), 2)
    reference = _reference(digits, folder / "reference", train)
    rng = np.random.default_rng(0)
    sources = rng.choice(train, PER_EDIT, replace=False)
    items, truth = [], {}
    for name, (edit, save) in EDITS.items():
        for source in sources:
            suffix = ".jpg" if save.get("format") == "JPEG" else ".png"
            path = _save(edit(digit(digits, source), rng), folder / "samples" / f"{name}-{source}{suffix}",
                         **save)
            items.append(_item(path.stem, path))
            truth[path.stem] = (name, f"ref-{source}")
    same_class = held_out[np.isin(labels[held_out], labels[sources])]
    for index in rng.choice(same_class, DISTINCT, replace=False):
        path = _save(digit(digits, index), folder / "samples" / f"distinct-{index}.png")
        items.append(_item(path.stem, path))
        truth[path.stem] = ("distinct", None)
    result = ImageNearDuplicate().evaluate(_set(items), reference)
    return result, truth


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_planted_copy_survives_the_edit(planted, edit):
    result, truth = planted
    rows = [r for r in result.items if truth[r.item_id][0] == edit]
    assert len(rows) == PER_EDIT
    found = [r for r in rows if r.flagged and r.evidence["match_id"] == truth[r.item_id][1]]
    assert len(found) / len(rows) >= 0.95, [(r.item_id, r.evidence) for r in rows if r not in found]
    for r in found:
        assert r.evidence["match_license"] == LICENSE and r.evidence["match_source"].startswith("sklearn")
        assert r.evidence["pixel_distance"] <= 0.2 and r.evidence["hash_match"]
    if edit == "shift_1px":  # found by undoing the shift, and the evidence says which one
        assert sum(sum(map(abs, r.evidence["shift"])) == 1 for r in found) >= 0.9 * len(found)
    # Found by turning the image back, and the evidence names the turn (a symmetric digit may
    # match as is, so most, not all).
    expected = TURNED.get(edit, "as is")
    assert sum(r.evidence["orientation"] == expected for r in found) >= 0.9 * len(found)
    if edit == "blur_radius1":  # the evidence says the match needed the smoothed comparison (2
        # of the 30 blurred digits stay within the threshold on their grey levels as they are)
        smoothed = [r for r in found if r.evidence["compared_on"] == "smoothed grey levels"]
        assert len(smoothed) >= 0.8 * len(found)
        assert "as after noise, JPEG or blur" in ImageNearDuplicate.describe(smoothed[0])
    # Every confirmed copy of a digit is closer than most training digits are to their nearest
    # other one, and its confidence says so.
    assert all(r.evidence["confidence"] >= 0.9 for r in found)


def test_confidence_is_the_share_of_training_images_farther_apart(digits, tmp_path):
    assert confidence(0.1, np.array([0.05, 0.2, 0.3, 0.4])) == 0.75
    assert confidence(0.1, np.zeros(0)) is None
    # Training digit 7 twice: those two are 0 apart, so an exact copy stands out from all the
    # training digits measured (those with a neighbour by hash, as the notes count them) but two.
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    twin = _item("ref-7-again", _save(digit(digits, 7), tmp_path / "ref" / "twin.png"), license=LICENSE)
    reference = _set([*reference.items, twin], REFERENCE)
    copy = _save(digit(digits, 7), tmp_path / "copy.png")
    result = ImageNearDuplicate().evaluate(_set([_item("copy", copy)]), reference)
    counts = [re.search(r"the share of (\d+) sampled training images", note.text) for note in result.notes]
    measured = int(next(found for found in counts if found).group(1))
    assert 30 <= measured <= 41
    hit = result.items[0]
    assert hit.flagged and hit.evidence["confidence"] == round((measured - 2) / measured, 3)
    # A single training image has no neighbour: nothing to measure, and the notes say so.
    alone = ImageNearDuplicate().evaluate(_set([_item("copy", copy)]), _set([twin], REFERENCE))
    assert alone.items[0].flagged and alone.items[0].evidence["confidence"] is None
    assert any("could not be measured" in note.text for note in alone.notes)


def test_the_smoothed_look_confirms_only_a_match_closer_than_the_training_images_are_to_each_other(
        digits, tmp_path):
    rng = np.random.default_rng(0)
    blurred = _item("blurred", _save(digit(digits, 7).filter(ImageFilter.GaussianBlur(1)),
                                     tmp_path / "q.png"))
    # Twelve renditions of one digit, each with its own faint noise: smoothed, they are closer to
    # each other than the blurred copy is to any of them, so its closeness tells nothing.
    base = np.asarray(digit(digits, 7), np.float64)
    crowd = [_item(f"crowd-{k}", _save(Image.fromarray(np.clip(np.rint(base + rng.normal(0, 6, base.shape)),
                                                                   0, 255).astype(np.uint8)),
                                       tmp_path / f"crowd-{k}.png"), source="noisy 7", license=LICENSE)
             for k in range(12)]
    hit = ImageNearDuplicate().evaluate(_set([blurred]), _set(crowd, REFERENCE)).items[0]
    assert not hit.flagged and hit.evidence["compared_on"] == "grey levels"
    # One of them among thirty distinct digits: the same closeness now stands out.
    others = _reference(digits, tmp_path / "others", range(30, 60)).items
    hit = ImageNearDuplicate().evaluate(_set([blurred]), _set([*others, crowd[0]], REFERENCE)).items[0]
    assert hit.flagged and hit.evidence["match_id"] == "crowd-0"
    assert hit.evidence["compared_on"] == "smoothed grey levels" and hit.evidence["confidence"] == 1.0


def _sky_tile(seed: int) -> np.ndarray:
    """A 64 px tile of a pale sky: one gradient all the tiles share (its level a little off per
    tile), and a grain of its own of about 1.5 grey levels."""
    rng = np.random.default_rng(seed)
    ramp = (205.0 + rng.uniform(-2, 2) + np.linspace(0.0, 8.0, 64)[None, :]
            + np.linspace(0.0, 3.0, 64)[:, None])
    return ramp + 2.0 * gaussian_blur(rng.normal(0, 1, (1, 64, 64)), 0.7)[0]


def _grey(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "L")


def test_a_faint_pictures_copy_is_found_by_its_grain_and_another_like_it_is_not(tmp_path, monkeypatch):
    tiles = [_sky_tile(seed) for seed in range(12)]
    reference = _set([_item(f"sky-{k}", _save(_grey(tile), tmp_path / "ref" / f"{k}.png"), license=LICENSE)
                      for k, tile in enumerate(tiles)], REFERENCE)
    rng = np.random.default_rng(99)
    generated = {
        "noisy-4": _grey(tiles[4] + rng.normal(0, 3, (64, 64))),
        "gamma-7": _grey(255.0 * (tiles[7] / 255.0) ** 0.7),
        "flipped-noisy-2": _grey(tiles[2][:, ::-1] + rng.normal(0, 3, (64, 64))),
        "logo-9": _grey(np.where((np.arange(64)[:, None] < 14) & (np.arange(64)[None, :] > 46), 30.0,
                                 tiles[9])),
        "other-sky": _grey(_sky_tile(100)),
        "another-sky": _grey(_sky_tile(101) + rng.normal(0, 3, (64, 64))),
    }
    samples = _set([_item(name, _save(image, tmp_path / f"{name}.png")) for name, image in generated.items()])
    results = {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}
    for name, source, orientation in (("noisy-4", "sky-4", "as is"), ("gamma-7", "sky-7", "as is"),
                                      ("flipped-noisy-2", "sky-2", "flipped left-right"),
                                      ("logo-9", "sky-9", "as is")):
        hit = results[name]
        assert hit.flagged and hit.evidence["match_id"] == source, name
        assert hit.evidence["compared_on"] == "fine grain" and hit.evidence["grain_agreement"] >= 8
        assert hit.evidence["orientation"] == orientation
        said = ImageNearDuplicate.describe(hit)
        assert "compared on the fine grain" in said
        assert f"agree {hit.evidence['grain_agreement']:g} standard errors" in said
    assert not results["other-sky"].flagged and not results["another-sky"].flagged
    # The grain is what found the noisy ones: the other looks see the gradient all the tiles share,
    # and the noise as much as the picture.
    monkeypatch.setattr(ind, "MIN_GRAIN_AGREEMENT", np.inf)
    results = {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}
    assert not results["noisy-4"].flagged and not results["flipped-noisy-2"].flagged


def _pale_sky(seed: int, colour: tuple[float, float, float] = (180.0, 205.0, 235.0),
              level: float | None = None) -> Image.Image:
    """A 64 px tile of one pale sky in colour, as a photograph's tiles are: a gradient of 5 grey
    levels turned 3.5 degrees from the previous seed's (all of them alike once standardised, none
    the other turned or flipped), its level 3 grey levels from the previous seed's (``level``
    when given), and a grain of about 1.5 grey levels; a faint picture (grey levels spread ~2)."""
    rng = np.random.default_rng(seed)
    angle = np.radians(3.5 * seed + 2.0)
    y, x = np.mgrid[0:64, 0:64] / 63.0 - 0.5
    ramp = 5.0 * (np.cos(angle) * y + np.sin(angle) * x) + (3.0 * seed - 17.0 if level is None else level)
    light = ramp + 1.5 * gaussian_blur(rng.normal(0, 1, (1, 64, 64)), 0.7)[0]
    pixels = np.asarray(colour)[None, None, :] + light[..., None]
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)


def test_a_faint_pictures_copy_under_jpeg_is_found_by_its_block_levels(tmp_path, monkeypatch):
    skies = {seed: _pale_sky(seed) for seed in range(12)}
    # Two tiles of one sky side by side: their block levels a fraction of a grey level apart.
    twin = Image.fromarray(np.clip(np.asarray(skies[5], np.int16) + 1, 0, 255).astype(np.uint8))
    named = {f"sky-{s}": sky for s, sky in skies.items()} | {"sky-5-twin": twin}
    reference = _set([_item(name, _save(sky, tmp_path / "ref" / f"{name}.png"), source="s", license=LICENSE)
                      for name, sky in named.items()], REFERENCE)
    generated = {
        "jpeg50-3": _jpeg(skies[3], 50),
        "flipped-jpeg70-8": _jpeg(ImageOps.mirror(skies[8]), 70),
        "turned-jpeg70-11": _jpeg(skies[11].rotate(180), 70),
        "jpeg50-5": _jpeg(skies[5], 50),                       # a copy of the tile with a twin
        "other-sky": _jpeg(_pale_sky(100, level=3.0 * 4 - 17.0 + 1.5), 50),  # between sky-4 and sky-5
        # The same sky in another colour of the same grey: no copy of it.
        "pink-3": _jpeg(_pale_sky(3, colour=(228.0, 189.0, 190.0)), 50),
    }
    samples = _set([_item(name, _save(image, tmp_path / f"{name}.png")) for name, image in generated.items()])

    def found() -> dict:
        return {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}

    results = found()
    for name, source, orientation in (("jpeg50-3", "sky-3", "as is"),
                                      ("flipped-jpeg70-8", "sky-8", "flipped left-right"),
                                      ("turned-jpeg70-11", "sky-11", "rotated 180")):
        hit = results[name]
        assert hit.flagged and hit.evidence["match_id"] == source, name
        assert hit.evidence["compared_on"] == "block levels of a faint picture", name
        assert hit.evidence["orientation"] == orientation
        assert hit.evidence["level_distance"] <= ind.MAX_LEVEL_DISTANCE
        assert hit.evidence["blocks_left_out"] == 0
        assert hit.evidence["next_level_distance"] >= ind.LEVEL_LEAD * hit.evidence["level_distance"]
        assert hit.evidence["colour_check"]["agree"] and hit.evidence["confidence"] == 1.0
        # The pixel distance stays on the grey levels' scale, as for every match by hash: JPEG took
        # the grain, which is most of a pale sky standardised.
        assert hit.evidence["pixel_distance"] > ind.ImageNearDuplicate().params_["max_pixel_distance"]
        said = ImageNearDuplicate.describe(hit)
        assert f"their block levels {hit.evidence['level_distance']:.2f} grey levels (RMS) apart (a copy " \
               "within 0.7)" in said
        assert "as after re-encoding, light noise or blur" in said
    # Block levels cannot tell a copy of one twin from a copy of the other, nor another sky, nor a
    # sky of other colours, from a copy.
    for name in ("jpeg50-5", "other-sky", "pink-3"):
        assert not results[name].flagged, name
    # What keeps those apart is the lead and the colours: without them, both are taken.
    from aigc_audit.evaluators.copying.aligned_agreement import Agreement

    with monkeypatch.context() as patched:
        patched.setattr(ind, "LEVEL_LEAD", 1.0)
        patched.setattr(ind, "_agreement", lambda *_: Agreement(True, "not judged"))
        results = found()
        assert results["jpeg50-5"].flagged and results["pink-3"].flagged
        assert not results["other-sky"].flagged
    # The look is what found them: JPEG took the grain every other look reads.
    monkeypatch.setattr(ind, "MAX_LEVEL_DISTANCE", 0.0)
    results = found()
    assert not any(results[name].flagged for name in ("jpeg50-3", "flipped-jpeg70-8", "turned-jpeg70-11"))


def test_a_faint_pictures_copy_under_a_band_is_found_on_the_blocks_it_shares(tmp_path, monkeypatch):
    skies = {seed: _pale_sky(seed) for seed in range(12)}
    reference = _set([_item(f"sky-{s}", _save(sky, tmp_path / "ref" / f"{s}.png"), source="s",
                            license=LICENSE) for s, sky in skies.items()], REFERENCE)

    def banded(sky: Image.Image) -> Image.Image:
        pixels = np.asarray(sky).copy()
        pixels[56:] = (40, 40, 40)  # a dark band over the bottom eighth: one row of blocks
        return _jpeg(Image.fromarray(pixels), 70)

    samples = _set([_item("band-3", _save(banded(skies[3]), tmp_path / "band-3.png")),
                    _item("band-other", _save(banded(_pale_sky(100, level=3.0 * 7 - 17.0 + 1.5)),
                                              tmp_path / "band-other.png"))])

    def found() -> dict:
        return {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}

    results = found()
    hit = results["band-3"]
    assert hit.flagged and hit.evidence["match_id"] == "sky-3"
    assert hit.evidence["compared_on"] == "block levels of a faint picture"
    # Of the 64 blocks, the bottom row (8) holds the band; a fifth (13) is left out.
    assert hit.evidence["blocks_left_out"] == 13
    assert "over all but the 13 blocks that differ most" in ImageNearDuplicate.describe(hit)
    assert not results["band-other"].flagged
    # On all blocks, the band keeps it apart.
    monkeypatch.setattr(ind, "LEVEL_KEPT", 1.0)
    assert not found()["band-3"].flagged


def _noisy(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    noise = np.random.default_rng(seed).normal(0, sigma, (*image.size[::-1], 3))
    return Image.fromarray(np.clip(np.rint(np.asarray(image, np.float64) + noise), 0, 255).astype(np.uint8))


def test_a_faint_pictures_copy_turned_a_little_is_found_on_the_blocks_the_turn_leaves(tmp_path, monkeypatch):
    # Skies 6 grey levels apart: turned back, half their blocks compared, a copy must lead twice as
    # clearly as on all blocks.
    skies = {seed: _pale_sky(seed, level=6.0 * seed - 34.0) for seed in range(12)}
    twin = Image.fromarray(np.clip(np.asarray(skies[9], np.int16) + 1, 0, 255).astype(np.uint8))
    named = {f"sky-{s}": sky for s, sky in skies.items()} | {"sky-9-twin": twin}
    reference = _set([_item(name, _save(sky, tmp_path / "ref" / f"{name}.png"), source="s", license=LICENSE)
                      for name, sky in named.items()], REFERENCE)
    # Turned with black corners, then noise that takes the grain away.
    generated = {
        "turn5-3": _noisy(_turned(skies[3], 5), 3.0, 1),
        "turn-10-8": _noisy(_turned(skies[8], -10), 3.0, 2),
        "flipped-turn7-6": _noisy(_turned(ImageOps.flip(skies[6]), 7.5), 3.0, 3),
        "other-turn5": _noisy(_turned(_pale_sky(100, level=6.0 * 4 - 34.0 + 3.0), 5), 3.0, 4),
        "turn5-9": _noisy(_turned(skies[9], 5), 3.0, 5),  # a copy of the sky with a twin
    }
    samples = _set([_item(name, _save(image, tmp_path / f"{name}.png")) for name, image in generated.items()])

    def found() -> dict:
        return {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}

    results = found()
    for name, source, orientation, turn in (("turn5-3", "sky-3", "as is", 5.0),
                                            ("turn-10-8", "sky-8", "as is", -10.0),
                                            ("flipped-turn7-6", "sky-6", "flipped top-bottom", -7.5)):
        hit = results[name]
        assert hit.flagged and hit.evidence["match_id"] == source, name
        assert hit.evidence["compared_on"] == "block levels of a faint picture", name
        # A flip then a turn reads, turned back from the flip, as the opposite turn; a gradient
        # hardly tells turns a step apart.
        assert hit.evidence["orientation"] == orientation, name
        assert abs(hit.evidence["rotation"] - turn) <= 2.5 and hit.evidence["rotation"] * turn > 0, name
        turn = hit.evidence["rotation"]
        assert hit.evidence["level_distance"] <= ind.MAX_LEVEL_DISTANCE
        assert 0 < hit.evidence["blocks_left_out"] <= 64 * (1 - ind._LEVEL_MIN_KNOWN)
        assert hit.evidence["next_level_distance"] >= ind.TURNED_LEVEL_LEAD * hit.evidence["level_distance"]
        assert hit.evidence["colour_check"]["agree"]
        said = ImageNearDuplicate.describe(hit)
        assert f"the training image turned by {turn:g} degrees" in said
        assert f"over the {64 - hit.evidence['blocks_left_out']} blocks the turn leaves whole" in said
    assert not results["other-turn5"].flagged and not results["turn5-9"].flagged
    # The lead is what leaves the copy of the sky with a twin unnamed.
    with monkeypatch.context() as patched:
        patched.setattr(ind, "TURNED_LEVEL_LEAD", 1.0)
        assert found()["turn5-9"].flagged
    # Turned back, the copies are found; as they are, their filled corners keep them apart.
    monkeypatch.setattr(ind, "_LEVEL_TURNS", ())
    results = found()
    assert not any(results[name].flagged for name in ("turn5-3", "turn-10-8", "flipped-turn7-6"))


def test_turned_levels_leave_out_the_blocks_a_turn_fills_and_the_frames_edge():
    side = 32
    flat = np.full((2, side, side), 200.0)
    levels, known = ind.turned_levels(flat, [1.0, 1.5])
    assert levels.shape == known.shape == (2 * len(ind._LEVEL_TURNS), 64)
    grid = known.reshape(-1, 8, 8)
    # The ring of edge blocks is never compared: a copy's own filled corners lie just past it.
    assert not grid[:, [0, -1]].any() and not grid[:, :, [0, -1]].any()
    # Square: the inner blocks whole up to 7.5 degrees; at 10, the turn's corners reach the inner
    # ring's corners.
    square = dict(zip(ind._LEVEL_TURNS, known[:len(ind._LEVEL_TURNS)].sum(axis=1)))
    assert square == {-10.0: 32, -7.5: 36, -5.0: 36, -2.5: 36, 2.5: 36, 5.0: 36, 7.5: 36, 10.0: 32}
    # A flat picture stays flat wherever it is whole.
    np.testing.assert_allclose(levels[known], 200.0)


def test_the_level_look_reads_faint_training_images_only():
    side = 32
    y, x = np.mgrid[0:side, 0:side]
    faint = np.where((x >= 8) & (x < 20) & (y >= 8) & (y < 20), 206, 200).astype(np.uint8)  # a faint box
    flat = np.full((side, side), 120, np.uint8)                    # blocks do not spread
    drawing = np.where((x > 8) & (x < 20), 30, 220).astype(np.uint8)  # not faint
    grained = np.asarray(_pale_sky(0).convert("L").resize((side, side)))  # faint, with a grain
    found = ind.faint_levels(np.stack([drawing, faint, flat, faint, grained]))
    assert found.rows.tolist() == [1, 3, 4]
    assert found.levels.shape == (3, 64)
    # Only the sky's grain is spread as a photograph's: the box's edges are not.
    assert found.textured.tolist() == [False, False, True]
    # The two boxes are each other's nearest.
    assert found.spacing[:2].tolist() == [0.0, 0.0] and found.spacing[2] > 0
    assert ind.faint_levels(np.stack([drawing, flat])).rows.tolist() == []


def test_a_copy_inside_an_added_frame_is_found_and_the_frame_named(digits, tmp_path):
    from PIL import ImageOps

    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    framed = ImageOps.expand(digit(digits, 7), border=3, fill=200)  # a light frame around a dark digit
    result = ImageNearDuplicate().evaluate(_set([_item("f", _save(framed, tmp_path / "f.png"))]), reference)
    hit = result.items[0]
    assert hit.flagged and hit.evidence["match_id"] == "ref-7"
    assert hit.evidence["orientation"] == "inside an added frame"
    assert "picture inside an added frame" in ImageNearDuplicate.describe(hit)
    assert frame_box(framed) == (3, 3, framed.size[0] - 3, framed.size[1] - 3)
    textured = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8), "L")
    assert frame_box(textured) is None  # picture up to every edge: nothing to trim
    flat = Image.new("L", (32, 32), 90)
    assert frame_box(flat) is None  # all background: a frame would leave nothing


def _captioned(image: Image.Image, half: bool = True) -> Image.Image:
    """A dark caption band over the bottom 15 % with light dots in it (letters at 16 px), the
    picture then halved in size, as a copier resizes a captioned training image."""
    out = image.copy()
    width, height = out.size
    band = max(2, round(0.15 * height))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, height - band, width - 1, height - 1), fill=20)
    for x in range(1, width - 1, 3):
        draw.point((x, height - band + band // 2), fill=235)
    return out.resize((width // 2, height // 2), Image.Resampling.BICUBIC) if half else out


def test_a_digit_halved_under_its_caption_is_found_and_its_caption_named(digits, tmp_path):
    # Digits crowd: with the caption's rows left out, another training digit of the class comes
    # within 0.24 to 0.42 by its own best region, so the copy's 0.15 to 0.22 is not twice as close.
    # But the caption is foreign to the picture (leaving it out brings the copy 4 to 10 times
    # closer), and on the same rest every other training digit is more than twice as far.
    reference = _reference(digits, tmp_path / "ref", range(60))
    copies = {f"copy-{i}": _captioned(digit(digits, i)) for i in (4, 22, 23, 24, 25)}
    # Digits of the same classes (4 and 2) that are not in the training set, captioned alike.
    others = {f"other-{i}-{half}": _captioned(digit(digits, i), half) for i in (64, 68, 75, 77)
              for half in (True, False)}
    items = [_item(name, _save(image, tmp_path / f"{name}.png")) for name, image in (copies | others).items()]
    found = {r.item_id: r for r in ImageNearDuplicate().evaluate(_set(items), reference).items}
    for name in copies:
        hit = found[name]
        assert hit.flagged and hit.evidence["match_id"] == f"ref-{name.split('-')[1]}", name
        assert hit.evidence["method"] == "alignment"
        left, top, right, bottom = hit.evidence["covered_region"]  # the caption's rows, named
        assert top >= 0.65 and bottom == 1.0 and right - left >= 0.8, hit.evidence["covered_region"]
        assert "is covered, as by a caption or logo" in ImageNearDuplicate.describe(hit)
    assert not any(found[name].flagged for name in others)


def _lettering(seed: int) -> Image.Image:
    """Dark strokes on a flat grey ground, as text or a drawing on a flat colour (64 x 64 px)."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (64, 64), 150)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = (int(v) for v in rng.integers(8, 48, 2))
        draw.rectangle((x, y, x + int(rng.integers(3, 14)), y + int(rng.integers(3, 14))), fill=30)
        draw.line((x, y, int(rng.integers(8, 56)), int(rng.integers(8, 56))), fill=60, width=2)
    return image


def test_a_frame_of_nearly_the_grounds_colour_is_found_and_trimmed(tmp_path):
    from PIL import ImageOps

    # A frame within a few grey levels of the picture's flat ground: a run close to the frame's
    # colour would go on into the ground, so the frame is found as the run of its exact colour.
    framed = ImageOps.expand(_lettering(1), border=6, fill=144)
    assert frame_box(framed) != (6, 6, 70, 70)
    assert frame_boxes(framed)[-1] == (6, 6, 70, 70)
    assert frame_boxes(ImageOps.expand(_lettering(1), border=6, fill=230)) == [(6, 6, 70, 70)]  # once
    reference = _set([_item(f"ref-{i}", _save(_lettering(i), tmp_path / "ref" / f"{i}.png"), license=LICENSE)
                      for i in range(12)], REFERENCE)
    copy = _save(framed, tmp_path / "framed.png")
    hit = ImageNearDuplicate().evaluate(_set([_item("f", copy)]), reference).items[0]
    assert hit.flagged and hit.evidence["match_id"] == "ref-1"
    assert hit.evidence["orientation"] == "inside an added frame"


def _coloured_lettering(seed: int) -> Image.Image:
    """:func:`_lettering` in colour: dark strokes on a rose ground (grey level 126)."""
    grey = np.asarray(_lettering(seed))
    rose = np.array([200, 90, 120], np.uint8)
    return Image.fromarray(np.where((grey == 150)[..., None], rose, np.repeat(grey[..., None], 3, axis=2)))


def test_a_frame_of_the_grounds_grey_in_another_colour_is_found_and_trimmed(tmp_path):
    from PIL import ImageOps

    # A teal frame around a rose ground of the same grey level: in grey levels the frame runs on
    # into the ground, at any tolerance; in colour it stops where the ground begins.
    teal = (66, 152, 150)
    framed = ImageOps.expand(_coloured_lettering(1), border=6, fill=teal)
    assert np.ptp(np.asarray(framed.convert("L"))[:, :8]) <= 1  # one grey across frame and ground
    assert (6, 6, 70, 70) not in frame_boxes(framed.convert("L"))
    assert frame_box(framed) == (6, 6, 70, 70)
    assert frame_boxes(framed.convert("L"), framed)[-1] == (6, 6, 70, 70)
    # A picture whose plain ground at the bottom ends on a line of another colour with its grey: in
    # colour the run stops a line short, the same frame, which is not added again.
    rng = np.random.default_rng(3)
    picture = np.zeros((32, 32, 3), np.uint8)
    picture[:22] = rng.integers(0, 256, (22, 32, 3))
    picture[22], picture[23:] = (100, 90, 125), (30, 110, 200)  # grey levels 97 and 96
    picture = Image.fromarray(picture)
    assert frame_box(picture.convert("L")) == (0, 0, 32, 22) and frame_box(picture) == (0, 0, 32, 23)
    assert frame_boxes(picture.convert("L")) == frame_boxes(picture.convert("L"), picture) == [(0, 0, 32, 22)]
    # In colour, only a frame shaped as one added: all round or on two opposite sides, each side
    # at most twice the width of the one opposite (a drawing's plain ground run into from the edges
    # seldom is).
    assert ind._added((6, 6, 70, 70), (76, 76)) and ind._added((0, 8, 64, 56), (64, 64))
    assert not ind._added((5, 0, 63, 64), (64, 64)) and not ind._added((2, 6, 59, 59), (64, 64))
    assert not ind._added((0, 1, 64, 56), (64, 64))
    reference = _set([_item(f"ref-{i}", _save(_coloured_lettering(i), tmp_path / "ref" / f"{i}.png"),
                            license=LICENSE) for i in range(12)], REFERENCE)
    hit = ImageNearDuplicate().evaluate(_set([_item("f", _save(framed, tmp_path / "framed.png"))]),
                                        reference).items[0]
    assert hit.flagged and hit.evidence["match_id"] == "ref-1"
    # The picture inside is the training image itself (the alignment, shrinking it by 0.84 to fit
    # the frame, came to 0.50 from it).
    assert hit.evidence["orientation"] == "inside an added frame"
    assert hit.evidence["pixel_distance"] == 0.0


@pytest.mark.parametrize("orientation", range(len(ind.ORIENTATIONS)))
def test_a_thumbnail_and_a_box_are_turned_back_as_the_image_is(orientation):
    # A box drawn on a picture; the picture turned back from each orientation: the thumbnail
    # turned the same way, and the box mapped into each frame, land where the pixels went.
    side = 32
    picture = np.zeros((side, side), np.uint8)
    box = (0.125, 0.25, 0.5, 0.875)
    picture[8:28, 4:16] = 255
    names = list(ind.ORIENTATIONS)

    def where(name: str) -> tuple[float, ...]:  # the box's pixels, turned back from ``name``
        return tuple(v / side for v in orient(Image.fromarray(picture), name).getbbox())

    turned = np.asarray(orient(Image.fromarray(picture), names[orientation]))
    assert (turned_back(picture, orientation) == turned).all()
    assert box_between(box, 0, orientation) == pytest.approx(where(names[orientation]))
    for other, name in enumerate(names):
        assert box_between(box_between(box, 0, orientation), orientation, other) == pytest.approx(where(name))


def test_turning_back_can_be_switched_off(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    flipped = _save(digit(digits, 7).transpose(Image.Transpose.FLIP_LEFT_RIGHT), tmp_path / "f.png")
    turned = ImageNearDuplicate().evaluate(_set([_item("f", flipped)]), reference).items[0]
    assert turned.flagged and turned.evidence["orientation"] == "flipped left-right"
    assert "the generated image flipped left-right" in ImageNearDuplicate.describe(turned)
    as_is = ImageNearDuplicate(orientations="as_is").evaluate(_set([_item("f", flipped)]), reference)
    assert not as_is.items[0].flagged


def test_distinct_digits_of_the_same_class_collide_in_hash_but_are_not_flagged(planted):
    result, truth = planted
    distinct = [r for r in result.items if truth[r.item_id][0] == "distinct"]
    assert len(distinct) == DISTINCT
    # The 64-bit hashes of 16 px digits collide: most distinct digits have hash candidates...
    assert sum(r.evidence["hash_candidates"] > 0 for r in distinct) >= 0.9 * DISTINCT
    # ...and the pixel check is what keeps them from being called copies.
    assert sum(r.flagged for r in distinct) / DISTINCT <= 0.02
    assert np.median([r.evidence["pixel_distance"] for r in distinct]) > 0.3


def test_aggregate_metrics_and_notes(planted):
    result, truth = planted
    flagged = sum(r.flagged for r in result.items)
    assert result.metrics[KEY_FLAGGED_COUNT] == flagged
    assert result.metrics[KEY_SHARE_FLAGGED] == pytest.approx(flagged / len(truth))
    assert result.metrics[KEY_MIN_PIXEL_DISTANCE] == min(r.evidence["pixel_distance"] for r in result.items)
    assert 0.0 < result.metrics[KEY_MEDIAN_PIXEL_DISTANCE] < 0.2  # most items are planted copies
    assert result.metrics[KEY_UNREADABLE_REFERENCE] == 0.0 and not result.errors
    assert any(n.kind == NOTE_INFO and n.text.startswith("pixel distance to the nearest checked training "
                                                         "image over") and "median" in n.text
               for n in result.notes)


def test_exact_copy_evidence_and_message(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    copy = _save(digit(digits, 7), tmp_path / "copy.png")
    other = _save(digit(digits, 41), tmp_path / "other.png")
    result = ImageNearDuplicate().evaluate(_set([_item("copy", copy), _item("other", other)]), reference)
    hit = next(r for r in result.items if r.item_id == "copy")
    assert hit.flagged and hit.score == 1.0
    e = hit.evidence
    assert (e["match_id"], e["pixel_distance"]) == ("ref-7", 0.0)
    assert (e["phash_distance"], e["dhash_distance"]) == (0, 0)
    assert e["shift"] == [0, 0] and e["orientation"] == "as is" and len(e["phash"]) == 16
    # No two of the 40 training digits are as close as an exact copy: full confidence.
    assert e["compared_on"] == "grey levels" and e["confidence"] == 1.0
    assert ImageNearDuplicate.describe(hit) == (
        "pixel distance 0.000 to training image ref-7 (sklearn digits #7, licence CC BY 4.0); "
        "pHash 0 and dHash 0 of 64 bits apart; confidence 1.000 (the share of training images "
        "farther from their nearest other training image)")


def test_candidate_cap_keeps_the_nearest_by_hash_and_says_so(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    copy = _save(digit(digits, 7), tmp_path / "copy.png")
    result = ImageNearDuplicate(max_candidates=1).evaluate(_set([_item("copy", copy)]), reference)
    assert result.items[0].flagged and result.items[0].evidence["match_id"] == "ref-7"
    assert result.items[0].evidence["hash_candidates"] > 1
    assert any(n.text.startswith("1 item(s) had more than 1 hash candidates") for n in result.notes)


def test_large_copy_is_found_without_shift_search(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 30))
    # At 600 px a one-pixel shift is a twentieth of a thumbnail pixel: no shift needs undoing.
    big = _shift(digit(digits, 3).resize((600, 600), Image.Resampling.BICUBIC), np.random.default_rng(0))
    result = ImageNearDuplicate().evaluate(_set([_item("big", _save(big, tmp_path / "big.png"))]), reference)
    assert result.items[0].flagged and result.items[0].evidence["match_id"] == "ref-3"
    assert result.items[0].evidence["shift"] == [0, 0]


# -- image modes that must work ---------------------------------------------------------------
def _palette(image: Image.Image, path: Path) -> Path:
    return _save(image.convert("RGB").quantize(256), path)


def _sixteen_bit(image: Image.Image, path: Path) -> Path:
    return _save(Image.fromarray(np.asarray(image, np.uint16) * 257), path)


def _alpha(image: Image.Image, path: Path) -> Path:
    rgba = image.convert("RGBA")
    rgba.putalpha(255)
    return _save(rgba, path)


def _exif_rotated(image: Image.Image, path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": stored turned the other way
    return _save(image.transpose(Image.Transpose.ROTATE_90), path, exif=exif)


@pytest.mark.parametrize("write", [_palette, _sixteen_bit, _alpha, _exif_rotated],
                         ids=["palette", "16-bit", "alpha", "exif-rotation"])
def test_modes_and_orientation_are_read_correctly(digits, tmp_path, write):
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    path = write(digit(digits, 12), tmp_path / "copy.png")
    result = ImageNearDuplicate().evaluate(_set([_item("copy", path)]), reference)
    assert not result.errors
    hit = result.items[0]
    assert hit.flagged and hit.evidence["match_id"] == "ref-12" and hit.evidence["pixel_distance"] < 0.05


# -- bad input: a clear per-item error, counted, never a crash --------------------------------------
def _png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of ``width x height`` black pixels: kilobytes on disk, but it would
    decode to ``width * height`` pixels (a decompression bomb)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


def _truncated(path: Path, digits) -> Path:
    _save(digit(digits, 5, side=64), path)
    path.write_bytes(path.read_bytes()[:200])
    return path


BAD_INPUTS = {
    "truncated": (lambda path, digits: _truncated(path, digits), r"cannot decode image truncated\.png"),
    "not-an-image": (lambda path, digits: (path.write_text("a note, not a picture\n"), path)[1],
                     r"not an image file Pillow can read: not-an-image\.png"),
    "one-pixel": (lambda path, digits: _save(Image.new("L", (1, 1), 255), path),
                  r"image of 1x1 pixels is too small to compare"),
    "bomb-20000": (lambda path, digits: _png(path, 20_000, 20_000), r"decompression bomb"),
    "bomb-9000": (lambda path, digits: _png(path, 9_000, 9_000),
                  r"image of 9000x9000 pixels exceeds the limit .* \(possible decompression bomb\)"),
}


@pytest.fixture(scope="module")
def bad_run(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    reference = _reference(digits, folder / "ref", range(0, 40))
    items = [_item(name, make(folder / f"{name}.png", digits)) for name, (make, _) in BAD_INPUTS.items()]
    items.append(_item("good-copy", _save(digit(digits, 9), folder / "good.png")))
    items.append(Item(id="a-text", modality=TEXT, text="a line of text in the same release"))
    return ImageNearDuplicate().evaluate(_set(items), reference)


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_a_counted_item_error(bad_run, name):
    assert name in bad_run.errors
    assert re.search(BAD_INPUTS[name][1], bad_run.errors[name]), bad_run.errors[name]
    assert name not in {r.item_id for r in bad_run.items}


def test_bad_inputs_do_not_stop_the_run(bad_run):
    assert len(bad_run.errors) == len(BAD_INPUTS)
    assert [r.item_id for r in bad_run.items] == ["good-copy"] and bad_run.items[0].flagged
    # Image items only: the text item is not counted; unreadable images stay in the denominator.
    assert bad_run.n_items == len(BAD_INPUTS) + 1
    assert bad_run.metrics[KEY_SHARE_FLAGGED] == pytest.approx(1 / (len(BAD_INPUTS) + 1))


def test_unreadable_reference_images_are_reported(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 10))
    broken = _item("ref-broken", _save(Image.new("L", (2, 2)), tmp_path / "broken.png"), source="x",
                   license=LICENSE)
    reference = _set(reference.items + (broken,), REFERENCE)
    copy = _save(digit(digits, 4), tmp_path / "copy.png")
    result = ImageNearDuplicate().evaluate(_set([_item("copy", copy)]), reference)
    assert result.metrics[KEY_UNREADABLE_REFERENCE] == 1.0 and result.items[0].flagged
    assert any("1 reference image(s) could not be read and are not compared: ref-broken (image of 2x2"
               in n.text for n in result.notes)


def test_reference_without_images_flags_nothing_and_says_so(digits, tmp_path):
    reference = _set([Item(id="t", modality=TEXT, text="words", source="s", license=LICENSE)], REFERENCE)
    copy = _save(digit(digits, 4), tmp_path / "copy.png")
    result = ImageNearDuplicate().evaluate(_set([_item("copy", copy)]), reference)
    assert [r.flagged for r in result.items] == [False] and result.items[0].evidence == {"match_id": None}
    assert np.isnan(result.metrics[KEY_MIN_PIXEL_DISTANCE]) and result.metrics[KEY_SHARE_FLAGGED] == 0.0
    assert any("holds no readable image items" in n.text for n in result.notes)
    assert ImageNearDuplicate.describe(result.items[0]) == "no readable training image to compare with"


@pytest.mark.parametrize("params, message", [
    ({"tiles": 3}, r"parameter 'tiles' of evaluator 'image_near_duplicate' must be one of \[1, 2, 4, 8\]; "
                   r"got 3"),
    ({"phash_radius": 40}, r"parameter 'phash_radius' .* must be <= 32; got 40"),
    ({"max_pixel_distance": "low"}, r"parameter 'max_pixel_distance' .* must be float; got 'low'"),
    ({"radius": 3}, r"unknown parameter 'radius' for evaluator 'image_near_duplicate'; valid parameters"),
])
def test_parameters_are_validated(params, message):
    with pytest.raises(ValueError, match=message):
        ImageNearDuplicate(**params)


# -- the whole audit, as CI runs it -------------------------------------------------------------
def _release(folder: Path, digits, images: dict[str, Image.Image], texts: list[str]) -> Path:
    records = [{"id": f"t-{i}", "modality": "text", "text": t, "provenance": provenance(i)}
               for i, t in enumerate(texts)]
    for name, image in images.items():
        path = f"images/{name}.png"
        if image is None:
            (folder / "images").mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        else:
            _save(image, folder / path)
        records.append({"id": name, "modality": "image", "path": path, "provenance": provenance(0)})
    write_jsonl(folder / "manifest.jsonl", records)
    return folder


@pytest.fixture(scope="module")
def cli_reference(digits, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "reference"
    records = [{"id": "ref-text", "modality": "text", "source": "a play", "license": "public domain",
                "text": "Now is the winter of our discontent made glorious summer by this sun of York"}]
    for i in range(60):
        _save(digit(digits, i), folder / "images" / f"{i}.png")
        records.append({"id": f"digit-{i}", "modality": "image", "path": f"images/{i}.png",
                        "source": f"sklearn digits #{i}", "license": LICENSE})
    write_jsonl(folder / "manifest.jsonl", records)
    return folder


def _audit(samples: Path, reference: Path, out: Path):
    result = run_cli("audit", "--samples", str(samples), "--reference", str(reference), "--policy", "default",
                     "--out", str(out), "--store", str(out / "runs.sqlite"))
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return result, report


def test_cli_audit_of_a_mixed_release_fails_on_copied_images(digits, cli_reference, tmp_path):
    rng = np.random.default_rng(3)
    samples = _release(tmp_path / "copied", digits, {
        "copy-jpeg": _jpeg_round_trip(digit(digits, 8), 80),
        "copy-shift": _shift(digit(digits, 21), rng),
        "copy-noise": _noise(digit(digits, 33), rng),
        "own-1": digit(digits, 101), "own-2": digit(digits, 203), "broken": None,
    }, ["A quiet river wanders through the meadow under a pale and patient moon"])
    result, report = _audit(samples, cli_reference, tmp_path / "out")
    assert result.returncode == 1, result.stdout + result.stderr
    rules = {r["rule_id"]: r for r in report["rules"]}
    assert rules["copyright.image.near_duplicate"]["status"] == "fail"
    assert rules["copyright.image.near_duplicate"]["value"] == pytest.approx(3 / 6)
    # Most readable images are copies: the median distance is a copy's, and the warning fires too.
    assert rules["copyright.image.median_pixel_distance"]["status"] == "fail"
    assert rules["copyright.image.median_pixel_distance"]["value"] < 0.2
    assert rules["copyright.text.copy"]["status"] == "pass"
    assert rules["integrity.unreadable_items"]["status"] == "fail"
    findings = {f["item_id"]: f for f in report["findings"]
                if f["rule_id"] == "copyright.image.near_duplicate"}
    assert set(findings) == {"copy-jpeg", "copy-shift", "copy-noise"}
    assert findings["copy-jpeg"]["evidence"]["match_id"] == "digit-8"
    assert findings["copy-shift"]["evidence"]["match_id"] == "digit-21"
    assert findings["copy-shift"]["evidence"]["match_license"] == LICENSE
    assert "training image digit-8" in findings["copy-jpeg"]["message"]
    assert [e["item_id"] for e in report["item_errors"]] == ["broken"]
    evaluation = next(v for k, v in report["evaluations"].items() if k.startswith("image_near_duplicate"))
    assert evaluation["n_items"] == 6 and evaluation["errors"][0]["item_id"] == "broken"


def test_cli_audit_of_a_mixed_release_without_copies_passes_the_image_rules(digits, cli_reference, tmp_path):
    samples = _release(tmp_path / "clean", digits, {f"own-{i}": digit(digits, i) for i in range(101, 107)},
                       ["A quiet river wanders through the meadow under a pale and patient moon"])
    result, report = _audit(samples, cli_reference, tmp_path / "out")
    rules = {r["rule_id"]: r for r in report["rules"]}
    assert rules["copyright.image.near_duplicate"]["status"] == "pass", result.stdout
    assert rules["copyright.image.median_pixel_distance"]["status"] == "pass"
    assert rules["copyright.image.median_pixel_distance"]["value"] >= 0.3
    assert result.returncode == 0, result.stdout + result.stderr


def _alignment(distance: float, whole: float, overlay: bool) -> Alignment:
    return Alignment(0.0, 1.2, (0.0, 0.0), (0.1, 0.1, 0.9, 0.9), 0.9, distance,
                     (0.0, 0.8, 1.0, 1.0) if overlay else None, whole)


@pytest.mark.parametrize("found, runner_up, compared, expected", [
    # close over the whole region and far closer than any other training image: a copy
    (_alignment(0.35, 0.35, False), 1.2, True, True),
    # an overlay found on the way does not make that alignment need the stricter threshold
    (_alignment(0.30, 0.35, True), 1.2, True, True),
    # an overlay left out: what remains must be as close as a plain copy
    (_alignment(0.15, 0.90, True), 1.2, True, True),
    (_alignment(0.30, 0.90, True), 0.9, True, False),
    # ... or a little further (a resized copy under its caption) when it stands out twice as clearly
    (_alignment(0.28, 0.90, True), 1.2, True, True),
    (_alignment(0.28, 0.90, True), 1.0, True, False),
    (_alignment(0.32, 0.90, True), 2.0, True, False),
    (_alignment(0.28, 0.90, True), float("inf"), False, False),
    # a look-alike: about as close to another training image
    (_alignment(0.35, 0.35, False), 0.6, True, False),
    # nothing to compare with: only the strict threshold
    (_alignment(0.35, 0.35, False), float("inf"), False, False),
    (_alignment(0.15, 0.15, False), float("inf"), False, True),
])
def test_an_alignment_confirms_a_copy_by_its_distance_and_its_lead(found, runner_up, compared, expected):
    assert _confirmed(found, runner_up, compared, loose=0.6, strict=0.2) is expected


@pytest.mark.parametrize("found, runner_up, without, expected", [
    # what remains under an overlay must lead the others both by their own distances and with the
    # copy's overlay left out of theirs
    (_alignment(0.15, 0.90, True), 0.8, 0.8, True),
    (_alignment(0.15, 0.90, True), 0.8, None, True),
    # a look-alike as close by its own distance: a generated "1" under a small covered region,
    # turned and enlarged onto a training "1" (the demo's VAE sample, 0.29 with the region in),
    # is not a copy however far the others are otherwise
    (_alignment(0.18, 0.29, True), 0.32, 0.8, False),
    # ... nor when another training image is just as close with the copy's overlay left out
    (_alignment(0.15, 0.90, True), 0.8, 0.25, False),
    # the whole region is compared with the others' own distances, never with the overlay's
    (_alignment(0.35, 0.35, False), 0.6, 2.0, False),
    (_alignment(0.35, 0.45, True), 0.6, 2.0, False),
])
def test_what_remains_under_an_overlay_is_compared_like_with_like(found, runner_up, without, expected):
    assert _confirmed(found, runner_up, True, loose=0.6, strict=0.2, runner_up_without=without) is expected


@pytest.mark.parametrize("found, runner_up, without, expected", [
    # a caption over a digit: 5 times closer without it, twice as close as the next "1" on the same
    # rest, though that one, with its own worst part left out, comes within 0.32
    (_alignment(0.18, 0.90, True), 0.32, 0.8, True),
    (_alignment(0.18, 0.90, True), 0.32, 0.3, False),  # as close to another on the same rest
    # the same distances with the region left out only 1.6 times closer: where a look-alike differs
    (_alignment(0.18, 0.29, True), 0.32, 0.8, False),
    # a copy halved in size under its caption: its sharp edges keep 0.35 from the source, far
    # closer than any other training image with or without the caption's region
    (_alignment(0.35, 2.0, True), 1.2, 1.5, True),
    (_alignment(0.35, 2.0, True), 0.8, 1.5, False),
    (_alignment(0.35, 2.0, True), 1.2, 0.8, False),
    (_alignment(0.65, 2.0, True), 2.0, 2.0, False),  # beyond the whole-region threshold
    # not foreign: the region left out brings it only 2.6 times closer
    (_alignment(0.35, 0.90, True), 1.2, 1.5, False),
])
def test_a_foreign_overlay_lets_the_rest_alone_tell_a_copy(found, runner_up, without, expected):
    assert foreign_overlay(found) is (found.whole_distance >= 3 * found.distance)
    assert _confirmed(found, runner_up, True, loose=0.6, strict=0.2, runner_up_without=without) is expected
    if expected:  # taken only with the others measured on the same rest
        assert not _confirmed(found, runner_up, True, loose=0.6, strict=0.2)


# -- colour edits: a turned hue moves grey levels, not the value channel -------------------------
def _coloured() -> Image.Image:
    """Flat regions of four colours whose grey levels differ, as drawings and logos have."""
    image = Image.new("RGB", (64, 64), (210, 60, 50))
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 8, 30, 56), fill=(60, 190, 70))
    draw.ellipse((34, 10, 60, 40), fill=(50, 70, 220))
    draw.polygon([(36, 60), (60, 44), (58, 62)], fill=(230, 220, 60))
    return image


def _hue_turned(image: Image.Image, share: float) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).astype(np.float64)
    hsv[..., 0] = np.mod(hsv[..., 0] + share * 256, 256)
    return Image.fromarray(np.rint(hsv).astype(np.uint8), "HSV").convert("RGB")


def _quadrants_swapped(image: Image.Image) -> Image.Image:
    """The same pixels, so the same colour histogram, in another picture: quadrants moved round."""
    out = image.copy()
    half = image.width // 2
    boxes = [(0, 0, half, half), (half, 0, 2 * half, half), (half, half, 2 * half, 2 * half),
             (0, half, half, 2 * half)]
    for source, target in zip(boxes, boxes[1:] + boxes[:1]):
        out.paste(image.crop(source), target[:2])
    return out


def test_a_hue_turned_copy_is_found_and_a_reshuffle_of_its_colours_is_not(digits, tmp_path, monkeypatch):
    original = _coloured()
    reference = _set([_item("ref-colour", _save(original, tmp_path / "ref" / "colour.png"))]
                     + list(_reference(digits, tmp_path / "ref", range(0, 10)).items), REFERENCE)
    turned, shuffled = _hue_turned(original, 0.05), _quadrants_swapped(original)
    assert sorted(shuffled.getcolors()) == sorted(original.getcolors())
    samples = _set([_item("turned", _save(turned, tmp_path / "turned.png")),
                    _item("shuffled", _save(shuffled, tmp_path / "shuffled.png"))])
    # Every training image a hash candidate and no alignment: the pixel check alone decides.
    evaluator = ImageNearDuplicate(phash_radius=32, dhash_radius=32, alignment=False)
    result = {r.item_id: r for r in evaluator.evaluate(samples, reference).items}
    assert result["turned"].flagged and result["turned"].evidence["match_id"] == "ref-colour"
    assert result["turned"].evidence["pixel_distance"] < 0.05
    assert result["turned"].evidence["compared_on"] == "value channel"
    assert not result["shuffled"].flagged and result["shuffled"].evidence["pixel_distance"] > 1.0
    # A stored index holds the training images' colour thumbnails, made as the look makes them
    # (in parts, a chunk of images each): with it, the same findings, and no training image is
    # decoded again.
    monkeypatch.setattr(ri, "IMAGE_CHUNK_ITEMS", 4)
    update_index(tmp_path / "idx", reference.items)
    index = ReferenceIndex.load(tmp_path / "idx")
    stored = index.image_hashes(reference.items).colours
    for row, item in enumerate(reference.items):
        assert all(np.array_equal(a, b) for a, b in zip(stored.of(row), colour_pair(item, 32), strict=True))
    real_open = ind.open_image

    def open_generated(item, **kwargs):
        assert not item.id.startswith("ref-"), f"training image {item.id} was decoded"
        return real_open(item, **kwargs)

    monkeypatch.setattr(ind, "open_image", open_generated)
    indexed = ImageNearDuplicate(phash_radius=32, dhash_radius=32, alignment=False,
                                 index=index).evaluate(samples, reference)
    assert {r.item_id: r.evidence for r in indexed.items} == {k: r.evidence for k, r in result.items()}


def _box_drawing(ground: tuple[int, int, int], box: tuple[int, int, int],
                 at: tuple[int, int, int, int] = (40, 10, 58, 30)) -> Image.Image:
    image = Image.new("RGB", (64, 64), ground)
    ImageDraw.Draw(image).rectangle(at, fill=box)
    return image


def test_a_look_alike_in_other_colours_neither_takes_a_copys_match_nor_rivals_it(tmp_path):
    # The look-alike is the source's very grey picture (a box on a ground) in other colours: aligned
    # onto a copy flipped and cropped to 70 %, it comes as close as the source.
    source = _box_drawing((220, 40, 40), (40, 40, 200))
    drawings = {"source": source, "look-alike": _box_drawing((40, 190, 60), (130, 20, 130))}
    rng = np.random.default_rng(0)
    for k in range(12):
        x, y = (int(v) for v in rng.integers(2, 40, 2))
        ground, box = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
        drawings[f"other-{k}"] = _box_drawing(ground, box, (x, y, x + 20, y + 16))
    reference = _set([_item(name, _save(image, tmp_path / "ref" / f"{name}.png"), source=name,
                            license=LICENSE) for name, image in drawings.items()], REFERENCE)
    keep = round(64 * 0.7 ** 0.5)

    def flipped_crop(image: Image.Image) -> Image.Image:
        mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return mirrored.crop((4, 12, 4 + keep, 12 + keep)).resize((64, 64), Image.Resampling.BILINEAR)

    samples = _set([_item("copy", _save(flipped_crop(source), tmp_path / "copy.png")),
                    _item("recoloured", _save(flipped_crop(_box_drawing((200, 200, 40), (20, 120, 120))),
                                              tmp_path / "recoloured.png"))])
    result = {r.item_id: r for r in ImageNearDuplicate().evaluate(samples, reference).items}
    copy = result["copy"].evidence
    assert result["copy"].flagged and copy["match_id"] == "source", copy
    assert copy["orientation"] == "flipped left-right" and copy["method"] == "alignment"
    assert copy["colour_check"]["agree"] and copy["pixel_distance"] < 0.2
    # The look-alike stood as a rival no nearer than twice a plain copy's distance (0.2).
    assert copy["next_pixel_distance"] == pytest.approx(0.4)
    # Neither drawing keeps the colours of a third: no match.
    assert not result["recoloured"].flagged


def _entry(distance: float, row: int, orientation: int = 0,
           overlay: bool = False) -> tuple[Alignment, int, int]:
    return _alignment(distance, distance, overlay), row, orientation


@pytest.mark.parametrize("agreeing, expected_order, expected_unlike", [
    ({0, 1, 2, 3}, [0, 1, 2, 3], set()),          # all agree: as they are
    ({1, 2, 3}, [1, 0, 2, 3], {(0, 0)}),         # the closest disagrees: the next is the match, it a rival
    ({0, 2}, [0, 1, 2, 3], {(1, 0)}),            # rivals up to the next that agrees
    ({0}, [0, 1, 2, 3], {(1, 0), (2, 0)}),       # and only nearer than twice within (0.2)
    (set(), [0, 1, 2, 3], set()),                # none agrees: as they are (the closest is dropped later)
    ({2, 3}, [0, 1, 2, 3], set()),               # the first that agrees is beyond within: as they are
])
def test_by_colour_takes_the_closest_that_agrees_and_names_the_rivals_that_do_not(agreeing, expected_order,
                                                                                  expected_unlike):
    aligned = [_entry(0.1, 0), _entry(0.2, 1), _entry(0.3, 2), _entry(0.7, 3)]
    judged = []

    def agrees(entry):
        judged.append(entry[1])
        return entry[1] in agreeing

    ranked, unlike = ind._by_colour(aligned, agrees, 0.2)
    assert [r for _, r, _ in ranked] == expected_order
    assert unlike == expected_unlike
    assert 3 not in judged  # beyond twice within, nothing is judged


def test_by_colour_leaves_an_overlaid_match_and_the_same_image_turned_alone():
    # What an overlay hides may tell two drawings apart: an overlaid match is not reordered.
    overlaid = [_entry(0.1, 0), _entry(0.2, 1, overlay=True), _entry(0.3, 2)]
    assert ind._by_colour(overlaid, lambda entry: entry[1] != 0, 0.2) == (overlaid, set())
    # The match's own training image in another orientation is no rival of it.
    turned = [_entry(0.1, 0), _entry(0.2, 0, 1), _entry(0.3, 2)]
    ranked, unlike = ind._by_colour(turned, lambda entry: entry[2] == 0 and entry[1] == 0, 0.2)
    assert ranked == turned and unlike == {(2, 0)}


def _words(seed: int) -> Image.Image:
    """One to three lines of random letters in a contrasting ink on a flat ground (96x64)."""
    rng = np.random.default_rng(seed)
    ground = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (96, 64), ground)
    draw = ImageDraw.Draw(image)
    size, y = int(rng.integers(12, 18)), int(rng.integers(0, 8))
    for _ in range(int(rng.integers(1, 4))):
        line = " ".join("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(2, 7))))
                        for _ in range(2))
        draw.text((int(rng.integers(0, 12)), y), line, fill=tuple(255 - v for v in ground),
                  font=ImageFont.load_default(size=size))
        y += size + 3
    return image


def _turned(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))


@pytest.mark.parametrize("edit, degrees, orientation, copied, switched_off", [
    (lambda image: _turned(image, -10), 10, "as is", [0, 16, 27, 30, 34], ("_TURNS_BACK", (0.0,))),
    (lambda image: _turned(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), 5), 5,
     "flipped top-bottom", [0, 10, 13, 14, 16], ("_BACK_ORIENTATIONS", (0,))),
], ids=["turned by -10 degrees", "flipped top-bottom and turned by 5 degrees"])
def test_lines_of_text_turned_a_little_are_found_by_their_middle_turned_back(tmp_path, monkeypatch, edit,
                                                                            degrees, orientation, copied,
                                                                            switched_off):
    # Among 150 pictures of text, a turn moves every window of a picture off its source's: these
    # five copies are found only through the middle of the picture turned back (from the flip too).
    training = [_words(seed) for seed in range(150)]
    reference = _set([_item(f"ref-{i}", _save(image, tmp_path / "ref" / f"{i}.png"), source=f"words {i}",
                            license=LICENSE) for i, image in enumerate(training)], REFERENCE)
    samples = _set([_item(f"copy-{i}", _save(edit(training[i]), tmp_path / f"{i}.png")) for i in copied])

    def found() -> list[int]:
        results = ImageNearDuplicate().evaluate(samples, reference).items
        for result in results:
            if result.flagged:
                assert abs(result.evidence["rotation"]) == pytest.approx(degrees, abs=2.5), result.evidence
                assert result.evidence["orientation"] == orientation
        return [i for i, result in zip(copied, results)
                if result.flagged and result.evidence["match_id"] == f"ref-{i}"]

    assert found() == copied
    monkeypatch.setattr(ind, *switched_off)
    # Text on a flat ground is faint within most blocks: the level look, turned back, is left out too.
    monkeypatch.setattr(ind, "_LEVEL_TURNS", ())
    assert found() == []


def test_a_hue_turned_copy_outside_the_hash_radius_is_found_on_its_value_channel(digits, tmp_path,
                                                                                 monkeypatch):
    original = _coloured()
    reference = _set([_item("ref-colour", _save(original, tmp_path / "ref" / "colour.png"), source="s",
                            license=LICENSE)]
                     + list(_reference(digits, tmp_path / "ref", range(0, 40)).items),
                     REFERENCE)
    # A tenth of the circle moves the grey levels, and so both hashes, far out of the radius; the
    # drawing is still the nearest training image by hash, and its value channel is the copy's.
    # (The hash stage's hues turned back would bring it within the radius: not tried here.)
    monkeypatch.setattr(ind, "_HUE_TURNS", ())
    turned = _hue_turned(original, 0.1)
    samples = _set([_item("turned", _save(turned, tmp_path / "turned.png")),
                    _item("shuffled", _save(_quadrants_swapped(turned), tmp_path / "shuffled.png"))])
    result = {r.item_id: r for r in ImageNearDuplicate(alignment=False, phash_radius=4, dhash_radius=4)
              .evaluate(samples, reference).items}
    e = result["turned"].evidence
    assert e["phash_distance"] > 4 and e["dhash_distance"] > 4 and not e["hash_match"]
    assert "hue_turned_back" not in e
    assert result["turned"].flagged and e["match_id"] == "ref-colour" and e["compared_on"] == "value channel"
    assert e["pixel_distance"] < 0.05 and e["confidence"] == 1.0
    # The same colours in another layout are no copy.
    assert not result["shuffled"].flagged


def _drawing(layout: int, palette: int) -> Image.Image:
    """Three shapes on a ground (64x64), placed by ``layout``, each of one saturated colour drawn
    by ``palette``: a logo in several colourings."""
    rng = np.random.default_rng(layout)
    boxes = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in
             zip(*rng.integers(0, 40, (2, 3)), *rng.integers(12, 28, (2, 3)))]
    rng = np.random.default_rng([layout, palette])
    colours = [Image.new("HSV", (1, 1), (int(rng.integers(0, 256)), 255, int(rng.integers(120, 256))))
               .convert("RGB").getpixel((0, 0)) for _ in range(4)]
    image = Image.new("RGB", (64, 64), colours[0])
    draw = ImageDraw.Draw(image)
    for box, shape, fill in zip(boxes, ("rectangle", "ellipse", "rectangle"), colours[1:]):
        getattr(draw, shape)(box, fill=fill)
    return image


def test_hue_turned_greys_are_the_grey_levels_of_the_picture_recoloured_in_hsv():
    rng = np.random.default_rng(3)
    noise = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    for image in (noise, _drawing(3, 1)):
        turns = (0.0, 0.05, -0.1, 0.3, -0.5)
        greys = hue_turned_greys(image, turns).astype(int)
        assert greys.shape == (len(turns), image.height, image.width)
        # Turned by nothing: Pillow's grey levels, but for the rounding.
        assert np.abs(greys[0] - np.asarray(image.convert("L"), int)).max() <= 1
        for turn, grey in zip(turns[1:], greys[1:]):
            # Pillow's HSV holds hue, saturation and value in 8 bits each: a few levels off at most.
            recoloured = np.asarray(_hue_turned(image, turn).convert("L"), int)
            assert np.abs(grey - recoloured).max() <= 8 and np.abs(grey - recoloured).mean() < 2.5
        assert np.abs(greys[1] - greys[0]).mean() > 3  # a turn moves the grey levels
    # A grey picture has no hue to turn; a large one is brought down first.
    grey = Image.fromarray(np.repeat(rng.integers(0, 256, (20, 20, 1), dtype=np.uint8), 3, axis=2))
    assert (hue_turned_greys(grey, (0.1, -0.1)) == np.asarray(grey.convert("L"))).all()
    assert hue_turned_greys(noise.resize((640, 320)), (0.1,)).shape == (1, 32, 64)


def test_colour_jittered_copies_of_drawings_are_found_with_their_hue_turned_back(tmp_path, monkeypatch):
    # Twelve logos in five colourings each. A turn of 4 to 10 % of the circle moves a copy's grey
    # levels unevenly, and its hashes out of the radius and nearer another colouring of its logo.
    # Turned back in the hash stage's steps, it comes within the radius of its own, and the value
    # channel, which a turn leaves, confirms it. Logos never trained on, turned alike, are not flagged.
    training = [_drawing(layout, palette) for layout in range(12) for palette in range(5)]
    reference = _set([_item(f"ref-{i}", _save(image, tmp_path / "ref" / f"{i}.png"), source=f"drawing {i}",
                            license=LICENSE) for i, image in enumerate(training)], REFERENCE)
    turns = (0.05, -0.06, 0.07, -0.08, 0.09, -0.1, 0.045, -0.065)
    sources = [5 * i + i % 5 for i in range(len(turns))]
    copies = [_item(f"copy-{i}", _save(_hue_turned(training[source], turn), tmp_path / f"c{i}.png"))
              for i, (source, turn) in enumerate(zip(sources, turns))]
    distinct = [_item(f"other-{i}", _save(_hue_turned(_drawing(100 + i, 0), turn), tmp_path / f"o{i}.png"))
                for i, turn in enumerate(turns)]
    samples = _set(copies + distinct)

    def evaluated() -> dict:
        evaluation = ImageNearDuplicate(alignment=False).evaluate(samples, reference)
        results = {r.item_id: r for r in evaluation.items}
        assert not any(results[item.id].flagged for item in distinct)
        return results

    results = evaluated()
    turned_back = []
    for i, (source, turn) in enumerate(zip(sources, turns)):
        e = results[f"copy-{i}"].evidence
        assert results[f"copy-{i}"].flagged and e["match_id"] == f"ref-{source}", e
        assert e["compared_on"] == "value channel"
        if "hue_turned_back" in e:  # else within the radius as it is
            turned_back.append(i)
            # Turned back to within a step of the jitter, which the check in colour sees too (its
            # hue is measured on another colour wheel than HSV's).
            assert e["hue_turned_back"] == pytest.approx(-turn, abs=0.025 + 1e-9), e
            assert e["colour_check"]["agree"] and abs(e["colour_check"]["hue_turn"]) > 10, e
            assert e["hash_match"] and min(e["phash_distance"], e["dhash_distance"]) <= 10
            assert "once its hue was turned back by" in ImageNearDuplicate.describe(results[f"copy-{i}"])
    assert len(turned_back) >= 4
    monkeypatch.setattr(ind, "_HUE_TURNS", ())
    results = evaluated()
    again = [results[f"copy-{i}"] for i in turned_back]
    assert not any(result.flagged and result.evidence["match_id"] == f"ref-{sources[i]}"
                   for i, result in zip(turned_back, again))


@pytest.mark.parametrize("found, runner_up, without, confident, expected", [
    # closer than any two training images come, over the whole region: a lead of 1.5 suffices
    (_alignment(0.17, 0.17, False), 0.30, None, True, True),
    (_alignment(0.17, 0.17, False), 0.30, None, False, False),
    (_alignment(0.35, 0.35, False), 0.50, None, True, False),
    # with an overlay left out, never: a VAE's "1" under a small covered region (0.29 with it in)
    (_alignment(0.196, 0.29, True), 0.323, 0.8, True, False),
    (_alignment(0.15, 0.90, True), 0.25, None, True, False),
])
def test_a_confident_match_over_the_whole_region_needs_a_smaller_lead(found, runner_up, without, confident,
                                                                       expected):
    assert _confirmed(found, runner_up, True, loose=0.6, strict=0.2, runner_up_without=without,
                      confident=confident) is expected


# -- photometric edits on pictures with texture and faint regions -------------------------------
def _field_picture(seed: int, side: int = 64, spread: float = 30.0) -> Image.Image:
    """A smooth random field coloured between two random colours (``spread`` grey levels of
    spread), as a patch of a photograph: no flat background, no sharp edge."""
    from aigc_audit.evaluators.copying.pixel_distance import gaussian_blur

    rng = np.random.default_rng(seed)
    field = gaussian_blur(rng.normal(size=(1, side, side)), 3.0)[0]
    field = (field - field.mean()) / field.std()
    start, end = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    step = end - start
    luma = abs(float(step @ [0.299, 0.587, 0.114]))
    pixels = (start + end) / 2 + (field * spread / max(luma, 8.0))[..., None] * step
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def _fields(folder: Path, seeds, role: str = REFERENCE, edit: Callable[[Image.Image], Image.Image] = None):
    items = []
    for seed in seeds:
        picture = _field_picture(seed) if edit is None else edit(_field_picture(seed))
        extra = {"source": f"field {seed}", "license": LICENSE} if role == REFERENCE else {}
        items.append(_item(f"field-{seed}", _save(picture, folder / f"field-{seed}.png"), **extra))
    return _set(items, role)


def test_a_brightened_copy_clipped_channel_by_channel_is_found_on_its_colour_channels(tmp_path):
    reference = _fields(tmp_path / "ref", range(30))
    brighter = _fields(tmp_path / "copies", range(10), SAMPLES,
                       lambda im: ImageEnhance.Brightness(im).enhance(1.25))
    # The alignment stage is left out: this is the hash stage's own look.
    result = ImageNearDuplicate(alignment=False).evaluate(brighter, reference)
    by_colour = [r for r in result.items
                 if r.evidence["compared_on"] == "colour channels matched in histogram"]
    # Each channel clips where it saturates, so the grey levels are bent by no single curve: some
    # copies are confirmed only with each channel matched on its own, and name the training image.
    assert len(by_colour) >= 3
    for r in by_colour:
        assert r.flagged and r.evidence["match_id"] == r.item_id and r.evidence["pixel_distance"] <= 0.2
        # No two of these fields are hash neighbours: how close training images come is not
        # measured, the match states no confidence, and the notes say why.
        assert r.evidence["confidence"] is None
        assert "as after a change of brightness, contrast or gamma" in ImageNearDuplicate.describe(r)
    assert sum(r.flagged and r.evidence["match_id"] == r.item_id for r in result.items) >= 9
    assert any("could not be measured" in note.text for note in result.notes)
    # Brightened pictures of other fields are not copies of these.
    others = _fields(tmp_path / "others", range(30, 50), SAMPLES,
                     lambda im: ImageEnhance.Brightness(im).enhance(1.25))
    assert not any(r.flagged for r in ImageNearDuplicate(alignment=False).evaluate(others, reference).items)


def test_a_noisy_copy_outside_the_hash_radius_is_confirmed_when_it_stands_out(digits, tmp_path):
    reference = _reference(digits, tmp_path / "ref", range(0, 40))
    rng = np.random.default_rng(1)
    pixels = np.asarray(digit(digits, 1), np.float64) + rng.normal(0, 20, (SIDE, SIDE))
    noisy = np.clip(np.rint(pixels), 0, 255)
    copy = _item("copy", _save(Image.fromarray(noisy.astype(np.uint8)), tmp_path / "copy.png"))
    check = ImageNearDuplicate(alignment=False, phash_radius=4, dhash_radius=4)
    hit = check.evaluate(_set([copy]), reference).items[0]
    e = hit.evidence
    # Noise moved both hashes out of the radius; the training image is still the nearest by hash,
    # and compared smoothed it is closer than any two training digits are to each other.
    assert not e["hash_match"] and e["phash_distance"] > 4 and e["dhash_distance"] > 4
    assert hit.flagged and e["match_id"] == "ref-1" and e["compared_on"] == "smoothed grey levels"
    assert e["confidence"] == 1.0
    # Distinct digits are as near by hash to some training digit, and none stands out so.
    distinct = [_item(f"d{i}", _save(digit(digits, i), tmp_path / f"d{i}.png")) for i in range(40, 100)]
    assert not any(r.flagged for r in check.evaluate(_set(distinct), reference).items)


def test_noise_on_a_faint_picture_is_taken_out_and_faint_noisy_look_alikes_stay_apart(tmp_path):
    faint = {seed: _field_picture(seed, spread=4.0) for seed in range(60)}

    def noisy(picture: Image.Image, seed: int) -> Image.Image:
        pixels = np.asarray(picture, np.float64) + np.random.default_rng(seed).normal(0, 8, (64, 64, 3))
        return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))

    reference = _set([_item(f"field-{s}", _save(faint[s], tmp_path / "ref" / f"{s}.png"), source="s",
                            license=LICENSE) for s in range(30)], REFERENCE)
    copies = _set([_item(f"field-{s}", _save(noisy(faint[s], 100 + s), tmp_path / "copies" / f"{s}.png"))
                   for s in range(15)])
    check = ImageNearDuplicate(alignment=False)
    # Patches of some 4 grey levels of spread under noise of sigma 8: smoothed, the noise left in
    # the noisiest tile kept three of these copies above the threshold until it was taken out.
    found = check.evaluate(copies, reference).items
    assert all(r.flagged and r.evidence["match_id"] == r.item_id for r in found)
    # Other faint patches under the same noise are no copies of these.
    others = _set([_item(f"other-{s}", _save(noisy(faint[s], 200 + s), tmp_path / "others" / f"{s}.png"))
                   for s in range(30, 60)])
    assert not any(r.flagged for r in check.evaluate(others, reference).items)


def _one_grey(hue: float, chroma: float = 50.0) -> tuple[int, int, int]:
    """A colour of grey level 120 whose chroma (``chroma`` grey levels) is turned by ``hue`` degrees."""
    cb, cr = chroma * np.cos(np.radians(hue)), chroma * np.sin(np.radians(hue))
    red, green, blue = 120 + 1.402 * cr, 120 - 0.344136 * cb - 0.714136 * cr, 120 + 1.772 * cb
    return int(round(red)), int(round(green)), int(round(blue))


def test_a_copy_of_one_flat_grey_is_named_after_the_look_alike_whose_colours_agree(tmp_path, monkeypatch):
    def drawing(hue: float, chroma: float = 50.0) -> Image.Image:
        """A box on a ground, both of one grey: flat in grey levels, told apart by colour alone."""
        pixels = np.empty((64, 64, 3), np.uint8)
        pixels[:] = _one_grey(hue, chroma)
        pixels[12:40, 10:30] = _one_grey(hue + 150, chroma)
        return Image.fromarray(pixels)

    def shifted(picture: Image.Image) -> Image.Image:
        return Image.fromarray(np.roll(np.asarray(picture), 1, axis=1))

    hues = (0, 90, 180, 270)  # further apart than a hue jitter turns
    reference = _set([_item(f"hue-{h}", _save(drawing(h), tmp_path / "ref" / f"{h}.png"), source="s",
                            license=LICENSE) for h in hues], REFERENCE)
    generated = {f"copy-{h}": shifted(drawing(h)) for h in hues}
    # hue-270's layout in colours turned 40 degrees and a third as strong: not a copy's own colours.
    generated["recoloured-270"] = shifted(drawing(310, chroma=17))
    samples = _set([_item(name, _save(picture, tmp_path / f"{name}.png"))
                    for name, picture in generated.items()])

    def found() -> dict:
        return {r.item_id: r for r in ImageNearDuplicate(workers=1).evaluate(samples, reference).items}

    results = found()
    for h in hues:
        hit = results[f"copy-{h}"]
        assert hit.flagged and hit.evidence["match_id"] == f"hue-{h}", h
        assert hit.evidence["colour_check"]["agree"]
    # Every copy ties on the grey levels with all four; the first by hash, another colour, was
    # dropped and is named beside the match.
    assert results["copy-270"].evidence["dropped_match"]["match_id"] != "hue-270"
    # Chosen among several, the match must agree as a copy not recoloured: within the check's own
    # bounds (a hue jitter), the recoloured drawing would be taken.
    assert not results["recoloured-270"].flagged
    with monkeypatch.context() as patched:
        patched.setattr(ind, "_TIED_HUE_TURN", 45.0)
        patched.setattr(ind, "_TIED_CHROMA_GAIN", (0.0, 3.0))
        hit = found()["recoloured-270"]
        assert hit.flagged and hit.evidence["match_id"] == "hue-270"
    # Without looking past the dropped one, that copy is lost.
    monkeypatch.setattr(ind, "_FLAT_TRIED", 0)
    assert not found()["copy-270"].flagged


def test_no_match_on_a_flat_value_channel(tmp_path):
    # Pure, saturated colours: the largest of R, G and B is 255 everywhere in both pictures, so
    # their value channels are flat and, standardised, alike; their layouts are not.
    def saturated(colours, split) -> Image.Image:
        pixels = np.zeros((48, 48, 3), np.uint8)
        pixels[...] = colours[0]
        pixels[split] = colours[1]
        return Image.fromarray(pixels)

    halves = saturated([(255, 0, 0), (0, 255, 0)], np.s_[:, 24:])
    corner = saturated([(0, 0, 255), (255, 0, 255)], np.s_[30:, :12])
    reference = _set([_item("halves", _save(halves, tmp_path / "h.png"), source="s", license=LICENSE),
                      _item("other", _save(saturated([(0, 255, 255), (255, 255, 0)], np.s_[:10, :]),
                                           tmp_path / "o.png"), source="s", license=LICENSE)], REFERENCE)
    # Every training image a hash candidate: only the looks decide.
    check = ImageNearDuplicate(alignment=False, phash_radius=32, dhash_radius=32)
    hit = check.evaluate(_set([_item("corner", _save(corner, tmp_path / "c.png"))]), reference).items[0]
    assert not hit.flagged and hit.evidence["compared_on"] != "value channel"
    # A copy of the same picture is still found, on its grey levels.
    same = check.evaluate(_set([_item("copy", _save(halves, tmp_path / "copy.png"))]), reference).items[0]
    assert same.flagged and same.evidence["match_id"] == "halves"


# -- worker processes: the same findings as one process ------------------------------------------
def _release_for_workers(folder: Path) -> tuple[SampleSet, SampleSet]:
    """Forty training digits, the coloured drawing, four logos in five colourings each and an
    unreadable file; samples that are copies confirmed by each look of the pixel check (grey
    levels, flipped, the value channel after a hue turn, smoothed after a blur), a jittered logo
    found with its hue turned back, a turned copy for the alignment, distinct digits and an
    unreadable file."""
    from sklearn.datasets import load_digits

    pixels = np.rint(load_digits().images / 16 * 255).astype(np.uint8)

    def one(index: int, side: int = SIDE) -> Image.Image:
        return Image.fromarray(pixels[index]).resize((side, side), Image.Resampling.BILINEAR)

    training = [_item(f"ref-{i}", _save(one(i), folder / "ref" / f"{i}.png"), source=f"digit {i}")
                for i in range(0, 80, 2)]
    training.append(_item("ref-colour", _save(_coloured(), folder / "ref" / "colour.png")))
    training += [_item(f"ref-logo-{i}", _save(_drawing(i // 5, i % 5), folder / "ref" / f"logo-{i}.png"))
                 for i in range(20)]
    training.append(_item("ref-broken", _save(Image.new("L", (4, 4)), folder / "ref" / "broken.png")))
    (folder / "ref" / "broken.png").write_bytes(b"not a png")
    samples = {
        "exact": one(2), "flipped": one(4).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "blurred": one(6).filter(ImageFilter.GaussianBlur(1.5)), "hue": _hue_turned(_coloured(), 0.05),
        "turned": one(8, 64).rotate(5, resample=Image.Resampling.BICUBIC),
        "jittered": _hue_turned(_drawing(0, 0), 0.05),
        **{f"distinct-{i}": one(i) for i in range(1, 31, 2)},
    }
    items = [_item(name, _save(image, folder / "gen" / f"{name}.png")) for name, image in samples.items()]
    (folder / "gen" / "broken.png").write_bytes(b"\x89PNG broken")
    items.append(_item("broken", folder / "gen" / "broken.png"))
    return _set(items), _set(training, REFERENCE)




def test_worker_processes_hash_and_check_as_one_process_does(tmp_path):
    samples, reference = _release_for_workers(tmp_path / "here")
    alone = ImageNearDuplicate(workers=1).evaluate(samples, reference)
    # Small batches, so that even this small set is hashed, checked and aligned by two workers.
    spread = evaluate_in_two_workers("tests.evaluators.copying.test_image_near_duplicate",
                                     "_release_for_workers", tmp_path / "there", settings="""
image_near_duplicate._ITEMS_PER_WORKER = 2
image_near_duplicate._DESCRIBED_PER_TASK = image_near_duplicate._DESCRIBED_PER_WORKER = 4
image_near_duplicate._HASHES_PER_TASK = 64""")
    # Two workers for each stage: the training images' hashes, the generated images', the hash
    # search, the pixel check, the alignment's retrieval, the looks on the nearest by window, the
    # alignment, and the sampled training images' alignment that gives its confidence.
    assert spread["started"] == [2, 2, 2, 2, 2, 2, 2, 2]
    here = [[r.item_id, r.flagged, r.score, r.evidence] for r in alone.items]
    assert spread["items"] == json.loads(json.dumps(here))
    assert spread["errors"] == alone.errors and set(alone.errors) == {"broken"}
    assert spread["notes"] == [n.text for n in alone.notes]
    flagged = {r.item_id: r.evidence for r in alone.items if r.flagged}
    assert set(flagged) == {"exact", "flipped", "blurred", "hue", "turned", "jittered"}
    assert flagged["jittered"]["match_id"] == "ref-logo-0" and flagged["jittered"]["hue_turned_back"] == -0.05
    assert flagged["flipped"]["orientation"] == "flipped left-right"
    assert flagged["blurred"]["compared_on"] == "smoothed grey levels"
    assert flagged["hue"]["compared_on"] == "value channel"
    assert flagged["turned"]["method"] == "alignment" and flagged["turned"]["rotation"] == 5.0
    assert alone.metrics[KEY_UNREADABLE_REFERENCE] == 1.0


def test_the_hash_search_by_blocks_and_substring_tables_finds_what_a_scan_finds(monkeypatch):
    from types import SimpleNamespace

    from aigc_audit.evaluators.base import no_progress
    from aigc_audit.evaluators.copying import image_near_duplicate
    from aigc_audit.evaluators.copying.hamming_search import radius_search

    rng = np.random.default_rng(3)
    refs = rng.integers(0, 2 ** 63, (2, 3000), dtype=np.int64).astype(np.uint64)
    # Half the queries are training hashes with up to 12 bits flipped: some in the radius, some not.
    flips = [np.bitwise_or.reduce(np.uint64(1) << rng.choice(64, k, replace=False).astype(np.uint64))
             if k else np.uint64(0) for k in rng.integers(0, 13, 300)]
    planted = refs[:, rng.choice(3000, 300)] ^ np.array(flips, np.uint64)
    queries = np.concatenate([planted, rng.integers(0, 2 ** 63, (2, 300), dtype=np.int64).astype(np.uint64)],
                             axis=1)
    monkeypatch.setattr(image_near_duplicate, "_HASHES_PER_TASK", 64)
    monkeypatch.setattr(image_near_duplicate, "AUTO_MIN_REFERENCES", 1000)  # substring tables here too
    # The last 200 queries stand for hues turned back: searched after the variants, as rows of their own.
    asked = SimpleNamespace(phash=queries[0, :-200], dhash=queries[1, :-200],
                            recoloured_phash=queries[0, -200:], recoloured_dhash=queries[1, -200:])
    held = SimpleNamespace(phash=refs[0], dhash=refs[1])
    found = ImageNearDuplicate(workers=1)._hash_search(asked, held, no_progress)
    for hashes, references, matches in zip(queries, refs, found):
        scanned = radius_search(hashes, references, 10, method="scan")
        assert len(scanned) > 100
        for name in ("query", "reference", "distance", "nearest", "nearest_distance"):
            assert np.array_equal(getattr(matches, name), getattr(scanned, name)), name


def test_a_look_grouped_by_variant_gives_each_candidate_its_own_distance():
    # The pixel check compares each candidate with the variant its grey levels came closest with;
    # one call per variant must give every candidate the distance of its own call, bit for bit.
    from aigc_audit.evaluators.copying.pixel_distance import border_mask, remapped_distance

    rng = np.random.default_rng(0)
    variants = rng.integers(0, 256, size=(4, 16, 16)).astype(np.uint8)
    variants[1, :, :3] = 255  # clipped
    references = rng.integers(0, 256, size=(7, 16, 16)).astype(np.uint8)
    references[2] = 5  # flat: inf
    variant = np.array([3, 0, 3, 1, 1, 3, 0])
    mask = border_mask(16, 1, 1)
    expected = [remapped_distance(variants[v:v + 1], references[c:c + 1], 4, mask)[0, 0]
                for c, v in enumerate(variant)]
    assert np.array_equal(_by_variant(remapped_distance, variants, variant, references, 4, mask), expected)


def _tiles(photo: np.ndarray, side: int) -> list[np.ndarray]:
    return [photo[y:y + side, x:x + side] for y in range(0, photo.shape[0] - side + 1, side)
            for x in range(0, photo.shape[1] - side + 1, side)]


def _noisy_tile(tile: np.ndarray, seed: int, sigma: float = 8.0) -> Image.Image:
    pixels = tile + np.random.default_rng(seed).normal(0, sigma, tile.shape)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def test_a_noisy_faint_copy_whose_hashes_moved_away_is_found_by_its_window_descriptor(tmp_path):
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images[:2]
    tiles = _tiles(china, 32)
    reference = _set([_item(f"tile-{i}", _save(Image.fromarray(t), tmp_path / "ref" / f"{i}.png"),
                            source="china.jpg", license=LICENSE) for i, t in enumerate(tiles)], REFERENCE)
    # Two faint tiles of the sky under noise of sigma 8: their hashes are the noise's, and neither
    # source is within a radius or the nearest by hash as it is; both are the nearest by window
    # descriptor (a standardised grid of mean grey levels), and smoothed they match their source.
    copies = _set([_item(f"tile-{i}", _save(_noisy_tile(tiles[i], i), tmp_path / "copies" / f"{i}.png"))
                   for i in (135, 136)])
    check = ImageNearDuplicate(workers=1)
    for r in check.evaluate(copies, reference).items:
        e = r.evidence
        assert r.flagged and e["match_id"] == r.item_id and e["compared_on"] == "smoothed grey levels"
        assert not e["hash_match"]
    # A faint tile of another photograph under the same noise comes as close to a sky tile of this
    # one, smoothed, as to several others: it leads none of them by half, and is no copy.
    other = _set([_item("flower-54", _save(_noisy_tile(_tiles(flower, 32)[54], 1054),
                                           tmp_path / "other.png"))])
    assert not check.evaluate(other, reference).items[0].flagged


@pytest.mark.parametrize("turned", [90, 0])
def test_each_retrieval_searches_its_own_queries_in_blocks(monkeypatch, turned):
    # By window (two descriptors an item), by window mirrored (one, or none when only the image as
    # it is is compared), past a band and past a band turned back (as many, or none): each way's
    # blocks cover its own queries, and give what one search of them all gives.
    from aigc_audit.evaluators.copying.image_alignment import (
        SortedBands,
        nearest_by_window,
        nearest_past_band,
    )

    monkeypatch.setattr(ind, "_QUERIES_PER_BLOCK", 32)
    rng = np.random.default_rng(0)
    items, training = 90, 50

    def unit(shape):
        a = rng.standard_normal(shape)
        a -= a.mean(axis=-1, keepdims=True)
        return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)

    bands = unit((training, 6, 32))
    # Past a band turned back: every other one a training image's own bands, a little moved
    # (similar enough to be found), the others unrelated.
    turned_bands = unit((2 * turned, 6, 32))
    turned_bands[::2] = bands[np.arange(turned) % training] + 0.003 * unit((turned, 6, 32))
    retrieval = ind._Retrieval(rng.random((items, 2, 64), np.float32),
                               rng.random((turned, 1, 64), np.float32),
                               rng.random((training, 11, 64), np.float32),
                               rng.random((items, 6, 32), np.float32), bands, 3,
                               turned_bands, SortedBands.of(bands) if turned else None)
    tasks = retrieval.tasks()
    ways = (ind._WHOLE, ind._MIRRORED_WHOLE, ind._BANDS, ind._TURNED_BANDS)
    assert [sum(way == each for way, _, _ in tasks) for each in ways] == [3, 3 if turned else 0, 3,
                                                                          6 if turned else 0]
    found = ind._retrieve(retrieval, tasks)

    def joined(each):
        return np.concatenate([np.zeros((0, 1 if each in (ind._BANDS, ind._TURNED_BANDS) else 3), np.int64)]
                              + [rows for (way, _, _), rows in zip(tasks, found) if way == each])

    assert (joined(ind._WHOLE) == nearest_by_window(retrieval.queries, retrieval.windows, 3)).all()
    assert joined(ind._MIRRORED_WHOLE).shape == (turned, 3)
    assert joined(ind._TURNED_BANDS).shape == (2 * turned, 1)
    if turned:
        mirrored_nearest = nearest_by_window(retrieval.mirrored, retrieval.windows, 3)
        assert (joined(ind._MIRRORED_WHOLE) == mirrored_nearest).all()
        # Where the nearest is at least _BAND_TURN_SIMILAR alike, that one; elsewhere -1.
        turned_nearest = nearest_past_band(retrieval.turned_bands, retrieval.bands, 1)
        turned_nearest[1::2] = -1
        assert (turned_nearest[::2, 0] == np.arange(turned) % training).all()
        assert (joined(ind._TURNED_BANDS) == turned_nearest).all()
    assert (joined(ind._BANDS) == nearest_past_band(retrieval.query_bands, retrieval.bands, 1)).all()
