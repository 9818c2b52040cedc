"""The flagged-item view's data: highlighted passages, image pairs, figures, category scores."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aigc_audit.dashboard.evidence import (
    category_scores,
    details,
    figures,
    highlight_html,
    image_pair,
    merge_spans,
    shared_spans,
)
from aigc_audit.errors import ItemError


def test_spans_are_merged_sorted_and_clipped():
    assert merge_spans([[10, 20], [0, 5], [15, 25], [4, 6], [30, 99], [7, 7]], 40) == \
        [(0, 6), (10, 25), (30, 40)]


def test_highlight_marks_spans_and_escapes_the_text():
    text = "<b>bold</b> & the rest"
    html = highlight_html(text, [[0, 11]])
    assert "<mark>&lt;b&gt;bold&lt;/b&gt;</mark> &amp; the rest" in html
    assert "<b>" not in html  # generated text never becomes markup


def test_shared_spans_pick_their_side():
    evidence = {"shared": [{"words": 5, "text": "x", "sample_span": [0, 9], "reference_span": [4, 13]}]}
    assert shared_spans(evidence, "sample") == [[0, 9]]
    assert shared_spans(evidence, "reference") == [[4, 13]]
    assert shared_spans({}, "sample") == []
    with pytest.raises(ValueError, match="side must be 'sample' or 'reference'; got 'both'"):
        shared_spans(evidence, "both")


def test_reference_spans_are_only_those_of_the_match_shown():
    evidence = {"match_id": "r-1", "shared": [
        {"sample_span": [0, 9], "reference_span": [4, 13], "match_id": "r-1"},
        {"sample_span": [20, 30], "reference_span": [0, 10], "match_id": "r-2"}]}
    assert shared_spans(evidence, "sample") == [[0, 9], [20, 30]]
    assert shared_spans(evidence, "reference") == [[4, 13]]


def test_figures_keep_scalars_and_category_scores_find_the_mapping():
    evidence = {"similarity": 0.8, "match_id": "r", "match_text": "long", "shared": [], "hamming": 3,
                "flag": True, "scores": {"toxicity": 0.9, "insult": 0.2}, "label": "insult",
                "text": "the flagged text itself", "classifier": "x" * 81}
    assert figures(evidence) == {"similarity": 0.8, "hamming": 3}
    assert details(evidence) == {"label": "insult"}
    assert category_scores(evidence) == {"toxicity": 0.9, "insult": 0.2}
    assert category_scores({"by_label": {"threat": 1}}) == {"threat": 1.0}
    assert category_scores({"similarity": 0.5, "params": {"name": "x"}}) == {}


def _save(path, array):
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


def test_image_pair_shows_both_at_a_readable_size_and_their_difference(tmp_path):
    base = np.full((16, 32, 3), 100)
    changed = base.copy()
    changed[:, :16] = 160  # the left half differs by 60
    pair = image_pair(_save(tmp_path / "s.png", changed), _save(tmp_path / "r.png", base), side=320)
    assert pair.sample.shape == pair.reference.shape == (160, 320, 3)
    assert pair.difference.shape == (160, 320)
    assert pair.mean_abs_difference == pytest.approx(30.0)
    assert pair.difference[:, :150].min() == 60 and pair.difference[:, 170:].max() == 0
    assert pair.sample_size == (32, 16)


def test_image_pair_compares_a_differently_sized_match_at_the_samples_resolution(tmp_path):
    sample = _save(tmp_path / "s.png", np.zeros((8, 8, 3)))
    reference = _save(tmp_path / "r.png", np.zeros((64, 64, 3)))
    pair = image_pair(sample, reference)
    assert pair.reference_size == (64, 64) and pair.mean_abs_difference == 0.0
    assert pair.sample.shape == (320, 320, 3)


def test_image_pair_turns_a_flipped_sample_back_before_comparing(tmp_path):
    base = np.zeros((8, 8, 3))
    base[:, :2] = 255  # a bar on the left
    flipped = base[:, ::-1]
    pair = image_pair(_save(tmp_path / "s.png", flipped), _save(tmp_path / "r.png", base),
                      orientation="flipped left-right")
    assert pair.mean_abs_difference == 0.0
    assert image_pair(tmp_path / "s.png", tmp_path / "r.png").mean_abs_difference > 0


def test_image_pair_compares_the_picture_inside_an_added_frame(tmp_path):
    # A teal frame around a rose ground of the same grey: the picture inside the frame is shown
    # and compared, the box found in colour (in grey levels the frame runs on into the ground).
    base = np.zeros((32, 32, 3))
    base[:] = (200, 90, 120)
    base[10:20, 8:24] = (20, 20, 20)
    framed = np.zeros((40, 40, 3))
    framed[:] = (66, 152, 150)
    framed[4:36, 4:36] = base
    pair = image_pair(_save(tmp_path / "s.png", framed), _save(tmp_path / "r.png", base),
                      orientation="inside an added frame")
    assert pair.sample_size == (32, 32) and pair.mean_abs_difference == 0.0


def test_an_unreadable_image_is_an_item_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    good = _save(tmp_path / "r.png", np.zeros((8, 8, 3)))
    with pytest.raises(ItemError, match="not an image file Pillow can read: bad.png"):
        image_pair(tmp_path / "bad.png", good)


def test_image_pair_aligns_a_shifted_copy_as_the_audit_matched_it(tmp_path):
    rng = np.random.default_rng(0)
    training = rng.integers(0, 255, size=(16, 16), dtype=np.uint8)
    moved = np.zeros_like(training)
    moved[:, 1:] = training[:, :-1]  # the copy is one pixel to the right
    Image.fromarray(training, "L").save(tmp_path / "t.png")
    Image.fromarray(moved, "L").save(tmp_path / "g.png")
    raw = image_pair(tmp_path / "g.png", tmp_path / "t.png")
    aligned = image_pair(tmp_path / "g.png", tmp_path / "t.png", shift=(-1, 0))
    assert aligned.mean_abs_difference < raw.mean_abs_difference / 10


def test_a_match_found_by_alignment_is_compared_aligned_and_its_region_outlined(tmp_path):
    from PIL import ImageDraw

    from aigc_audit.evaluators.copying.image_alignment import ALIGN_SIDE, align
    from aigc_audit.evaluators.copying.pixel_distance import thumbnail

    source = Image.new("L", (64, 64), 30)
    draw = ImageDraw.Draw(source)
    draw.ellipse((8, 6, 40, 30), fill=220)
    draw.rectangle((30, 36, 58, 58), fill=140)
    copy = source.rotate(5, resample=Image.Resampling.BICUBIC).crop((6, 2, 60, 56)).resize((64, 64))
    found = align(*(thumbnail(image, ALIGN_SIDE).astype(float) for image in (copy, source)))
    shift = (round(found.shift[0]), round(found.shift[1]))
    sample = _save(tmp_path / "s.png", np.asarray(copy))
    reference = _save(tmp_path / "r.png", np.asarray(source))
    aligned = image_pair(sample, reference, shift=shift, alignment=(found.rotation, found.scale),
                         region=found.box)
    plain = image_pair(sample, reference)
    assert aligned.mean_abs_difference < 0.5 * plain.mean_abs_difference
    # The training image is shown whole, with the matched region outlined in red.
    red = (aligned.reference[..., 0] == 255) & (aligned.reference[..., 1] == 0)
    assert red.any() and not ((plain.reference[..., 0] == 255) & (plain.reference[..., 1] == 0)).any()


def test_a_turned_and_cropped_copy_is_shown_turned_back_then_aligned(tmp_path):
    # The audit's own evidence for a copy turned by a quarter and cropped (a wide picture, so the
    # turn swaps its sides): the page turns the sample back, then aligns the training image on it.
    from PIL import ImageDraw

    from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
    from aigc_audit.sampleset import IMAGE, REFERENCE, SAMPLES, Item, SampleSet

    rng = np.random.default_rng(5)
    training = {}
    for i in range(12):
        picture = Image.new("L", (96, 64), int(rng.integers(0, 80)))
        draw = ImageDraw.Draw(picture)
        for _ in range(5):
            x, y = int(rng.integers(0, 80)), int(rng.integers(0, 50))
            draw.ellipse((x, y, x + int(rng.integers(10, 40)), y + int(rng.integers(10, 30))),
                         fill=int(rng.integers(100, 256)))
        training[f"t{i}"] = picture
    copy = training["t3"].crop((4, 3, 92, 61)).resize((96, 64), Image.Resampling.BICUBIC)
    copy = copy.transpose(Image.Transpose.ROTATE_90)  # 64 x 96
    paths = {name: _save(tmp_path / f"{name}.png", np.asarray(image)) for name, image in training.items()}
    sample = _save(tmp_path / "copy.png", np.asarray(copy))
    reference = SampleSet(path=tmp_path, kind="t", role=REFERENCE, sha256="0", items=tuple(
        Item(id=name, modality=IMAGE, path=path, source="drawn", license="CC0-1.0")
        for name, path in paths.items()))
    generated = SampleSet(path=tmp_path, kind="t", role=SAMPLES, sha256="0",
                          items=(Item(id="copy", modality=IMAGE, path=sample),))
    hit = ImageNearDuplicate().evaluate(generated, reference).items[0]
    e = hit.evidence
    assert hit.flagged and e["match_id"] == "t3" and e["method"] == "alignment"
    assert e["orientation"] == "rotated 90"
    shown = image_pair(sample, paths["t3"], shift=tuple(e["shift"]), orientation=e["orientation"],
                       alignment=(e["rotation"], e["scale"]), region=e["matched_region"])
    as_is = image_pair(sample, paths["t3"], shift=tuple(e["shift"]), alignment=(e["rotation"], e["scale"]))
    assert shown.sample_size == (96, 64) and as_is.sample_size == (64, 96)
    assert shown.mean_abs_difference < 0.1 * as_is.mean_abs_difference  # 1.4 against 55 grey levels


@pytest.mark.parametrize("copied, before, after", [
    ("天下大势，分久必合，合久必分。周末七国分争，并入于秦。及秦灭之后，楚、汉分争，又并入于汉。",
     "<b>模型生成：</b>", "以上是输出。"),
    ("Model says 天下大势，分久必合，合久必分。the end of the quoted part ひらがな", "<b>前</b> ", " 後"),
])
def test_text_copy_passages_are_highlighted_in_chinese_and_mixed_text(copied, before, after):
    """The spans text_copy reports mark exactly the copied characters, on both sides, in
    Chinese and in mixed scripts, with the surrounding text escaped."""
    from aigc_audit.evaluators.copying.text_copy import TextCopy
    from aigc_audit.sampleset import REFERENCE, text_set

    training = ["无关的训练文本，与样本没有共同之处。", "前文。" + copied + "后文。"]
    sample = before + copied + after
    (item,) = TextCopy().evaluate(text_set([sample]), text_set(training, role=REFERENCE)).items
    assert item.flagged
    sample_html = highlight_html(sample, shared_spans(item.evidence, "sample"))
    reference_html = highlight_html(training[1], shared_spans(item.evidence, "reference"))
    # The copied text from its first to its last token: the trailing punctuation is no token.
    marked = copied.rstrip("。")
    assert f"<mark>{marked}</mark>" in sample_html
    assert f"<mark>{marked}</mark>" in reference_html
    assert "<b>" not in sample_html and "&lt;b&gt;" in sample_html
