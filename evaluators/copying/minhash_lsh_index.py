"""A banded LSH index over MinHash signatures, vectorised with numpy, and the choice of its bands.

The banding is the classic one (``b`` bands of ``r`` rows; two signatures are candidates when
they agree on every row of at least one band), as in datasketch's ``MinHashLSH``. Two sets of
Jaccard similarity ``s`` agree on each MinHash row with probability ``s``, so they are candidates
with probability ``1 - (1 - s**r)**b`` (:func:`candidate_probability`). :func:`lsh_bands` picks,
for a similarity ``threshold`` and ``num_perm`` rows, the ``(b, r)`` with ``b * r <= num_perm`` that
makes a pair at exactly the threshold a candidate with probability at least ``min_recall`` while
keeping ``r`` as large as possible, so that few unrelated pairs need an exact check.

Instead of one dictionary insert per band per item, each band's rows are folded into one 64-bit
key per item and the keys are sorted once; a whole batch of queries is then answered with
``searchsorted``. A key collision can only add a candidate, never lose one, and every candidate is
checked exactly afterwards, so the folding does not change what is reported.
"""

from __future__ import annotations

import numpy as np

# How a band's rows become its key; stored with a persistent band index so that keys built by
# another scheme are refused.
SCHEME = "sum of rows times fixed odd 64-bit multipliers (seed 20261128), xor-shift 29 (minhash_lsh_index v1)"
# Odd 64-bit multipliers (from a fixed seed) fold a band's rows into one key.
_MULTIPLIERS = np.random.default_rng(20261128).integers(1, 2**63, size=1024, dtype=np.uint64) | 1


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The probability that two sets of Jaccard ``similarity`` share at least one of ``bands``
    bands of ``rows`` MinHash rows each."""
    if not 0.0 <= similarity <= 1.0:
        raise ValueError(f"similarity must be in [0, 1]; got {similarity!r}")
    if bands < 1 or rows < 1:
        raise ValueError(f"bands and rows must be >= 1; got bands={bands}, rows={rows}")
    return 1.0 - (1.0 - similarity ** rows) ** bands


def lsh_bands(threshold: float, num_perm: int, min_recall: float) -> tuple[int, int]:
    """The ``(bands, rows)`` with ``bands * rows <= num_perm`` and the most rows whose candidate
    probability at ``threshold`` is at least ``min_recall``; one row per band (the most recall
    ``num_perm`` rows can give) when no choice reaches it."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}")
    if not 0.0 < min_recall < 1.0:
        raise ValueError(f"min_recall must be in (0, 1); got {min_recall!r}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm!r}")
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= min_recall:
            return bands, rows
    return num_perm, 1


def fold_band(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    """Each signature's rows ``band * rows`` to ``(band + 1) * rows - 1`` folded into one 64-bit key
    (a stored index keeps these keys, so the folding is part of its format)."""
    block = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64, copy=False)
    with np.errstate(over="ignore"):
        keys = (block * _MULTIPLIERS[:rows]).sum(axis=1, dtype=np.uint64)
        return keys ^ (keys >> np.uint64(29))


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The ``(n, bands)`` uint64 keys of each signature's bands: two signatures that agree on a
    band's rows have equal keys for that band (the keys :class:`BandedLSHIndex` searches)."""
    if bands < 1 or rows < 1 or rows > len(_MULTIPLIERS):
        raise ValueError(f"bands must be >= 1 and rows in [1, {len(_MULTIPLIERS)}]; got bands={bands}, "
                         f"rows={rows}")
    if signatures.ndim != 2 or signatures.shape[1] < bands * rows:
        raise ValueError(f"signatures must be (n, >= {bands * rows}); got {signatures.shape}")
    out = np.empty((len(signatures), bands), dtype=np.uint64)
    for band in range(bands):
        out[:, band] = fold_band(signatures, band, rows)
    return out


class BandedLSHIndex:
    """Build once over reference signatures ``(n, num_perm)``; query many at once."""

    def __init__(self, signatures: np.ndarray, *, bands: int, rows: int):
        if bands < 1 or rows < 1:
            raise ValueError(f"bands and rows must be >= 1; got bands={bands}, rows={rows}")
        if signatures.ndim != 2 or signatures.shape[1] < bands * rows:
            raise ValueError(f"signatures must be (n, >= {bands * rows}); got {signatures.shape}")
        if rows > len(_MULTIPLIERS):
            raise ValueError(f"at most {len(_MULTIPLIERS)} rows per band; got {rows}")
        self.bands, self.rows, self.size = bands, rows, len(signatures)
        self._keys, self._ids = [], []
        for band in range(bands):
            keys = fold_band(signatures, band, rows)
            order = np.argsort(keys, kind="stable")
            self._keys.append(keys[order])
            self._ids.append(order)

    def candidate_pairs(self, queries: np.ndarray) -> np.ndarray:
        """All ``(query_index, reference_index)`` pairs that share a band, each pair once,
        as an ``(m, 2)`` array sorted by query then reference."""
        if queries.ndim != 2 or queries.shape[1] < self.bands * self.rows:
            raise ValueError(f"queries must be (m, >= {self.bands * self.rows}) like the indexed "
                             f"signatures; got {queries.shape}")
        found = []
        for band in range(self.bands):
            keys = fold_band(queries, band, self.rows)
            left = np.searchsorted(self._keys[band], keys, side="left")
            right = np.searchsorted(self._keys[band], keys, side="right")
            counts = right - left
            total = int(counts.sum())
            if not total:
                continue
            query_index = np.repeat(np.arange(len(queries)), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            found.append(query_index * self.size + self._ids[band][np.repeat(left, counts) + offsets])
        if not found:
            return np.empty((0, 2), dtype=np.int64)
        codes = np.unique(np.concatenate(found))
        return np.stack([codes // self.size, codes % self.size], axis=1)
