import numpy as np
import pytest

from aigc_audit.evaluators.copying.hamming_search import NO_DISTANCE, hamming_distance, radius_search


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
