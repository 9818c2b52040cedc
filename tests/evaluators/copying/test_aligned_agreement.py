"""Known answers for the last check of a match by alignment: a copy keeps its colours under every
colour edit a copier uses; the same layout in other colours and colour where the training image
had none are dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from aigc_audit.evaluators.copying.aligned_agreement import MAX_HUE_TURN, MIN_AGREEMENT, aligned_agreement
from aigc_audit.evaluators.copying.image_alignment import onto_sample
from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.sampleset import IMAGE, REFERENCE, SAMPLES, Item, SampleSet


def drawing(seed: int, side: int = 64) -> Image.Image:
    """A flat ground with three boxes, each of its own saturated colour."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = (int(v) for v in rng.integers(0, side - 24, 2))
        w, h = (int(v) for v in rng.integers(12, 24, 2))
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def hue_turned(image: Image.Image, share: float, saturation: float = 1.0) -> Image.Image:
    """Hue turned by ``share`` of the circle and saturation scaled, in HSV (a colour jitter)."""
    hsv = np.asarray(image.convert("HSV")).astype(np.float64)
    hsv[..., 0] = np.mod(hsv[..., 0] + share * 256, 256)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return Image.fromarray(np.rint(hsv).astype(np.uint8), "HSV").convert("RGB")


def chroma_turned(image: Image.Image, degrees: float) -> Image.Image:
    """The same grey levels, every chroma turned by ``degrees``: the layout in other colours."""
    ycc = np.asarray(image.convert("YCbCr")).astype(np.float64)
    z = ((ycc[..., 2] - 128) + 1j * (ycc[..., 1] - 128)) * np.exp(1j * np.deg2rad(degrees))
    ycc[..., 2], ycc[..., 1] = z.real + 128, z.imag + 128
    return Image.fromarray(np.clip(np.rint(ycc), 0, 255).astype(np.uint8), "YCbCr").convert("RGB")


def gamma(image: Image.Image, value: float) -> Image.Image:
    return image.point([round(255 * (v / 255) ** value) for v in range(256)] * 3)


