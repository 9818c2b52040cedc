"""A banded LSH index over MinHash signatures, vectorised with numpy.

The banding is the classic one (``b`` bands of ``r`` rows; two signatures are candidates when
they agree on every row of at least one band), as in datasketch's ``MinHashLSH``. Instead of one
dictionary insert per band per item, each band's rows are folded into one 64-bit key per item and
the keys are sorted once; a whole batch of queries is then answered with ``searchsorted``. A key
collision can only add a candidate, never lose one, and every candidate is checked exactly
afterwards, so the folding does not change what is reported.
"""

from __future__ import annotations

import numpy as np

# Odd 64-bit multipliers (from a fixed seed) fold a band's rows into one key.
_MULTIPLIERS = np.random.default_rng(20261128).integers(1, 2**63, size=1024, dtype=np.uint64) | 1


def _band_keys(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    block = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64, copy=False)
    with np.errstate(over="ignore"):
        keys = (block * _MULTIPLIERS[:rows]).sum(axis=1, dtype=np.uint64)
        return keys ^ (keys >> np.uint64(29))


class BandedLSHIndex:
    """Build once over reference signatures ``(n, num_perm)``; query many at once."""

    def __init__(self, signatures: np.ndarray, *, bands: int, rows: int):
        if signatures.ndim != 2 or signatures.shape[1] < bands * rows:
            raise ValueError(f"signatures must be (n, >= {bands * rows}); got {signatures.shape}")
        if rows > len(_MULTIPLIERS):
            raise ValueError(f"at most {len(_MULTIPLIERS)} rows per band; got {rows}")
        self.bands, self.rows, self.size = bands, rows, len(signatures)
        self._keys, self._ids = [], []
        for band in range(bands):
            keys = _band_keys(signatures, band, rows)
            order = np.argsort(keys, kind="stable")
            self._keys.append(keys[order])
            self._ids.append(order)

    def candidate_pairs(self, queries: np.ndarray) -> np.ndarray:
        """All ``(query_index, reference_index)`` pairs that share a band, each pair once,
        as an ``(m, 2)`` array sorted by query then reference."""
        found = []
        for band in range(self.bands):
            keys = _band_keys(queries, band, self.rows)
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
