"""The banded LSH index and the choice of its bands, tested directly: the candidate probability
against an exhaustive enumeration of what the index does, known candidates and non-candidates, the
band choice at its recall target, and the edge cases."""

import itertools

import numpy as np
import pytest

from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex, candidate_probability, lsh_bands


def _agreement_patterns(n_rows: int) -> np.ndarray:
    """Every way two signatures of ``n_rows`` rows can agree, one row of booleans per pattern."""
    return np.array(list(itertools.product([False, True], repeat=n_rows)), dtype=bool)


def _queries_from_patterns(reference: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Query signatures equal to ``reference`` exactly where the pattern says they agree."""
    return np.where(patterns, reference, reference + np.uint64(1_000_003)).astype(np.uint64)


@pytest.mark.parametrize("bands, rows", [(1, 1), (3, 2), (2, 3), (4, 1), (1, 5), (3, 3)])
@pytest.mark.parametrize("similarity", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_candidate_probability_equals_an_exhaustive_count_of_what_the_index_returns(bands, rows, similarity):
    # Each MinHash row of two sets of Jaccard s agrees with probability s, independently. Enumerate
    # every agreement pattern, ask the index which patterns make a candidate, and add up their
    # probabilities: that is the candidate probability, computed without the formula.
    n_rows = bands * rows
    reference = np.arange(1, n_rows + 1, dtype=np.uint64)[None, :]           # (1, n_rows)
    patterns = _agreement_patterns(n_rows)                                    # (2**n_rows, n_rows)
    index = BandedLSHIndex(reference, bands=bands, rows=rows)
    pairs = index.candidate_pairs(_queries_from_patterns(reference, patterns))
    candidate = np.zeros(len(patterns), dtype=bool)
    candidate[pairs[:, 0]] = True
    assert set(pairs[:, 1].tolist()) <= {0}
    # The index's rule, checked pattern by pattern: a candidate iff some band agrees on every row.
    by_band = patterns.reshape(len(patterns), bands, rows).all(axis=2).any(axis=1)
    assert np.array_equal(candidate, by_band)
    agreeing = patterns.sum(axis=1)
    weights = similarity ** agreeing * (1.0 - similarity) ** (n_rows - agreeing)
    assert weights.sum() == pytest.approx(1.0)
    assert candidate_probability(similarity, bands, rows) == pytest.approx(weights[candidate].sum(),
                                                                            abs=1e-12)


def test_candidate_probability_by_hand():
    assert candidate_probability(0.5, 1, 1) == 0.5
    assert candidate_probability(0.5, 2, 2) == pytest.approx(1 - 0.75 ** 2)  # 0.4375
    assert candidate_probability(0.0, 8, 4) == 0.0 and candidate_probability(1.0, 8, 4) == 1.0


def _minhash(tokens: set[str], num_perm: int = 128) -> np.ndarray:
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=1)
    for token in sorted(tokens):
        m.update(token.encode("utf-8"))
    return m.hashvalues


def test_a_pair_at_high_jaccard_is_a_candidate_and_disjoint_sets_are_not():
    shared = {f"w{i}" for i in range(200)}
    original = shared | {"a1", "a2", "a3", "a4", "a5"}
    near_copy = shared | {"b1", "b2", "b3", "b4", "b5"}                      # Jaccard 200 / 210
    unrelated = {f"z{i}" for i in range(205)}                                 # Jaccard 0
    bands, rows = lsh_bands(0.5, 128, 0.99)
    index = BandedLSHIndex(np.stack([_minhash(original), _minhash(unrelated)]), bands=bands, rows=rows)
    pairs = index.candidate_pairs(np.stack([_minhash(near_copy), _minhash({f"q{i}" for i in range(50)})]))
    assert pairs.tolist() == [[0, 0]]


def test_each_pair_once_sorted_by_query_then_reference():
    rng = np.random.default_rng(0)
    references = rng.integers(0, 2**63, size=(5, 12), dtype=np.uint64)
    queries = references[[3, 1, 1]].copy()
    queries[1, 3:] += np.uint64(7)              # agrees with reference 1 on band 0 only
    queries[2] += np.uint64(7)                  # agrees with nothing
    index = BandedLSHIndex(references, bands=4, rows=3)
    # Query 0 is reference 3 itself: it agrees on all four bands, yet is listed once.
    assert index.candidate_pairs(queries).tolist() == [[0, 3], [1, 1]]


@pytest.mark.parametrize("num_perm", [16, 128, 256])
@pytest.mark.parametrize("min_recall", [0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8, 0.95])
def test_band_choice_meets_min_recall_at_the_threshold_with_the_most_rows(threshold, min_recall, num_perm):
    bands, rows = lsh_bands(threshold, num_perm, min_recall)
    assert bands >= 1 and 1 <= rows and bands * rows <= num_perm
    if candidate_probability(threshold, num_perm, 1) < min_recall:
        # Out of reach even with one row per band, the most recall num_perm rows can give.
        assert (bands, rows) == (num_perm, 1)
        return
    assert candidate_probability(threshold, bands, rows) >= min_recall
    # Every larger row count misses the target: the chosen bands are the tightest that reach it.
    for more in range(rows + 1, num_perm + 1):
        assert candidate_probability(threshold, num_perm // more, more) < min_recall


def test_band_choice_falls_back_to_one_row_per_band_when_the_target_is_out_of_reach():
    # With 16 rows a pair at Jaccard 0.05 is a candidate with probability at most 1 - 0.95**16.
    assert candidate_probability(0.05, 16, 1) < 0.99
    assert lsh_bands(0.05, 16, 0.99) == (16, 1)


def test_empty_index_and_empty_queries_find_nothing():
    empty = BandedLSHIndex(np.empty((0, 8), dtype=np.uint64), bands=4, rows=2)
    assert empty.size == 0
    queries = np.arange(16, dtype=np.uint64).reshape(2, 8)
    assert empty.candidate_pairs(queries).shape == (0, 2)
    index = BandedLSHIndex(queries, bands=4, rows=2)
    assert index.candidate_pairs(np.empty((0, 8), dtype=np.uint64)).shape == (0, 2)


def test_refusals_name_what_was_received():
    signatures = np.zeros((3, 8), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"signatures must be \(n, >= 12\); got \(3, 8\)"):
        BandedLSHIndex(signatures, bands=4, rows=3)
    with pytest.raises(ValueError, match=r"bands and rows must be >= 1; got bands=0, rows=2"):
        BandedLSHIndex(signatures, bands=0, rows=2)
    with pytest.raises(ValueError, match=r"queries must be \(m, >= 8\) like the indexed signatures; "
                                         r"got \(2, 4\)"):
        BandedLSHIndex(signatures, bands=4, rows=2).candidate_pairs(np.zeros((2, 4), dtype=np.uint64))
    with pytest.raises(ValueError, match=r"similarity must be in \[0, 1\]; got 1.5"):
        candidate_probability(1.5, 2, 2)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]; got 0.0"):
        lsh_bands(0.0, 128, 0.99)
    with pytest.raises(ValueError, match=r"min_recall must be in \(0, 1\); got 1.0"):
        lsh_bands(0.5, 128, 1.0)


def test_band_keys_pair_exactly_the_signatures_the_index_pairs():
    from aigc_audit.evaluators.copying.minhash_lsh_index import band_keys

    rng = np.random.default_rng(5)
    refs = rng.integers(0, 4, size=(60, 12), dtype=np.uint32)  # few values: many shared bands
    queries = rng.integers(0, 4, size=(20, 12), dtype=np.uint32)
    ref_keys, query_keys = band_keys(refs, 4, 3), band_keys(queries, 4, 3)
    assert ref_keys.shape == (60, 4) and ref_keys.dtype == np.uint64
    by_keys = sorted({(q, r) for q in range(20) for r in range(60) if (query_keys[q] == ref_keys[r]).any()})
    by_rows = sorted({(q, r) for q in range(20) for r in range(60)
                      if any((queries[q, b:b + 3] == refs[r, b:b + 3]).all() for b in range(0, 12, 3))})
    index = BandedLSHIndex(refs, bands=4, rows=3)
    assert by_keys == by_rows == [tuple(p) for p in index.candidate_pairs(queries).tolist()]
    assert by_rows  # the case is not empty
    with pytest.raises(ValueError, match=r"signatures must be \(n, >= 15\); got \(60, 12\)"):
        band_keys(refs, 5, 3)
    with pytest.raises(ValueError, match="bands must be >= 1 and rows in"):
        band_keys(refs, 0, 3)
