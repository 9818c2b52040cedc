import json
import random

import numpy as np
import pytest
from PIL import Image

import aigc_audit.evaluators.copying.image_near_duplicate as ind
import aigc_audit.evaluators.copying.reference_index as ri
from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators.copying.image_near_duplicate import KEY_UNREADABLE_REFERENCE, ImageNearDuplicate
from aigc_audit.evaluators.copying.reference_index import IndexParams, ReferenceIndex, update_index
from aigc_audit.evaluators.copying.text_copy import TextCopy
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.sampleset import REFERENCE, SAMPLES, content_sha256, text_set


def _sets(n_ref: int = 120):
    rng = random.Random(4)
    passages = [p.text for p in corpus_passages(["hamlet", "macbeth"]) if len(p.text.split()) >= 12]
    training = passages[:n_ref]
    copies = []
    for text in rng.sample(training, 10):
        tokens = text.split()
        tokens[rng.randrange(len(tokens))] = "verily"
        copies.append(" ".join(tokens))
    samples = text_set(copies + passages[n_ref:n_ref + 10], role=SAMPLES, prefix="s")
    return training, samples


def _evidence(evaluation):
    return [(r.item_id, r.score, r.flagged, json.dumps(r.evidence, sort_keys=True)) for r in evaluation.items]


@pytest.mark.parametrize("evaluator", [TextCopy, TextNearDuplicate])
def test_audit_with_the_stored_index_equals_the_audit_without(tmp_path, evaluator, monkeypatch):
    monkeypatch.setattr(ri, "CHUNK_ITEMS", 50)  # several chunks
    training, samples = _sets()
    reference = text_set(training, role=REFERENCE, prefix="r")
    summary = update_index(tmp_path / "idx", reference.items)
    assert (summary.added, summary.kept, summary.total) == (120, 0, 120)
    assert len(list((tmp_path / "idx" / "chunks").iterdir())) == 3
    index = ReferenceIndex.load(tmp_path / "idx")
    without = evaluator().evaluate(samples, reference)
    with_index = evaluator(index=index).evaluate(samples, reference)
    assert _evidence(with_index) == _evidence(without)
    assert sum(r.flagged for r in with_index.items) >= 8  # of the 10 copies (a short one can fall below)


def test_add_hashes_only_the_new_items_and_an_interrupted_update_does_not_load(tmp_path, monkeypatch):
    monkeypatch.setattr(ri, "CHUNK_ITEMS", 40)
    training, samples = _sets()
    first = text_set(training[:80], role=REFERENCE, prefix="r")
    grown = text_set(training, role=REFERENCE, prefix="r")
    update_index(tmp_path / "idx", first.items)

    # An update that dies after its first new chunk: no manifest, so the index refuses to load...
    real = ri._write_chunk
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ri, "_write_chunk", dying)
    monkeypatch.setattr(ri, "CHUNK_ITEMS", 20)
    with pytest.raises(KeyboardInterrupt):
        update_index(tmp_path / "idx", grown.items)
    with pytest.raises(InputError, match="the index is incomplete .* run 'aigc-audit index build' again"):
        ReferenceIndex.load(tmp_path / "idx")
    # ...and running again resumes after the chunk that was finished.
    monkeypatch.setattr(ri, "_write_chunk", real)
    summary = update_index(tmp_path / "idx", grown.items)
    assert (summary.added, summary.kept, summary.total) == (20, 100, 120)
    index = ReferenceIndex.load(tmp_path / "idx")
    assert index.item_ids == [i.id for i in grown.items]
    fresh = TextCopy().evaluate(samples, grown)
    assert _evidence(TextCopy(index=index).evaluate(samples, grown)) == _evidence(fresh)


