"""The reference index in Redis: the same findings as the folder index and as no index, the same
guarantees (checked manifest, no half-built index that loads, add and resume), lookups per query.

Every test runs against a real redis-server (the ``redis_server`` fixture of tests/conftest.py).
"""

import json

import numpy as np
import pytest

import aigc_audit.evaluators.copying.redis_index as rx
from aigc_audit.errors import InputError
from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.evaluators.copying.redis_index import (
    RedisReferenceIndex,
    RedisStore,
    load_index,
    parse_url,
    update_redis_index,
)
from aigc_audit.evaluators.copying.reference_index import INDEX_VERSION, ReferenceIndex, update_index
from aigc_audit.evaluators.copying.text_copy import TextCopy
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
from aigc_audit.evaluators.features.tokens import ScriptTokenizer
from aigc_audit.sampleset import REFERENCE, text_set
from tests.evaluators.copying.test_reference_index import _digit_sets, _evidence, _image_evidence, _sets


def _no_signatures(self):
    raise AssertionError("the stored signatures were read although the band tables hold this banding")


@pytest.mark.parametrize("evaluator", [TextCopy, TextNearDuplicate])
def test_findings_equal_those_of_the_folder_index_and_of_no_index(tmp_path, redis_url, evaluator,
                                                                  monkeypatch):
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 50)  # several chunks, postings appended chunk by chunk
    training, samples = _sets()
    reference = text_set(training, role=REFERENCE, prefix="r")
    summary = update_redis_index(redis_url, reference.items)
    assert (summary.added, summary.kept, summary.total) == (120, 0, 120)
    update_index(tmp_path / "idx", reference.items)
    in_redis = load_index(redis_url)
    assert isinstance(in_redis, RedisReferenceIndex) and in_redis.manifest["items"] == 120
    # The default banding is answered from the band tables in Redis, never from all signatures.
    monkeypatch.setattr(RedisReferenceIndex, "signatures", property(_no_signatures))

    without = _evidence(evaluator().evaluate(samples, reference))
    folder = ReferenceIndex.load(tmp_path / "idx")
    assert _evidence(evaluator(index=folder).evaluate(samples, reference)) == without
    assert _evidence(evaluator(index=in_redis).evaluate(samples, reference)) == without
    assert sum(flagged for _, _, flagged, _ in without) >= 8


def test_another_banding_reads_the_stored_signatures_and_still_agrees(redis_url):
    training, samples = _sets()
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_redis_index(redis_url, reference.items)
    index = load_index(redis_url)
    for threshold in (0.3, 0.8):
        with_index = TextNearDuplicate(threshold=threshold, index=index).evaluate(samples, reference)
        without = TextNearDuplicate(threshold=threshold).evaluate(samples, reference)
        assert _evidence(with_index) == _evidence(without)


def test_a_query_reads_only_the_buckets_of_its_own_ngrams_and_band_keys(redis_url, monkeypatch):
    training, samples = _sets()
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_redis_index(redis_url, reference.items)
    index = load_index(redis_url)
    stored = len(index.store.client.keys(index.store.key("seed", "*")))
    read: list[str] = []
    real = index.store.client.mget
    monkeypatch.setattr(index.store.client, "mget", lambda keys: (read.extend(keys), real(keys))[1])
    one = type(samples)(path=None, kind="t", role="samples", items=samples.items[:1], sha256="0")
    TextCopy(index=index).evaluate(one, reference)
    seed = [k for k in read if k.startswith(index.store.key("seed", ""))]
    windows = len(one.items[0].text.split()) + 2  # a few more tokens than words (punctuation)
    assert 0 < len(set(seed)) <= windows < stored  # the query's buckets, not the table
    read.clear()
    TextNearDuplicate(index=index).evaluate(one, reference)
    bands, _ = index.lsh_banding
    assert 0 < len(read) <= bands and all(k.startswith(index.store.key("lsh", "")) for k in read)


