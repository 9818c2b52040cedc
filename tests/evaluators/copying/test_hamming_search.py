import numpy as np
import pytest

from aigc_audit.evaluators.copying.hamming_search import (
    NO_DISTANCE,
    MultiIndexHashing,
    choose_substrings,
    hamming_distance,
    radius_search,
    substring_bits,
)


def _brute_force(queries: np.ndarray, references: np.ndarray, radius: int):
    """The obvious Python loop the search must agree with."""
    pairs, nearest = [], []
    for qi, q in enumerate(int(v) for v in queries):
        best, best_d = -1, NO_DISTANCE
        for ri, r in enumerate(int(v) for v in references):
            d = (q ^ r).bit_count()
            if d <= radius:
                pairs.append((qi, ri, d))
            if d < best_d:
                best, best_d = ri, d
        nearest.append((best, best_d))
    return pairs, nearest


def test_by_hand():
    references = np.array([0b0000, 0b0001, 0b0011, 0b1111, (1 << 64) - 1], np.uint64)
    found = radius_search(np.array([0, (1 << 64) - 1], np.uint64), references, 1)
    assert list(zip(found.query, found.reference, found.distance)) == [(0, 0, 0), (0, 1, 1), (1, 4, 0)]
    assert list(found.nearest) == [0, 4] and list(found.nearest_distance) == [0, 0]
    assert int(hamming_distance(np.uint64(0b1011), np.uint64(0b0110))) == 3


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 18])
def test_same_pairs_and_nearest_as_a_python_loop_for_any_block_size(block):
    rng = np.random.default_rng(0)
    references = rng.integers(0, 1 << 63, 300, dtype=np.uint64) * np.uint64(2)
    # Queries near known references (a few bits flipped), duplicates for ties, and random ones.
    near = references[rng.integers(0, 300, 20)] ^ (np.uint64(1) << rng.integers(0, 64, 20).astype(np.uint64))
    references[50] = references[10]                       # a tie: the lower index must win
    queries = np.concatenate([near, references[[10, 11]], rng.integers(0, 1 << 63, 10, dtype=np.uint64)])
    found = radius_search(queries, references, 3, block=block)
    pairs, nearest = _brute_force(queries, references, 3)
    assert list(zip(found.query.tolist(), found.reference.tolist(), found.distance.tolist())) == pairs
    assert list(zip(found.nearest.tolist(), found.nearest_distance.tolist())) == nearest
    assert found.nearest[20] == 10


def test_empty_sides():
    none = radius_search(np.array([1, 2], np.uint64), np.zeros(0, np.uint64), 5)
    assert len(none) == 0 and list(none.nearest) == [-1, -1]
    assert list(none.nearest_distance) == [NO_DISTANCE, NO_DISTANCE]
    assert len(radius_search(np.zeros(0, np.uint64), np.array([1], np.uint64), 5).nearest) == 0


@pytest.mark.parametrize("queries, radius, message", [
    (np.array([-1]), 3, r"queries must be unsigned 64-bit integers; got dtype int64"),
    (np.array([0.5]), 3, r"queries must be unsigned 64-bit integers; got dtype float64"),
    (np.zeros((2, 2), np.uint64), 3, r"queries must be a 1-D array .* got shape \(2, 2\)"),
    (np.array([1], np.uint64), 65, r"radius must be an integer in \[0, 64\]; got 65"),
    (np.array([1], np.uint64), 2.5, r"radius must be an integer in \[0, 64\]; got 2.5"),
])
def test_bad_arguments_are_refused(queries, radius, message):
    with pytest.raises(ValueError, match=message):
        radius_search(queries, np.array([1], np.uint64), radius)


def _fields(found):
    names = ("query", "reference", "distance", "nearest", "nearest_distance")
    return [getattr(found, f).tolist() for f in names]


@pytest.mark.parametrize("substrings", [3, 4, 5, 7, 8])
@pytest.mark.parametrize("radius", [0, 3, 10, 17])
def test_multi_index_gives_the_same_pairs_and_nearest_as_the_scan(substrings, radius):
    """Clustered hashes (few distinct substring values, so buckets are crowded), planted near
    copies, exact duplicates (ties), and random queries whose nearest lies far outside the radius."""
    rng = np.random.default_rng(radius * 31 + substrings)
    centres = rng.integers(0, 1 << 63, 40, dtype=np.uint64) * np.uint64(2)
    flips = np.uint64(1) << rng.integers(0, 64, (3000, 3)).astype(np.uint64)
    references = centres[rng.integers(0, 40, 3000)] ^ flips[:, 0] ^ flips[:, 1]
    spread = rng.integers(0, 1 << 63, 1000, dtype=np.uint64)
    references = np.concatenate([references, spread, references[:20]])
    near = references[rng.integers(0, len(references), 200)] ^ (
        np.uint64(1) << rng.integers(0, 64, 200).astype(np.uint64))
    queries = np.concatenate([near, rng.integers(0, 1 << 63, 100, dtype=np.uint64), references[:5]])
    scanned = radius_search(queries, references, radius, method="scan")
    index = MultiIndexHashing(references, substrings=substrings)
    assert _fields(radius_search(queries, index, radius)) == _fields(scanned)
    assert len(scanned) > 0


def test_multi_index_against_the_python_loop_by_hand():
    references = np.array([0, 0b111, (1 << 64) - 1, 1 << 63, 0b111], np.uint64)
    index = MultiIndexHashing(references, substrings=4)
    found = index.search(np.array([0b11, 1 << 62], np.uint64), 2)
    pairs, nearest = _brute_force(np.array([0b11, 1 << 62], np.uint64), references, 2)
    assert list(zip(found.query.tolist(), found.reference.tolist(), found.distance.tolist())) == pairs
    assert list(zip(found.nearest.tolist(), found.nearest_distance.tolist())) == nearest


def test_auto_uses_the_tables_when_they_are_cheaper_and_agrees_with_the_scan(monkeypatch):
    import aigc_audit.evaluators.copying.hamming_search as hs

    built = []
    real = hs.MultiIndexHashing

    class Counting(real):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(hs, "MultiIndexHashing", Counting)
    monkeypatch.setattr(hs, "AUTO_MIN_REFERENCES", 1000)
    monkeypatch.setattr(hs, "AUTO_MIN_QUERIES", 10)
    rng = np.random.default_rng(2)
    references = rng.integers(0, 1 << 63, 50_000, dtype=np.uint64)
    queries = references[:300] ^ np.uint64(0b101)
    auto = hs.radius_search(queries, references, 4)
    assert built == [1]
    assert _fields(auto) == _fields(hs.radius_search(queries, references, 4, method="scan"))
    hs.radius_search(queries[:5], references, 4)  # too few queries: the scan, no tables
    assert built == [1]


def test_substrings_cover_64_bits_and_grow_with_the_reference_set():
    for m in range(1, 17):
        assert sum(substring_bits(m)) == 64 and max(substring_bits(m)) - min(substring_bits(m)) <= 1
    assert choose_substrings(10_000_000, 10) <= choose_substrings(100_000, 10)


def test_bad_method_and_substrings_are_refused():
    with pytest.raises(ValueError, match="method must be 'auto', 'scan' or 'multi_index'; got 'fast'"):
        radius_search(np.array([1], np.uint64), np.array([1], np.uint64), 3, method="fast")
    with pytest.raises(ValueError, match=r"substrings must be in \[2, 64\]; got 1"):
        MultiIndexHashing(np.array([1], np.uint64), substrings=1)
