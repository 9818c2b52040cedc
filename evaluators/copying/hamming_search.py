"""Exact Hamming-radius search over packed 64-bit hashes, vectorised with numpy popcount.

Every query is compared with every reference: XOR of the packed hashes, then ``np.bitwise_count``,
one block of the query-by-reference matrix at a time so that memory stays bounded however large
the reference set is. No pair is skipped, so the result is exact (a BK-tree or LSH would prune,
and a Python loop over ``ImageHash`` objects is three orders of magnitude slower; see
``benchmarks/bench_image_hash.py``). The nearest reference of every query comes out of the same
pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aigc_audit.evaluators.copying.perceptual_hash import HASH_BITS

# Elements of the query-by-reference block: 2 MiB of XOR and 256 KiB of counts stay in cache.
DEFAULT_BLOCK = 1 << 18
# The nearest distance of a query when there are no references: more than any real distance.
NO_DISTANCE = HASH_BITS + 1


@dataclass(frozen=True)
class RadiusMatches:
    """All (query, reference) pairs within the radius, sorted by query then reference, and the
    nearest reference of every query (lowest index among equals; -1 without references)."""

    query: np.ndarray             # (M,) int64
    reference: np.ndarray         # (M,) int64
    distance: np.ndarray          # (M,) uint8
    nearest: np.ndarray           # (Q,) int64
    nearest_distance: np.ndarray  # (Q,) uint8

    def __len__(self) -> int:
        return len(self.query)


def as_hashes(values: np.ndarray, what: str = "hashes") -> np.ndarray:
    """``values`` as a 1-D uint64 array; refuses signed or float input that would change bits."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of packed 64-bit hashes; got shape {array.shape}")
    if array.size and array.dtype != np.uint64:
        if array.dtype.kind not in "ui" or (array.dtype.kind == "i" and (array < 0).any()):
            raise ValueError(f"{what} must be unsigned 64-bit integers; got dtype {array.dtype} "
                             "(pack hashes with evaluators.copying.perceptual_hash.pack_bits)")
    return array.astype(np.uint64, copy=False)


def hamming_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise (broadcast) Hamming distance of packed hashes, as uint8."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64)))


def radius_search(queries: np.ndarray, references: np.ndarray, radius: int, *,
                  block: int = DEFAULT_BLOCK) -> RadiusMatches:
    """Every pair with Hamming distance ``<= radius``, and each query's nearest reference."""
    queries, references = as_hashes(queries, "queries"), as_hashes(references, "references")
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or not 0 <= radius <= HASH_BITS:
        raise ValueError(f"radius must be an integer in [0, {HASH_BITS}]; got {radius!r}")
    if block < 1:
        raise ValueError(f"block must be at least 1 element; got {block}")
    n_q, n_r = len(queries), len(references)
    nearest = np.full(n_q, -1, np.int64)
    nearest_distance = np.full(n_q, NO_DISTANCE, np.uint8)
    found_q: list[np.ndarray] = []
    found_r: list[np.ndarray] = []
    found_d: list[np.ndarray] = []
    if n_q and n_r:
        cols = min(n_r, block)
        rows = max(1, block // cols)
        xor = np.empty((rows, cols), np.uint64)
        counts = np.empty((rows, cols), np.uint8)
        for q0 in range(0, n_q, rows):
            q1 = min(n_q, q0 + rows)
            for r0 in range(0, n_r, cols):
                r1 = min(n_r, r0 + cols)
                x, d = xor[:q1 - q0, :r1 - r0], counts[:q1 - q0, :r1 - r0]
                np.bitwise_xor(queries[q0:q1, None], references[None, r0:r1], out=x)
                np.bitwise_count(x, out=d)
                best = d.argmin(axis=1)
                best_d = d[np.arange(q1 - q0), best]
                # Only rows whose nearest is within the radius hold hits; a full nonzero over the
                # block would cost more than the popcount itself.
                rows_hit = np.flatnonzero(best_d <= radius)
                if len(rows_hit):
                    sub_q, hit_r = np.nonzero(d[rows_hit] <= radius)
                    hit_q = rows_hit[sub_q]
                    found_q.append(hit_q + q0)
                    found_r.append(hit_r + r0)
                    found_d.append(d[hit_q, hit_r])
                # Strictly closer only: an earlier block's reference wins a tie (lowest index).
                better = best_d < nearest_distance[q0:q1]
                nearest[q0:q1][better] = best[better] + r0
                nearest_distance[q0:q1][better] = best_d[better]
    if found_q:
        query, reference, distance = (np.concatenate(found_q), np.concatenate(found_r),
                                      np.concatenate(found_d))
        order = np.lexsort((reference, query))
        query, reference, distance = query[order], reference[order], distance[order]
    else:
        query = reference = np.zeros(0, np.int64)
        distance = np.zeros(0, np.uint8)
    return RadiusMatches(query.astype(np.int64), reference.astype(np.int64), distance, nearest,
                         nearest_distance)
