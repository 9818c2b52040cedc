"""Exact Hamming-radius search over packed 64-bit hashes: a blocked scan, and multi-index hashing.

The scan compares every query with every reference: XOR of the packed hashes, then
``np.bitwise_count``, one block of the query-by-reference matrix at a time so that memory stays
bounded however large the reference set is. The nearest reference of every query comes out of the
same pass.

:class:`MultiIndexHashing` (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
multi-index hashing", CVPR 2012) is exact and sublinear: the 64 bits are cut into ``m``
substrings, each with a table from substring value to the references holding it. Two hashes within
distance ``r`` agree within ``r // m`` bits on at least one substring (pigeonhole: were every
substring ``r // m + 1`` or more apart, the whole would be more than ``r`` apart), so probing every
substring value within ``r // m`` bits of the query's, in every table, finds every reference within
``r``; each candidate is then checked by its full distance. Nothing is pruned by chance.
The nearest reference comes from searching again at larger radii for the queries with nothing in
the radius, until each has one or a scan is cheaper.

:func:`radius_search` uses the tables when they are cheaper than the scan (many references, many
queries, a small radius) and returns the same pairs and nearest references either way.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from aigc_audit.evaluators.copying.perceptual_hash import HASH_BITS

# Elements of the query-by-reference block: 2 MiB of XOR and 256 KiB of counts stay in cache.
DEFAULT_BLOCK = 1 << 18
# The nearest distance of a query when there are no references: more than any real distance.
NO_DISTANCE = HASH_BITS + 1
# radius_search builds the tables itself from this many references and queries on.
AUTO_MIN_REFERENCES = 100_000
AUTO_MIN_QUERIES = 256
# A probe of a table costs about this many scanned pairs (a random access, numpy bookkeeping), a
# candidate (read in order from its bucket, checked, its pair kept) about this many; the tables are
# used when they need fewer pairs' worth of work than the scan. Measured: a scanned pair 0.86 ns;
# least squares over 4 to 8 substrings of 17,000 queries' searches among 100,000 drawings' pHashes
# and dHashes, 23.5 ns a probe and 7.8 ns a candidate.
_PROBE_COST = 24
_CANDIDATE_COST = 9
# Query rows per batch of the table search: bounds the probe and candidate arrays.
_QUERY_BATCH = 256


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


def _check_radius(radius: int) -> None:
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or not 0 <= radius <= HASH_BITS:
        raise ValueError(f"radius must be an integer in [0, {HASH_BITS}]; got {radius!r}")


def radius_search(queries: np.ndarray, references: np.ndarray | MultiIndexHashing, radius: int, *,
                  block: int = DEFAULT_BLOCK, method: str = "auto") -> RadiusMatches:
    """Every pair with Hamming distance ``<= radius``, and each query's nearest reference.

    ``references`` is an array of packed hashes or a :class:`MultiIndexHashing` built over one
    (built once, searched many times). ``method``: "scan", "multi_index", or "auto" (the tables
    when they are given, or when there are at least :data:`AUTO_MIN_REFERENCES` references and
    :data:`AUTO_MIN_QUERIES` queries and the tables are expected to be cheaper). Same result
    whichever runs."""
    if method not in ("auto", "scan", "multi_index"):
        raise ValueError(f"method must be 'auto', 'scan' or 'multi_index'; got {method!r}")
    queries = as_hashes(queries, "queries")
    _check_radius(radius)
    if block < 1:
        raise ValueError(f"block must be at least 1 element; got {block}")
    index = references if isinstance(references, MultiIndexHashing) else None
    hashes = index.hashes if index is not None else as_hashes(references, "references")
    if method == "auto":
        big = len(hashes) >= AUTO_MIN_REFERENCES and len(queries) >= AUTO_MIN_QUERIES
        if index is None and big:
            substrings = choose_substrings(len(hashes), radius)
            if _table_cost(len(hashes), substrings, radius) < len(hashes):
                index = MultiIndexHashing(hashes, substrings=substrings)
        method = "multi_index" if index is not None else "scan"
    if method == "scan":
        return _scan(queries, hashes, radius, block)
    if index is None:
        index = MultiIndexHashing(hashes)
    return index.search(queries, radius, block=block)


def _scan(queries: np.ndarray, references: np.ndarray, radius: int, block: int) -> RadiusMatches:
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
    return _matches(found_q, found_r, found_d, nearest, nearest_distance)


def _matches(found_q: list[np.ndarray], found_r: list[np.ndarray], found_d: list[np.ndarray],
             nearest: np.ndarray, nearest_distance: np.ndarray) -> RadiusMatches:
    if found_q:
        query, reference, distance = (np.concatenate(found_q), np.concatenate(found_r),
                                      np.concatenate(found_d))
        order = np.lexsort((reference, query))
        query, reference, distance = query[order], reference[order], distance[order]
    else:
        query = reference = np.zeros(0, np.int64)
        distance = np.zeros(0, np.uint8)
    return RadiusMatches(query.astype(np.int64), reference.astype(np.int64), distance.astype(np.uint8),
                         nearest, nearest_distance)


# -- multi-index hashing ---------------------------------------------------------------------

def substring_bits(substrings: int) -> list[int]:
    """Bit lengths of ``substrings`` substrings of 64 bits, as even as can be (longest first)."""
    base, extra = divmod(HASH_BITS, substrings)
    return [base + 1] * extra + [base] * (substrings - extra)


def _probes(bits: int, within: int) -> int:
    return sum(math.comb(bits, k) for k in range(min(within, bits) + 1))


def _table_cost(n: int, substrings: int, radius: int) -> float:
    """Expected work per query for uniformly spread hashes, in scanned pairs' worth."""
    within = radius // substrings
    return sum(_probes(b, within) * (_PROBE_COST + _CANDIDATE_COST * n / 2 ** b)
               for b in substring_bits(substrings))