def test_token_ids_read_by_text_equal_the_folder_index_and_survive_dropping_what_was_kept(tmp_path, redis_url,
                                                                                        monkeypatch):
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 7)
    training, _ = _sets(30)
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_redis_index(redis_url, reference.items)
    update_index(tmp_path / "idx", reference.items)
    stored, folder = load_index(redis_url).corpus, ReferenceIndex.load(tmp_path / "idx").corpus
    assert np.array_equal(stored.starts, folder.starts) and len(stored.ids) == len(folder.ids)
    monkeypatch.setattr(rx._StoredTokens, "_KEEP_TOKENS", 60)
    rng = np.random.default_rng(0)
    for positions in ([[0, 1], [2, 3]], folder.starts[8:10], rng.integers(0, len(folder.ids), (50, 3)),
                      folder.starts[9:10]):
        positions = np.asarray(positions)
        assert np.array_equal(stored.ids[positions], folder.ids[positions])
    start, end = int(folder.starts[12]), int(folder.starts[13])
    assert np.array_equal(stored.ids[start:end], folder.ids[start:end])


def test_add_and_an_interrupted_update_that_does_not_load_then_resumes(redis_url, monkeypatch):
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 40)
    training, samples = _sets()
    first = text_set(training[:80], role=REFERENCE, prefix="r")
    grown = text_set(training, role=REFERENCE, prefix="r")
    update_redis_index(redis_url, first.items)

    real, calls = rx._text_chunk, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(rx, "_text_chunk", dying)
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 20)
    with pytest.raises(KeyboardInterrupt):
        update_redis_index(redis_url, grown.items)
    with pytest.raises(InputError, match=r"redis://.*: the index is incomplete .* index build' again"):
        load_index(redis_url)
    monkeypatch.setattr(rx, "_text_chunk", real)
    summary = update_redis_index(redis_url, grown.items)
    assert (summary.added, summary.kept, summary.total) == (20, 100, 120)  # resumed after the stored chunk
    index = load_index(redis_url)
    assert index.item_ids == [i.id for i in grown.items]
    for evaluator in (TextCopy, TextNearDuplicate):
        assert _evidence(evaluator(index=index).evaluate(samples, grown)) == \
            _evidence(evaluator().evaluate(samples, grown))


def test_a_loaded_index_keeps_answering_for_its_texts_while_another_process_adds(redis_url, monkeypatch):
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 30)
    training, samples = _sets()
    first = text_set(training[:60], role=REFERENCE, prefix="r")
    update_redis_index(redis_url, first.items)
    running = load_index(redis_url)
    expected = {evaluator: _evidence(evaluator().evaluate(samples, first))
                for evaluator in (TextCopy, TextNearDuplicate)}
    update_redis_index(redis_url, text_set(training, role=REFERENCE, prefix="r").items)
    assert len(load_index(redis_url)) == 120 and len(running) == 60
    for evaluator, evidence in expected.items():
        assert _evidence(evaluator(index=running).evaluate(samples, first)) == evidence
    assert _evidence(TextNearDuplicate(threshold=0.3, index=running).evaluate(samples, first)) == \
        _evidence(TextNearDuplicate(threshold=0.3).evaluate(samples, first))


def test_a_chunk_whose_appends_failed_midway_is_written_again_and_read_once(tmp_path, redis_url, monkeypatch):
    monkeypatch.setattr(rx, "CHUNK_ITEMS", 40)
    training, samples = _sets()
    reference = text_set(training, role=REFERENCE, prefix="r")
    # The server fails the second chunk's script after its appends, before its totals (as an
    # out-of-memory error would): the chunk's postings are stored, the chunk is not.
    failing = rx._APPEND_ALL.replace('redis.call("HSET", ARGV[4], unpack(ARGV, 5))',
                                     'if ARGV[8] == "80" then error("OOM command not allowed") end '
                                     'redis.call("HSET", ARGV[4], unpack(ARGV, 5))')
    monkeypatch.setattr(rx, "_APPEND_ALL", failing)
    with pytest.raises(InputError, match="did not answer .* run the build again .it resumes."):
        update_redis_index(redis_url, reference.items)
    monkeypatch.setattr(rx, "_APPEND_ALL", failing.replace('"80"', '"none"'))
    summary = update_redis_index(redis_url, reference.items)
    assert (summary.added, summary.kept) == (80, 40)
    index = load_index(redis_url)
    update_index(tmp_path / "idx", reference.items)
    folder = ReferenceIndex.load(tmp_path / "idx")
    for text in training[40:80:7]:  # texts of the chunk appended twice: each window counted once
        ids = index.token_ids(ScriptTokenizer().tokens(text))
        for role in ("seed_index", "verbatim_index"):
            assert np.array_equal(getattr(index, role).counts(ids), getattr(folder, role).counts(ids))
    for evaluator in (TextCopy, TextNearDuplicate):
        assert _evidence(evaluator(index=index).evaluate(samples, reference)) == \
            _evidence(evaluator().evaluate(samples, reference))


