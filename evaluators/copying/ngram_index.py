"""An exact index of every n-gram of a tokenised training set.

The documents' token ids are laid end to end (:class:`TokenCorpus`); :class:`NGramIndex` holds a
64-bit hash of the n tokens starting at every position (windows never cross a document boundary),
sorted, so that looking up all n-grams of a generated text is one vectorised binary search. Every
position is indexed, nothing is sampled, and every hit is verified token by token, so the index is
exact: an n-gram of the query that occurs in the training set is always found, and a hash
collision never makes a false hit. This is what the verbatim-span check needs ("every run of at
least k tokens that occurs in the training set"), and the seeds of the alignment use the same
structure with a small n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aigc_audit.errors import ConfigError

# One fixed odd multiplier per window offset: the hash of a window is sum(mix(id) * C[j]) mod 2**64.
_MULTIPLIERS = np.random.default_rng(20261201).integers(1, 2**63, size=512, dtype=np.uint64) * 2 + 1


def _mix(ids: np.ndarray) -> np.ndarray:
    """splitmix64 of each id: neighbouring ids get unrelated 64-bit values."""
    z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """The hash of ``ids[i:i + n]`` for every ``i`` (``len(ids) - n + 1`` values)."""
    if not 1 <= n <= len(_MULTIPLIERS):
        raise ConfigError(f"n-gram length must be in [1, {len(_MULTIPLIERS)}]; got {n}")
    count = len(ids) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    mixed = _mix(ids)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            hashes += mixed[j:j + count] * _MULTIPLIERS[j]
    return hashes


class TokenCorpus:
    """The token ids of a set of documents, end to end; ``starts[d]`` is where document ``d``
    begins in ``ids`` and ``doc_of(positions)`` the documents of positions."""

    def __init__(self, documents: Sequence[Sequence[int]]):
        lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=len(documents))
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) \
            else np.empty(0, dtype=np.int64)
        self.lengths = lengths
        self.ids = (np.concatenate([np.asarray(d, dtype=np.int64) for d in documents])
                    if len(lengths) else np.empty(0, dtype=np.int64))

    @classmethod
    def from_arrays(cls, ids: np.ndarray, lengths: np.ndarray) -> TokenCorpus:
        """A corpus from its token ids end to end and each document's length (a stored index)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if int(lengths.sum()) != len(ids) or (lengths < 0).any():
            raise ValueError(f"document lengths must be >= 0 and sum to the {len(ids)} token ids; "
                             f"they sum to {int(lengths.sum())}")
        corpus = cls.__new__(cls)
        corpus.lengths = lengths
        corpus.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) \
            else np.empty(0, dtype=np.int64)
        corpus.ids = np.asarray(ids, dtype=np.int64)
        return corpus

    def doc_of(self, positions: np.ndarray) -> np.ndarray:
        """The document of each position: the last one starting at or before it (a document of no
        tokens starts where the next begins, so it is never the last). Searched rather than kept
        as a table of one entry per token, which a service's workers would each hold."""
        return np.searchsorted(self.starts, positions, side="right") - 1

    def __len__(self) -> int:
        return len(self.lengths)


@dataclass(frozen=True)
class Hits:
    """Verified occurrences: the n-gram at ``query[i]`` occurs in document ``doc[i]`` at token
    position ``position[i]``."""

    query: np.ndarray
    doc: np.ndarray
    position: np.ndarray

    def __len__(self) -> int:
        return len(self.query)


class NGramIndex:
    """Every ``n``-token window of ``corpus``, by hash, sorted."""

    def __init__(self, corpus: TokenCorpus, n: int):
        self.corpus, self.n = corpus, n
        hashes = window_hashes(corpus.ids, n)
        # A window is valid when it ends inside the document it starts in.
        starts = np.arange(len(hashes), dtype=np.int64)
        if len(starts):
            docs = corpus.doc_of(starts)
            doc_end = corpus.starts[docs] + corpus.lengths[docs]
            starts = starts[starts + n <= doc_end]
        order = np.argsort(hashes[starts], kind="stable")
        self.hashes = hashes[starts][order]
        self.positions = starts[order]

    @classmethod
    def from_arrays(cls, corpus: TokenCorpus, n: int, hashes: np.ndarray,
                    positions: np.ndarray) -> NGramIndex:
        """An index from its stored sorted hashes and window positions (built over ``corpus``)."""
        if len(hashes) != len(positions):
            raise ValueError(f"{len(hashes)} hashes but {len(positions)} positions")
        index = cls.__new__(cls)
        index.corpus, index.n, index.hashes, index.positions = corpus, n, hashes, positions
        return index

    def __len__(self) -> int:
        return len(self.hashes)

    def counts(self, query_ids: np.ndarray) -> np.ndarray:
        """How many windows of the training set share the hash of each window of the query."""
        hashes = window_hashes(query_ids, self.n)
        return (np.searchsorted(self.hashes, hashes, side="right")
                - np.searchsorted(self.hashes, hashes, side="left"))

    def find(self, query_ids: np.ndarray, *, max_postings: int | None = None) -> Hits:
        """Every occurrence of every ``n``-gram of ``query_ids``. With ``max_postings``, n-grams
        that occur more often than that in the training set are left out (too common to anchor
        an alignment); without it, nothing is left out."""
        hashes = window_hashes(query_ids, self.n)
        lo = np.searchsorted(self.hashes, hashes, side="left")
        counts = np.searchsorted(self.hashes, hashes, side="right") - lo
        if max_postings is not None:
            counts = np.where(counts > max_postings, 0, counts)
        total = int(counts.sum())
        query = np.repeat(np.arange(len(hashes), dtype=np.int64), counts)
        # The positions lo[q] .. lo[q] + counts[q] - 1 of the sorted array, for every query window.
        first = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        global_position = self.positions[first + np.arange(total, dtype=np.int64)]
        # Verify token by token: a hash collision is not an occurrence.
        offsets = np.arange(self.n, dtype=np.int64)
        same = (query_ids[query[:, None] + offsets] == self.corpus.ids[global_position[:, None] + offsets]
                ).all(axis=1) if total else np.zeros(0, dtype=bool)
        query, global_position = query[same], global_position[same]
        doc = self.corpus.doc_of(global_position)
        return Hits(query, doc, global_position - self.corpus.starts[doc])