def test_refuses_an_index_of_other_settings_parameters_or_texts(tmp_path):
    training, samples = _sets(40)
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_index(tmp_path / "idx", reference.items)
    manifest_file = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())

    manifest_file.write_text(json.dumps({**manifest, "versions": {"numpy": "1.26.4"}}))
    with pytest.raises(InputError, match=r"incompatible settings: numpy '1.26.4' \(this is numpy"):
        ReferenceIndex.load(tmp_path / "idx")
    manifest_file.write_text(json.dumps({**manifest, "schemes": {**manifest["schemes"], "minhash": "old"}}))
    with pytest.raises(InputError, match="minhash scheme 'old'"):
        ReferenceIndex.load(tmp_path / "idx")
    manifest_file.write_text(json.dumps(manifest))

    index = ReferenceIndex.load(tmp_path / "idx")
    with pytest.raises(InputError, match="text_copy runs with seed_tokens=4 but the index was built with "
                                         "seed_tokens=3"):
        TextCopy(index=index, seed_tokens=4).evaluate(samples, reference)
    edited = text_set(training[:-1] + ["something else entirely"], role=REFERENCE, prefix="r")
    with pytest.raises(InputError, match="reference text 'r-39' changed since it was indexed"):
        TextCopy(index=index).evaluate(samples, edited)
    with pytest.raises(InputError, match="indexed text.* changed since they were indexed .*'r-39'"):
        update_index(tmp_path / "idx", edited.items)
    shorter = text_set(training[:-1], role=REFERENCE, prefix="r")
    with pytest.raises(InputError, match="the reference set's 39 text item.* are not the index's 40"):
        TextNearDuplicate(index=index).evaluate(samples, shorter)
    with pytest.raises(InputError, match="built with parameters"):
        update_index(tmp_path / "idx", reference.items, IndexParams(seed_tokens=4))
    with pytest.raises(ConfigError, match="index parameter num_perm must be an integer >= 1; got 0"):
        IndexParams(num_perm=0)


def test_a_reference_set_is_hashed_against_the_index_once_and_another_set_still_checked(tmp_path,
                                                                                        monkeypatch):
    training, samples = _sets(40)
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_index(tmp_path / "idx", reference.items)
    index = ReferenceIndex.load(tmp_path / "idx")
    hashed = []
    monkeypatch.setattr(ri, "content_sha256", lambda item: hashed.append(item.id) or content_sha256(item))
    copier = TextCopy(index=index)
    first = copier.evaluate(samples, reference)
    assert len(hashed) == 40
    again = copier.evaluate(samples, reference)  # a service: item after item against one training set
    TextNearDuplicate(index=index).evaluate(samples, reference)
    assert len(hashed) == 40 and _evidence(again) == _evidence(first)
    edited = text_set(training[:-1] + ["something else entirely"], role=REFERENCE, prefix="r")
    with pytest.raises(InputError, match="reference text 'r-39' changed since it was indexed"):
        copier.evaluate(samples, edited)
    with pytest.raises(InputError, match="reference text 'r-39' changed since it was indexed"):
        copier.evaluate(samples, edited)  # a refused set is not remembered as checked


def test_nothing_is_pickled(tmp_path):
    training, _ = _sets(30)
    update_index(tmp_path / "idx", text_set(training, role=REFERENCE, prefix="r").items)
    stored = sorted(p.name for p in (tmp_path / "idx").iterdir() if p.is_file())
    assert all(name.endswith((".npy", ".json")) for name in stored)
    for name in stored:
        if name.endswith(".npy"):
            assert np.load(tmp_path / "idx" / name, allow_pickle=False).dtype != object


# -- images -----------------------------------------------------------------------------------------
def _digit_sets(folder, n_ref: int = 40):
    """Training images (sklearn digits at 16 px, one of them unreadable) and generated ones: copies
    under a flip, a shift and a JPEG round trip, and distinct digits."""
    from sklearn.datasets import load_digits

    from aigc_audit.sampleset import IMAGE, Item, SampleSet

    pixels = np.rint(load_digits().images / 16 * 255).astype(np.uint8)

    def save(index: int, path, edit=lambda image: image, **kwargs):
        path.parent.mkdir(parents=True, exist_ok=True)
        edit(Image.fromarray(pixels[index]).resize((16, 16), Image.Resampling.BILINEAR)).save(path, **kwargs)
        return path

    refs = [Item(id=f"ref-{i}", modality=IMAGE, path=save(i, folder / "ref" / f"{i}.png"),
                 source=f"digits #{i}", license="CC BY 4.0") for i in range(n_ref)]
    broken = folder / "ref" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    refs.insert(n_ref // 2, Item(id="ref-broken", modality=IMAGE, path=broken, source="x", license="y"))
    samples = [
        Item(id="flipped", modality=IMAGE,
             path=save(3, folder / "s" / "f.png", lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))),
        Item(id="shifted", modality=IMAGE, path=save(7, folder / "s" / "s.png", lambda im: Image.fromarray(
            np.roll(np.asarray(im), 1, axis=1)))),
        Item(id="jpeg", modality=IMAGE,
             path=save(n_ref - 1, folder / "s" / "j.jpg", format="JPEG", quality=80)),
        *[Item(id=f"own-{i}", modality=IMAGE, path=save(i, folder / "s" / f"o{i}.png"))
          for i in range(1001, 1005)],
    ]

    def as_set(items, role):
        return SampleSet(path=folder, kind="test", role=role, items=tuple(items), sha256="0")
    return as_set(refs, REFERENCE), as_set(samples, SAMPLES)


