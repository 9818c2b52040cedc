import random
import zlib

import numpy as np
import pytest
from datasketch import MinHash

from aigc_audit.evaluators.copying import minhash
from aigc_audit.evaluators.copying.minhash import (
    EMPTY,
    element_hashes,
    estimate_jaccard,
    shingle_hashes,
    signatures,
    word_hashes,
)


def _documents(n: int, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    # Lengths from 0 (an empty document) to 60, so that the groups by length get mixed sizes.
    return [[f"w{rng.randrange(400)}".encode() for _ in range(rng.randrange(0, 60))] for _ in range(n)]


@pytest.mark.parametrize("block", [64, 1000, 1 << 20])
def test_signatures_equal_datasketch_bit_for_bit_for_the_same_element_hashes(block):
    documents = _documents(200, seed=block)
    hashes, offsets = element_hashes(documents, zlib.crc32)
    ours = signatures(hashes, offsets, num_perm=48, seed=7, block=block)
    theirs = np.stack([m.hashvalues for m in MinHash.generator(documents, num_perm=48, seed=7,
                                                               hashfunc=zlib.crc32)])
    assert ours.dtype == theirs.dtype == np.uint32
    np.testing.assert_array_equal(ours, theirs)
    assert (ours[[i for i, d in enumerate(documents) if not d]] == EMPTY).all()


def test_a_document_alone_gets_the_row_it_gets_in_a_batch():
    documents = _documents(50, seed=1)
    hashes, offsets = element_hashes(documents, zlib.crc32)
    together = signatures(hashes, offsets, num_perm=32)
    for i in (0, 17, 49):
        alone_h, alone_o = element_hashes([documents[i]], zlib.crc32)
        np.testing.assert_array_equal(signatures(alone_h, alone_o, num_perm=32)[0], together[i])


def test_shingle_hashes_are_per_distinct_shingle_and_follow_the_shingle_rules():
    docs = [("a", "b", "c", "d"), ("x", "a", "b", "c"), ("a", "b"), (), ("a", "b")]
    hashes, offsets = shingle_hashes(docs, 3)
    assert offsets.tolist() == [0, 2, 4, 5, 5, 6]  # 2 + 2 shingles, a short text is one, none
    per_doc = [hashes[offsets[i]:offsets[i + 1]].tolist() for i in range(len(docs))]
    assert per_doc[0][0] == per_doc[1][1]  # "a b c" in both
    assert len(set(per_doc[0] + per_doc[1])) == 3
    assert per_doc[2] == per_doc[4] and per_doc[2][0] not in per_doc[0]  # "a b" is not "a b c"
    again, _ = shingle_hashes([docs[1]], 3, cache={})
    assert again.tolist() == per_doc[1]


def _planted_pairs(rng: random.Random, n: int) -> tuple[list[list[str]], list[list[str]], np.ndarray]:
    left, right, truth = [], [], []
    for _ in range(n):
        shared = rng.randrange(10, 150)
        only = rng.randrange(0, 150)
        base = [f"s{rng.random()}" for _ in range(shared)]
        left.append(base + [f"a{rng.random()}" for _ in range(only)])
        right.append(base + [f"b{rng.random()}" for _ in range(only)])
        truth.append(shared / (shared + 2 * only))
    return left, right, np.array(truth)


def test_estimate_errors_on_planted_pairs_match_datasketchs():
    """Same bias and spread as datasketch (SHA-1 element hashes) on pairs of known Jaccard, and the
    spread of an unbiased estimator of num_perm Bernoulli trials."""
    left, right, truth = _planted_pairs(random.Random(3), 300)
    num_perm = 128

    def ours(docs):
        return signatures(*shingle_hashes(docs, 1), num_perm=num_perm)

    def theirs(docs):
        return np.stack([m.hashvalues for m in MinHash.generator(
            [[w.encode() for w in d] for d in docs], num_perm=num_perm)])

    err_ours = estimate_jaccard(ours(left), ours(right)) - truth
    err_theirs = estimate_jaccard(theirs(left), theirs(right)) - truth
    expected_sd = np.sqrt((truth * (1 - truth) / num_perm).mean())
    for err in (err_ours, err_theirs):
        assert abs(err.mean()) < 3 * expected_sd / np.sqrt(len(truth))
        assert 0.8 * expected_sd < err.std() < 1.2 * expected_sd
    assert abs(err_ours.std() - err_theirs.std()) < 0.2 * expected_sd


@pytest.mark.parametrize(("hashes", "offsets", "match"), [
    (np.array([1, 2], np.int64), np.array([0, 3]), "offsets must rise from 0 to len"),
    (np.array([-1], np.int64), np.array([0, 1]), "32-bit unsigned values; got dtype int64"),
    (np.array([1.5]), np.array([0, 1]), "32-bit unsigned values; got dtype float64"),
])
def test_bad_input_is_refused_with_what_was_received(hashes, offsets, match):
    with pytest.raises(ValueError, match=match):
        signatures(hashes, offsets)


def test_bad_shingle_size_and_num_perm_are_refused():
    with pytest.raises(ValueError, match="shingle size must be in"):
        shingle_hashes([("a",)], 0)
    with pytest.raises(ValueError, match="num_perm must be >= 1; got 0"):
        signatures(np.zeros(1, np.uint32), np.array([0, 1]), num_perm=0)


def test_a_word_hash_cache_stays_bounded_and_hashes_stay_the_same(monkeypatch):
    monkeypatch.setattr(minhash, "CACHE_WORDS", 50)
    cache: dict[str, int] = {}
    fresh = [word_hashes([f"w{i}" for i in range(k, k + 30)], {}) for k in range(0, 600, 30)]
    cached = [word_hashes([f"w{i}" for i in range(k, k + 30)], cache) for k in range(0, 600, 30)]
    assert len(cache) <= 50 + 30  # emptied once past the bound, then one batch added
    assert all((a == b).all() for a, b in zip(fresh, cached))
    assert word_hashes(["w0"], cache)[0] == fresh[0][0]