def test_refuses_other_settings_changed_texts_and_foreign_keys(redis_server, redis_url):
    training, _ = _sets(20)
    reference = text_set(training, role=REFERENCE, prefix="r")
    update_redis_index(redis_url, reference.items)
    store = RedisStore(redis_url)
    manifest = json.loads(store.client.get(store.key("manifest")))

    def stored(**changes):
        store.client.set(store.key("manifest"), json.dumps({**manifest, **changes}))

    stored(version=INDEX_VERSION + 1)
    with pytest.raises(InputError, match=rf"^redis://127.0.0.1:\d+/0\?prefix=test-\d+: the index was built "
                                         rf"under incompatible settings: format version {INDEX_VERSION + 1}"):
        load_index(redis_url)
    stored(layout={**manifest["layout"], "ngram_bits": 8})
    with pytest.raises(InputError, match="key layout .*'ngram_bits': 8.* build it again"):
        load_index(redis_url)
    stored(format="something else")
    with pytest.raises(InputError, match="not an aigc-audit index"):
        load_index(redis_url)
    stored()
    from aigc_audit.evaluators.copying.reference_index import IndexParams

    with pytest.raises(InputError, match="built with parameters .* pass the same parameters"):
        update_redis_index(redis_url, reference.items, IndexParams(seed_tokens=4))
    changed = text_set(["a different first text altogether", *training[1:]], role=REFERENCE, prefix="r")
    with pytest.raises(InputError, match="1 indexed text.s. changed since they were indexed .first: 'r-0'"):
        update_redis_index(redis_url, changed.items)

    foreign = redis_server.url()
    redis_server.client.set(parse_url(foreign)[1] + ":something", "else")
    with pytest.raises(InputError, match="exist but hold no aigc-audit index; pick another prefix"):
        update_redis_index(foreign, reference.items)
    with pytest.raises(InputError, match=r"prefix=.*: no index here; build one"):
        load_index(redis_server.url())


def test_an_unreachable_server_or_bad_url_is_one_line_naming_the_url():
    with pytest.raises(InputError, match=r"^redis://127.0.0.1:1/0\?prefix=x: the Redis server did not answer "
                                         r"\(ConnectionError.*check that it runs"):
        load_index("redis://127.0.0.1:1/0?prefix=x")
    with pytest.raises(InputError, match=r"redis://:\*\*\*@127.0.0.1:1/0: the Redis server did not answer"):
        load_index("redis://:secret@127.0.0.1:1/0")
    with pytest.raises(InputError, match="the prefix must be one name .* got \\['a b'\\]"):
        parse_url("redis://localhost/0?prefix=a b")
    with pytest.raises(InputError, match="unknown URL parameter.s. perfix; the only one is prefix"):
        parse_url("redis://localhost/0?perfix=team")
    with pytest.raises(InputError, match="the database must be a number .*; got 'team'"):
        parse_url("redis://localhost/team")
    assert parse_url("redis://:pw@localhost:6380/2?prefix=team") == \
        ("redis://:pw@localhost:6380/2", "team", "redis://:***@localhost:6380/2?prefix=team")


def test_images_agree_with_the_folder_index_and_unreadable_ones_are_kept(tmp_path, redis_url, monkeypatch):
    monkeypatch.setattr(rx, "IMAGE_CHUNK_ITEMS", 15)
    reference, samples = _digit_sets(tmp_path)
    summary = update_redis_index(redis_url, reference.items)
    assert (summary.images_added, summary.images_total) == (41, 41)
    assert list(summary.unreadable_images) == ["ref-broken"]
    update_index(tmp_path / "idx", reference.items)
    folder, in_redis = ReferenceIndex.load(tmp_path / "idx"), load_index(redis_url)
    assert np.array_equal(in_redis.thumbnails, folder.thumbnails)
    assert in_redis.image_errors == folder.image_errors and in_redis.manifest["unreadable_images"] == 1
    without = _image_evidence(ImageNearDuplicate().evaluate(samples, reference))
    assert _image_evidence(ImageNearDuplicate(index=in_redis).evaluate(samples, reference)) == without
    assert _image_evidence(ImageNearDuplicate(index=folder).evaluate(samples, reference)) == without