def _image_evidence(evaluation):
    return (_evidence(evaluation), evaluation.errors, json.dumps(evaluation.metrics, sort_keys=True),
            [n.text for n in evaluation.notes if "stored index" not in n.text])


def test_image_audit_with_the_stored_index_equals_the_audit_without(tmp_path, monkeypatch):
    monkeypatch.setattr(ri, "IMAGE_CHUNK_ITEMS", 15)  # several chunks
    reference, samples = _digit_sets(tmp_path)
    summary = update_index(tmp_path / "idx", reference.items)
    assert (summary.images_added, summary.images_kept, summary.images_total) == (41, 0, 41)
    assert list(summary.unreadable_images) == ["ref-broken"]
    assert len(list((tmp_path / "idx" / "image_chunks").iterdir())) == 3
    index = ReferenceIndex.load(tmp_path / "idx")
    assert index.thumbnails.shape == (40, 32, 32) and index.manifest["unreadable_images"] == 1

    without = ImageNearDuplicate().evaluate(samples, reference)
    with_index = ImageNearDuplicate(index=index).evaluate(samples, reference)
    assert _image_evidence(with_index) == _image_evidence(without)
    assert {r.item_id for r in with_index.items if r.flagged} == {"flipped", "shifted", "jpeg"}
    assert with_index.metrics[KEY_UNREADABLE_REFERENCE] == 1.0
    assert any("stored index" in n.text for n in with_index.notes)
    # With the index the reference images are read for the SHA-256 check only, never decoded.
    expected = _evidence(ImageNearDuplicate(alignment=False).evaluate(samples, reference))
    real_open = ind.open_image

    def open_generated(item, **kwargs):
        assert not item.id.startswith("ref-"), f"reference image {item.id} was decoded"
        return real_open(item, **kwargs)

    monkeypatch.setattr(ind, "open_image", open_generated)
    monkeypatch.setattr(ImageNearDuplicate, "_describe", _only_generated(ImageNearDuplicate._describe))
    indexed = ImageNearDuplicate(index=index, alignment=False).evaluate(samples, reference)
    assert _evidence(indexed) == expected


def test_a_stored_index_has_its_spacing_measured_once_for_many_evaluations(tmp_path, monkeypatch):
    reference, samples = _digit_sets(tmp_path)
    update_index(tmp_path / "idx", reference.items)
    evaluator = ImageNearDuplicate(index=ReferenceIndex.load(tmp_path / "idx"), alignment=False)
    measured = []
    spacing = ImageNearDuplicate._reference_spacing
    monkeypatch.setattr(ImageNearDuplicate, "_reference_spacing",
                        lambda self, refs: measured.append(1) or spacing(self, refs))
    first, second = evaluator.evaluate(samples, reference), evaluator.evaluate(samples, reference)
    assert len(measured) == 1  # as a service judges request after request against one index
    assert _evidence(second) == _evidence(first)
    # Without an index the training images are hashed again each time, and so measured again.
    plain = ImageNearDuplicate(alignment=False)
    plain.evaluate(samples, reference), plain.evaluate(samples, reference)
    assert len(measured) == 3


def _only_generated(describe):
    def wrapped(self, items, *, shifts, track, what):
        assert shifts, "the reference images were hashed although the index holds them"
        return describe(self, items, shifts=shifts, track=track, what=what)
    return wrapped