EDITS = {
    "unchanged": lambda image: image,
    "hue +10 % of the circle": lambda image: hue_turned(image, 0.10),
    "hue -7 %, saturation x0.7": lambda image: hue_turned(image, -0.07, 0.7),
    "saturation x1.3": lambda image: hue_turned(image, 0.0, 1.3),
    "brightness +25 %": lambda image: ImageEnhance.Brightness(image).enhance(1.25),
    "brightness -25 %": lambda image: ImageEnhance.Brightness(image).enhance(0.75),
    "contrast -20 %": lambda image: ImageEnhance.Contrast(image).enhance(0.8),
    "gamma 0.7": lambda image: gamma(image, 0.7),
    "gamma 1.4": lambda image: gamma(image, 1.4),
    "grayscale": lambda image: image.convert("L").convert("RGB"),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("edit", list(EDITS))
def test_a_copy_keeps_its_colours_under_a_copiers_colour_edits(edit, seed):
    source = drawing(seed)
    found = aligned_agreement(EDITS[edit](source), source, 0.0, 1.0, (0, 0))
    assert found.agree, (edit, found)
    if edit == "grayscale":
        assert found.hue_turn is None and "too grey" in found.reason


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_hue_jitter_is_measured_as_a_turn_of_its_sign(seed):
    source = drawing(seed)
    forward = aligned_agreement(hue_turned(source, 0.08), source, 0.0, 1.0, (0, 0))
    back = aligned_agreement(hue_turned(source, -0.08), source, 0.0, 1.0, (0, 0))
    # HSV's hue and the chroma plane's angle are not the same circle: the turn is about 29 degrees.
    assert 10 < abs(forward.hue_turn) < MAX_HUE_TURN and 10 < abs(back.hue_turn) < MAX_HUE_TURN
    assert np.sign(forward.hue_turn) == -np.sign(back.hue_turn)
    assert forward.agreement > MIN_AGREEMENT and back.agreement > MIN_AGREEMENT


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("degrees", [90, 180, -120])
def test_the_same_layout_in_other_colours_is_dropped(seed, degrees):
    # Grey levels unchanged, so the alignment sees a perfect copy; the colours are others altogether.
    source = drawing(seed)
    found = aligned_agreement(chroma_turned(source, degrees), source, 0.0, 1.0, (0, 0))
    assert not found.agree and "hues turned" in found.reason
    assert abs(found.hue_turn) == pytest.approx(abs(degrees), abs=8)


def test_two_colours_turned_each_its_own_way_are_no_one_change_of_colour():
    # Ground and box turned by hue jitters of opposite signs: each alone is a copier's edit, but no
    # single change of hue and saturation maps both.
    source = Image.new("RGB", (64, 64), (200, 60, 60))
    ImageDraw.Draw(source).rectangle((8, 8, 48, 56), fill=(60, 60, 200))
    generated = hue_turned(source, 0.1)
    box = hue_turned(source, -0.1).crop((8, 8, 49, 57))
    generated.paste(box, (8, 8))
    found = aligned_agreement(generated, source, 0.0, 1.0, (0, 0))
    assert not found.agree and "no one change" in found.reason and found.agreement < MIN_AGREEMENT


def test_strong_colour_where_the_training_image_has_none_is_dropped():
    source = drawing(3).convert("L").convert("RGB")
    coloured = aligned_agreement(drawing(3), source, 0.0, 1.0, (0, 0))
    assert not coloured.agree and "hardly any" in coloured.reason
    assert aligned_agreement(source, source, 0.0, 1.0, (0, 0)).agree


def test_the_overlay_left_out_is_not_compared():
    source = drawing(4)
    captioned = source.copy()
    ImageDraw.Draw(captioned).rectangle((0, 50, 63, 63), fill=(255, 220, 0))
    whole = aligned_agreement(captioned, source, 0.0, 1.0, (0, 0))
    left_out = aligned_agreement(captioned, source, 0.0, 1.0, (0, 0), covered=(0.0, 50 / 64, 1.0, 1.0))
    assert left_out.agree and left_out.agreement > 0.99
    assert whole.agreement < left_out.agreement


@pytest.mark.parametrize("rotation, scale, shift",
                         [(5.0, 1.1, (3, -2)), (-10.0, 1.2, (0, 0)), (0.0, 1.19, (-4, 5))])
def test_the_training_image_is_compared_where_the_alignment_puts_it(rotation, scale, shift):
    # A turned, enlarged and moved copy, at four times the side: compared under its own alignment
    # it agrees; the same copy recoloured is dropped.
    source = drawing(5)
    big = source.resize((256, 256), Image.Resampling.NEAREST)
    moved = (shift[0] * 4, shift[1] * 4)
    copy = onto_sample(big, (256, 256), rotation, scale, moved)
    found = aligned_agreement(copy, big, rotation, scale, moved)
    assert found.agree and found.agreement > 0.99 and abs(found.hue_turn) < 3
    assert not aligned_agreement(chroma_turned(copy, 150), big, rotation, scale, moved).agree


def test_evidence_names_every_figure():
    source = drawing(6)
    evidence = aligned_agreement(hue_turned(source, 0.05), source, 0.0, 1.0, (0, 0)).to_evidence()
    assert set(evidence) == {"agree", "reason", "hue_turn", "agreement", "chroma_gain"}
    assert evidence["agree"] is True and 0 < evidence["chroma_gain"] < 2


def _set(folder: Path, images: dict[str, Image.Image], role: str) -> SampleSet:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.save(folder / f"{name}.png")
    items = tuple(Item(id=name, modality=IMAGE, path=folder / f"{name}.png", source=f"drawing {name}",
                       license="CC0-1.0") for name in images)
    return SampleSet(path=folder, kind="test", role=role, items=items, sha256="0")


def cropped(image: Image.Image, area: float, corner: tuple[float, float]) -> Image.Image:
    side = round(image.width * np.sqrt(area))
    x, y = round(corner[0] * (image.width - side)), round(corner[1] * (image.height - side))
    return image.crop((x, y, x + side, y + side)).resize(image.size, Image.Resampling.BICUBIC)


def test_the_evaluator_finds_a_jittered_crop_and_drops_a_recoloured_one(tmp_path):
    # Both crops have their source's grey levels, and so both align with it; only one kept its colours.
    training = {f"t{i}": drawing(400 + i) for i in range(40)}
    samples = {"jittered": cropped(hue_turned(training["t7"], 0.03, 1.2), 0.8, (1, 0)),
               "recoloured": cropped(chroma_turned(training["t9"], 150), 0.8, (0, 1))}
    result = ImageNearDuplicate().evaluate(_set(tmp_path / "gen", samples, SAMPLES),
                                           _set(tmp_path / "ref", training, REFERENCE))
    by_id = {r.item_id: r for r in result.items}
    jittered, recoloured = by_id["jittered"], by_id["recoloured"]
    assert jittered.flagged and jittered.evidence["match_id"] == "t7", jittered.evidence
    assert jittered.evidence["method"] == "alignment" and jittered.evidence["colour_check"]["agree"]
    assert not recoloured.flagged
    dropped = recoloured.evidence["dropped_match"]
    assert dropped["match_id"] == "t9" and dropped["pixel_distance"] < 0.2
    assert not dropped["colour_check"]["agree"] and "hues turned" in dropped["colour_check"]["reason"]


def test_a_match_by_hash_on_one_flat_grey_is_checked_in_colour(tmp_path):
    # A mint ground with a pink box of the same grey is one flat grey, as is a plain orange of that
    # grey: the grey levels match them 0.0 apart, the colours do not. A brighter copy keeps its own.
    source = Image.new("RGB", (64, 64), (102, 250, 192))
    ImageDraw.Draw(source).rectangle((20, 40, 44, 50), fill=(210, 195, 190))
    training = {"mint": source, **{f"t{i}": drawing(500 + i) for i in range(20)}}
    samples = {"orange": Image.new("RGB", (64, 64), (255, 190, 120)),
               "brighter": ImageEnhance.Brightness(source).enhance(1.1)}
    result = ImageNearDuplicate().evaluate(_set(tmp_path / "gen", samples, SAMPLES),
                                           _set(tmp_path / "ref", training, REFERENCE))
    by_id = {r.item_id: r for r in result.items}
    orange, brighter = by_id["orange"], by_id["brighter"]
    assert not orange.flagged and orange.evidence["dropped_match"]["method"] == "hash"
    assert orange.evidence["dropped_match"]["match_id"] == "mint"
    assert not orange.evidence["colour_check"]["agree"]
    assert brighter.flagged and brighter.evidence["match_id"] == "mint"
    assert brighter.evidence["colour_check"]["agree"]


def test_a_copy_tied_in_grey_with_a_flat_grey_training_image_is_matched_past_it(tmp_path):
    # A blue box centred on a sage ground: the box inside its "frame" of ground is one flat grey,
    # as is the mint training image, 0.0 apart. That match is dropped in colour, and the copy's own
    # source, looked for past it, is found.
    mint = Image.new("RGB", (64, 64), (102, 250, 192))
    ImageDraw.Draw(mint).rectangle((20, 40, 44, 50), fill=(210, 195, 190))
    source = Image.new("RGB", (64, 64), (157, 180, 147))
    ImageDraw.Draw(source).rectangle((14, 15, 49, 50), fill=(20, 120, 190))
    training = {"mint": mint, "source": source, **{f"t{i}": drawing(600 + i) for i in range(20)}}
    samples = {"shifted": source.transform((64, 64), Image.Transform.AFFINE, (1, 0, -3, 0, 1, 2),
                                           fillcolor=(157, 180, 147))}
    result = ImageNearDuplicate().evaluate(_set(tmp_path / "gen", samples, SAMPLES),
                                           _set(tmp_path / "ref", training, REFERENCE))
    found = result.items[0]
    assert found.flagged and found.evidence["match_id"] == "source", found.evidence
