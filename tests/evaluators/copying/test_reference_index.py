import json
import random

import numpy as np
import pytest

import aigc_audit.evaluators.copying.reference_index as ri
from aigc_audit.errors import ConfigError, InputError
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