def choose_substrings(n: int, radius: int) -> int:
    """The number of substrings with the least expected work per query at ``radius`` for ``n``
    references, among those whose tables stay within about 8 entries of offsets per reference."""
    allowed = [m for m in range(3, 17) if 2 ** max(substring_bits(m)) <= max(8 * n, 1 << 16)]
    return min(allowed, key=lambda m: (_table_cost(n, m, radius), m))


@lru_cache(maxsize=64)
def _flip_masks(bits: int, within: int) -> np.ndarray:
    """Every value of ``bits`` bits with at most ``within`` bits set (uint64), fewest bits first."""
    masks = [0]
    for k in range(1, min(within, bits) + 1):
        for combo in itertools.combinations(range(bits), k):
            masks.append(sum(1 << b for b in combo))
    out = np.array(masks, dtype=np.uint64)
    out.flags.writeable = False
    return out


class MultiIndexHashing:
    """Substring tables over packed 64-bit ``hashes``, for exact radius search (see the module
    docstring). ``substrings`` defaults to the best count for radius 10 at this size. Each table
    holds the hashes in the order of their substring value, so that a bucket's candidates are
    checked from contiguous memory, with their reference ids. Memory: 8 bytes per hash, then per
    table 12 bytes per hash and an offsets array of 2**bits + 1 entries (4 bytes each)."""

    def __init__(self, hashes: np.ndarray, *, substrings: int | None = None):
        hashes = as_hashes(hashes, "references")
        if substrings is None:
            substrings = choose_substrings(len(hashes), 10)
        if not 2 <= substrings <= HASH_BITS:
            raise ValueError(f"substrings must be in [2, {HASH_BITS}]; got {substrings!r}")
        self.hashes = hashes
        self.bits = substring_bits(substrings)
        self.shifts = [HASH_BITS - sum(self.bits[:j + 1]) for j in range(substrings)]
        id_type = np.int32 if len(hashes) < 2 ** 31 else np.int64
        self._ids: list[np.ndarray] = []
        self._sorted: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        for j in range(substrings):
            keys = self._keys(hashes, j)
            counts = np.bincount(keys, minlength=2 ** self.bits[j])
            offsets = np.zeros(len(counts) + 1, dtype=id_type)
            np.cumsum(counts, out=offsets[1:])
            self._offsets.append(offsets)
            # Order within a bucket does not matter (results are sorted at the end); an unstable
            # sort of 32-bit keys is three times faster than a stable sort of 64-bit ones.
            order = np.argsort(keys.astype(np.uint32))
            self._ids.append(order.astype(id_type))
            self._sorted.append(hashes[order])

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + sum(a.nbytes for a in self._ids + self._sorted + self._offsets)

    def _keys(self, hashes: np.ndarray, j: int) -> np.ndarray:
        mask = np.uint64((1 << self.bits[j]) - 1)
        return ((hashes >> np.uint64(self.shifts[j])) & mask).astype(np.int64)

    def expected_cost(self, radius: int) -> float:
        """Expected work per query for uniformly spread hashes, in scanned pairs' worth."""
        return _table_cost(len(self.hashes), len(self.bits), radius)

    def pairs(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(query, reference, distance)`` of every pair within ``radius``, unsorted, each once."""
        queries = as_hashes(queries, "queries")
        _check_radius(radius)
        found_q, found_r, found_d = [], [], []
        n = max(1, len(self.hashes))
        for q0 in range(0, len(queries), _QUERY_BATCH):
            batch = queries[q0:q0 + _QUERY_BATCH]
            codes = []
            for j, bits in enumerate(self.bits):
                masks = _flip_masks(bits, radius // len(self.bits)).astype(np.int64)
                probe = self._keys(batch, j)[:, None] ^ masks[None, :]  # (Q, P)
                lo = self._offsets[j][probe].ravel().astype(np.int64)
                counts = self._offsets[j][probe + 1].ravel().astype(np.int64) - lo
                total = int(counts.sum())
                if not total:
                    continue
                owner = np.repeat(np.arange(probe.size, dtype=np.int64) // probe.shape[1], counts)
                at = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
                keep = np.bitwise_count(batch[owner] ^ self._sorted[j][at]) <= radius
                codes.append(owner[keep] * n + self._ids[j][at[keep]].astype(np.int64))
            if codes:
                # A pair found through several substrings is one pair.
                unique = np.unique(np.concatenate(codes))
                q, r = unique // n, unique % n
                found_q.append(q + q0)
                found_r.append(r)
                found_d.append(np.bitwise_count(batch[q] ^ self.hashes[r]))
        if not found_q:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
        return np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d)

    def search(self, queries: np.ndarray, radius: int, *, block: int = DEFAULT_BLOCK) -> RadiusMatches:
        """:func:`radius_search` through the tables: the same pairs and nearest references."""
        queries = as_hashes(queries, "queries")
        _check_radius(radius)
        q, r, d = self.pairs(queries, radius)
        nearest = np.full(len(queries), -1, np.int64)
        nearest_distance = np.full(len(queries), NO_DISTANCE, np.uint8)
        _take_nearest(q, r, d, nearest, nearest_distance)
        # Queries with nothing in the radius: search again further out, while that is cheaper
        # than a scan; a search at radius R finds every reference within R, so the closest found
        # is the nearest of all, ties to the lowest index as in the scan.
        missing = np.flatnonzero(nearest < 0)
        wider = radius
        while len(missing) and len(self.hashes):
            wider = min(HASH_BITS, wider + max(2, len(self.bits)))
            if self.expected_cost(wider) >= len(self.hashes) or wider == HASH_BITS:
                scanned = _scan(queries[missing], self.hashes, -1, block)
                nearest[missing] = scanned.nearest
                nearest_distance[missing] = scanned.nearest_distance
                break
            mq, mr, md = self.pairs(queries[missing], wider)
            sub_nearest = np.full(len(missing), -1, np.int64)
            sub_distance = np.full(len(missing), NO_DISTANCE, np.uint8)
            _take_nearest(mq, mr, md, sub_nearest, sub_distance)
            nearest[missing], nearest_distance[missing] = sub_nearest, sub_distance
            missing = missing[sub_nearest < 0]
        return _matches([q], [r], [d], nearest, nearest_distance)


def _take_nearest(q: np.ndarray, r: np.ndarray, d: np.ndarray, nearest: np.ndarray,
                  nearest_distance: np.ndarray) -> None:
    """Each query's closest pair, ties to the lowest reference index."""
    if not len(q):
        return
    order = np.lexsort((r, d, q))
    first = order[np.r_[True, q[order][1:] != q[order][:-1]]]
    nearest[q[first]] = r[first]
    nearest_distance[q[first]] = d[first]
