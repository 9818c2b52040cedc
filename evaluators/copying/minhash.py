"""MinHash signatures of many documents at once, as numpy array operations.

The permutation scheme is datasketch's default since 2.0.0 ("affine32"): each 32-bit element hash
``h`` is pre-mixed once with the MurmurHash3 finaliser, then permutation ``k`` maps it to
``a[k] * h + b[k]`` modulo 2**32 (``a`` odd, so a bijection), and a signature row is the minimum
over the document's elements. ``a`` and ``b`` are drawn exactly as datasketch draws them from
``seed``, so for the same element hashes a signature here equals ``datasketch.MinHash(num_perm,
seed, hashfunc=...)`` bit for bit (tested).

What differs is how the work is laid out. datasketch hashes every element with SHA-1 in Python and
applies the permutations one document at a time; here the element hashes of all documents are laid
end to end in one flat array, and the permutations and the per-document minimum run over blocks of
that array (``(elements, num_perm)`` uint32 matrices reduced with ``np.minimum.reduceat``). The
arithmetic a document of ``S`` elements needs is ``S * num_perm`` multiply-adds and minimums
(``3 * S * num_perm`` uint32 operations), plus a few operations per element for the pre-mix.

Word shingles are hashed without hashing strings: every distinct word is hashed once (BLAKE2b,
8 bytes, stable across processes and machines, so stored signatures stay valid), and a shingle's
hash is a fixed polynomial of its words' hashes, computed for all windows of all documents at once.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

# The permutation scheme; stored with a persistent index so that incompatible signatures are refused.
SCHEME = "affine32"
EMPTY = np.uint32(0xFFFFFFFF)  # a row of an empty document, as datasketch's empty MinHash
# Elements of the (elements, num_perm) block: 4 MiB of uint32, in the last-level cache.
DEFAULT_BLOCK = 1 << 20
# One fixed odd multiplier per word position in a shingle (the shingle hash's polynomial).
_POSITION = np.random.default_rng(20261202).integers(1, 2**63, size=64, dtype=np.uint64) * 2 + 1
_LENGTH = np.random.default_rng(20261203).integers(1, 2**63, size=65, dtype=np.uint64)


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix), elementwise on uint32."""
    h = np.asarray(values, dtype=np.uint32)
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 permutation parameters datasketch's affine32 scheme draws from ``seed``."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1; got {num_perm!r}")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, *, num_perm: int = 128, seed: int = 1,
               block: int = DEFAULT_BLOCK) -> np.ndarray:
    """MinHash signatures ``(n_docs, num_perm)`` uint32 of documents whose 32-bit element hashes
    are ``hashes[offsets[d]:offsets[d + 1]]`` (``offsets`` has ``n_docs + 1`` entries). An empty
    document's row is all :data:`EMPTY`."""
    hashes = np.asarray(hashes)
    offsets = np.asarray(offsets, dtype=np.int64)
    if hashes.ndim != 1 or (hashes.size and (hashes.dtype.kind not in "ui" or hashes.min() < 0
                                            or hashes.max() > 0xFFFFFFFF)):
        raise ValueError(f"hashes must be a 1-D array of 32-bit unsigned values; got dtype {hashes.dtype}, "
                         f"shape {hashes.shape}")
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(hashes) \
            or (np.diff(offsets) < 0).any():
        raise ValueError(f"offsets must rise from 0 to len(hashes) = {len(hashes)}; got {offsets[:3]}..."
                         f"{offsets[-3:]} ({len(offsets)} values)")
    a, b = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    mixed = fmix32(hashes.astype(np.uint32, copy=False))
    counts = np.diff(offsets)
    # Documents by length, in groups padded to the group's longest: a document is padded with
    # copies of its own first element, which leaves its minimum unchanged, so that the minimum is
    # a plain reduction over an axis (np.minimum.reduceat over ragged segments is ~30x slower).
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]
    sorted_counts = counts[order]
    position = 0
    while position < len(order):
        shortest = int(sorted_counts[position])
        # At most twice the shortest length in a group, so that a group stays within 2 * block.
        stop = min(position + max(1, block // (num_perm * shortest)),
                   int(np.searchsorted(sorted_counts, 2 * shortest, side="right")))
        group = order[position:max(stop, position + 1)]
        longest = int(counts[group[-1]])
        step = np.minimum(np.arange(longest), counts[group, None] - 1)  # (g, L)
        phv = mixed[offsets[group, None] + step][:, :, None] * a  # (g, L, num_perm)
        np.add(phv, b, out=phv)
        out[group] = phv.min(axis=1)
        position += len(group)
    return out


# Most words a cache of word hashes keeps: a service hashes the words of request after request,
# and generated text keeps bringing new ones (names, numbers, typos), so an unbounded cache grows
# for as long as the service runs. Past this many (a few tens of MB) it starts again.
CACHE_WORDS = 200_000


def word_hashes(words: Iterable[str], cache: dict[str, int]) -> np.ndarray:
    """A stable 64-bit hash of each word (BLAKE2b, 8 bytes), each distinct word hashed once while
    it stays in ``cache`` (emptied when it holds more than :data:`CACHE_WORDS` words)."""
    words = words if isinstance(words, list) else list(words)
    if len(cache) > CACHE_WORDS:
        cache.clear()
    # Set difference and map run in C; only words not seen before are hashed in Python.
    for word in set(words).difference(cache):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        cache[word] = int.from_bytes(digest, "little")
    return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def shingle_hashes(documents: Sequence[Sequence[str]], size: int, *,
                   cache: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the ``size``-word shingles of every document (a document shorter than
    ``size`` words is one shingle of all of them; one without words has none), end to end, with
    the ``n_docs + 1`` offsets for :func:`signatures`. Equal shingles get equal hashes in every
    document and every process."""
    if not 1 <= size <= len(_POSITION):
        raise ValueError(f"shingle size must be in [1, {len(_POSITION)}]; got {size!r}")
    cache = {} if cache is None else cache
    lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=len(documents))
    flat = word_hashes(list(itertools.chain.from_iterable(documents)), cache)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # Window w covers words [w, w + n) where n = min(size, document length).
    n = np.minimum(lengths, size)
    counts = np.where(lengths > 0, lengths - n + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    window_start = np.repeat(starts[:-1] - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
    window_len = np.repeat(n, counts)
    acc = np.zeros(len(window_start), dtype=np.uint64)
    # Padded so that a short document's window may read past the end; those terms are masked out.
    flat = np.concatenate([flat, np.zeros(size, dtype=np.uint64)])
    short = bool((window_len < size).any())
    with np.errstate(over="ignore"):
        for j in range(size):
            term = flat[window_start + j] * _POSITION[j]
            acc += np.where(window_len > j, term, np.uint64(0)) if short else term
        acc += _LENGTH[window_len]
        folded = _fmix64(acc) >> np.uint64(32)
    return folded.astype(np.uint32), offsets


def element_hashes(elements: Sequence[Iterable[bytes]],
                   hashfunc: Callable[[bytes], int]) -> tuple[np.ndarray, np.ndarray]:
    """Element hashes from an injected 32-bit ``hashfunc`` (as datasketch's ``hashfunc``), end to
    end, with offsets: for tests and for callers with their own hash."""
    values: list[int] = []
    offsets = [0]
    for document in elements:
        values.extend(hashfunc(e) & 0xFFFFFFFF for e in document)
        offsets.append(len(values))
    return np.array(values, dtype=np.uint32), np.array(offsets, dtype=np.int64)


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of signature rows (broadcast): the share of equal rows."""
    return (np.asarray(a) == np.asarray(b)).mean(axis=-1)