def test_image_add_hashes_only_new_images_and_an_interrupted_update_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(ri, "IMAGE_CHUNK_ITEMS", 10)
    reference, samples = _digit_sets(tmp_path)
    first = type(reference)(path=reference.path, kind="test", role=REFERENCE, items=reference.items[:21],
                            sha256="0")
    assert update_index(tmp_path / "idx", first.items).images_total == 21
    real, hashed = ri._write_image_chunk, []

    def dying(chunks, number, items, *args, **kwargs):
        hashed.extend(item.id for item in items)
        if len(hashed) > 10:
            raise KeyboardInterrupt
        return real(chunks, number, items, *args, **kwargs)

    monkeypatch.setattr(ri, "_write_image_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        update_index(tmp_path / "idx", reference.items)
    with pytest.raises(InputError, match="the index is incomplete"):
        ReferenceIndex.load(tmp_path / "idx")
    assert hashed[0] == reference.items[21].id  # only images the index did not hold were hashed
    hashed.clear()
    monkeypatch.setattr(ri, "_write_image_chunk", lambda *a, **k: (hashed.extend(i.id for i in a[2]),
                                                                   real(*a, **k)))
    summary = update_index(tmp_path / "idx", reference.items)
    assert hashed == [item.id for item in reference.items[31:]]  # resumed after the finished chunk
    assert (summary.images_added, summary.images_kept, summary.images_total) == (10, 31, 41)
    index = ReferenceIndex.load(tmp_path / "idx")
    assert index.image_ids == [item.id for item in reference.items]
    assert _image_evidence(ImageNearDuplicate(index=index).evaluate(samples, reference)) == \
        _image_evidence(ImageNearDuplicate().evaluate(samples, reference))


def test_image_index_refuses_changed_images_other_sizes_and_pillow_versions(tmp_path):
    reference, samples = _digit_sets(tmp_path, n_ref=12)
    update_index(tmp_path / "idx", reference.items)
    index = ReferenceIndex.load(tmp_path / "idx")
    with pytest.raises(InputError, match="image_near_duplicate runs with pixel_size=16 but the index was "
                                         "built with pixel_size=32"):
        ImageNearDuplicate(index=index, pixel_size=16).evaluate(samples, reference)
    fewer = type(reference)(path=reference.path, kind="test", role=REFERENCE, items=reference.items[1:],
                            sha256="0")
    with pytest.raises(InputError, match="the reference set's 12 image item.* are not the index's 13"):
        ImageNearDuplicate(index=index).evaluate(samples, fewer)
    Image.new("L", (16, 16), 90).save(reference.items[0].path)
    with pytest.raises(InputError, match="reference image 'ref-0' changed .* since it was indexed"):
        ImageNearDuplicate(index=index).evaluate(samples, reference)
    with pytest.raises(InputError, match=r"1 indexed image\(s\) changed .*'ref-0'"):
        update_index(tmp_path / "idx", reference.items)

    manifest_file = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    old_pillow = {**manifest["versions"], "pillow": "9.5.0"}
    manifest_file.write_text(json.dumps({**manifest, "versions": old_pillow}))
    with pytest.raises(InputError, match=r"Pillow '9.5.0' for its image hashes \(this is Pillow"):
        ReferenceIndex.load(tmp_path / "idx")
    # An index from before the colour thumbnails were stored: built again, not read without them.
    manifest_file.write_text(json.dumps({**manifest, "version": 2}))
    with pytest.raises(InputError, match=r"format version 2 \(this aigc-audit reads 3\).*build it again"):
        ReferenceIndex.load(tmp_path / "idx")
    manifest_file.write_text(json.dumps(manifest))
    (tmp_path / "idx" / "phash.npy").write_bytes(b"not an array")
    with pytest.raises(InputError, match="the index cannot be read"):
        ReferenceIndex.load(tmp_path / "idx")
    update_index(tmp_path / "idx2", reference.items)
    np.save(tmp_path / "idx2" / "image_chunks" / "00000" / "colours.npy", np.zeros((12, 32, 32), np.uint8))
    with pytest.raises(InputError, match=r"the index cannot be read \(12 readable image\(s\) listed but "
                                         r"colours: 12 row\(s\) of \(32, 32\) uint8 "
                                         r"\(expected \(32, 32, 3\) uint8\)\)"):
        ReferenceIndex.load(tmp_path / "idx2")
    with pytest.raises(ConfigError, match="pixel_size must be one of 16, 32, 64, 128 .*; got 20"):
        IndexParams(pixel_size=20)
