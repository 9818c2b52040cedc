"""A persistent index of a training set, built once and used by every audit.

For texts it holds what the text copy evaluators would otherwise compute from the whole training
set on every run: each text's tokens (as stable 64-bit token ids), the exact n-gram indexes of
``text_copy`` (seed and verbatim lengths) and the MinHash signatures of ``text_near_duplicate``.
For images it holds what ``image_near_duplicate`` computes of each training image: its pHash and
dHash, its grey thumbnail at the evaluator's ``pixel_size`` and its value-channel and colour
thumbnails there (which the pixel check's colour looks compare), and, for an image that could not
be read, why (so an audit with the index reports it as one without would). An audit with the index
reads the training set only to check that it holds the indexed items (a SHA-256 per item) and to
show or align the candidates it verifies.

Layout of the folder (numpy ``.npy`` and JSON only, nothing pickled)::

    manifest.json       written last: schemes, parameters, library versions, counts
    items.json          [[id, sha256], ...] of the texts, in index order
    tokens.npy lengths.npy word_counts.npy signatures.npy
    seed_hashes.npy seed_positions.npy verbatim_hashes.npy verbatim_positions.npy
    images.json         [[id, sha256 or null, null or why it is unreadable], ...] of the images
    phash.npy dhash.npy thumbnails.npy   one row per readable image, in index order
    colour_readable.npy whether each of those rows could be read in colour
    chunks/00000/ ...   the per-chunk work on texts, each chunk written to a temporary folder and renamed
    image_chunks/00000/ ...   the same for images; values.npy and colours.npy, the images' value
                        and RGB thumbnails, are read from here (kept once, not joined)

Building is incremental and resumable: items are hashed in chunks, and a chunk exists only once
complete (renamed into place), so an interrupted build resumes after its last chunk, and
:func:`update_index` with a grown training set hashes only the new items. The manifest is
removed before anything changes and written, atomically, after everything else, so an index
whose update did not finish refuses to load instead of loading half-written.

Token ids are BLAKE2b hashes of the tokens rather than positions in a vocabulary, so that chunks
hashed in different runs agree. Two different tokens with the same 64-bit id would count as the
same token; at 2**-64 per pair that is left to chance, where the in-memory path is exact.
Image hashes depend on Pillow's resize, so an index holding images records Pillow's version and
refuses to load under another major version.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators.base import Track, no_progress
from aigc_audit.evaluators.copying.minhash import SCHEME as MINHASH_SCHEME
from aigc_audit.evaluators.copying.minhash import shingle_hashes, signatures, word_hashes
from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex
from aigc_audit.evaluators.copying.ngram_index import NGramIndex, TokenCorpus
from aigc_audit.evaluators.features.tokens import ScriptTokenizer, tokenize
from aigc_audit.sampleset import IMAGE, TEXT, Item, SampleSet, content_sha256

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.image_near_duplicate import ReferenceHashes

INDEX_FORMAT = "aigc-audit-reference-index"
# 2: the image part (images.json, phash, dhash, thumbnails) and the pixel_size parameter.
# 3: the images' value and colour thumbnails (values, colours, colour_readable).
INDEX_VERSION = 3
# What the stored numbers mean; an index whose schemes differ from these cannot be used.
SCHEMES = {
    "tokens": f"{ScriptTokenizer.name}; token id = BLAKE2b-64 of the token, little-endian",
    "ngrams": "splitmix64 of each token id, polynomial over the window (ngram_index v1)",
    "minhash": f"{MINHASH_SCHEME} over BLAKE2b-64 word hashes of word shingles (minhash v1)",
    "images": "imagehash pHash and dHash (8x8, packed big-endian into uint64); grayscale, HSV value "
              "and RGB Lanczos thumbnails at pixel_size (image_near_duplicate v2)",
}
CHUNK_ITEMS = 5000
IMAGE_CHUNK_ITEMS = 2000
# image_near_duplicate's pixel_size choices.
PIXEL_SIZES = (16, 32, 64, 128)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class IndexParams:
    """The evaluator parameters the stored numbers depend on."""

    seed_tokens: int = 3
    verbatim_tokens: int = 50
    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1
    pixel_size: int = 32

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            least = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"index parameter {name} must be an integer >= {least}; got {value!r}")
        if self.pixel_size not in PIXEL_SIZES:
            raise ConfigError(f"index parameter pixel_size must be one of {', '.join(map(str, PIXEL_SIZES))} "
                              f"(image_near_duplicate's choices); got {self.pixel_size!r}")


@dataclass(frozen=True)
class UpdateSummary:
    """What an update did: texts and images added and kept, totals, and the images it could not read."""

    added: int
    kept: int
    total: int
    images_added: int = 0
    images_kept: int = 0
    images_total: int = 0
    unreadable_images: dict[str, str] = field(default_factory=dict)


def _pillow_version() -> str:
    import PIL

    return PIL.__version__


def _versions() -> dict[str, str]:
    return {"numpy": np.__version__, "python": platform.python_version(), "pillow": _pillow_version()}


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    os.replace(tmp, path)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    file = path / MANIFEST
    if not file.exists():
        return None
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"the manifest cannot be read ({error}); build the index again",
                         path=file) from None
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        raise InputError(f"not an aigc-audit index (format {manifest.get('format')!r} where "
                         f"{INDEX_FORMAT!r} was expected)", path=file)
    return manifest


def _check_compatible(manifest: dict[str, Any], file: Path) -> None:
    """Refuse an index whose format, schemes or numpy major version differ from this code's."""
    problems = []
    if manifest.get("version") != INDEX_VERSION:
        problems.append(f"format version {manifest.get('version')!r} (this aigc-audit reads {INDEX_VERSION})")
    for key, scheme in SCHEMES.items():
        if manifest.get("schemes", {}).get(key) != scheme:
            problems.append(f"{key} scheme {manifest.get('schemes', {}).get(key)!r} (this aigc-audit uses "
                            f"{scheme!r})")
    built = str(manifest.get("versions", {}).get("numpy", "?")).split(".")[0]
    if built != np.__version__.split(".")[0]:
        numpy_built = manifest.get("versions", {}).get("numpy")
        problems.append(f"numpy {numpy_built!r} (this is numpy {np.__version__})")
    # Image hashes follow Pillow's resize, which has changed between major versions.
    pillow_built = manifest.get("versions", {}).get("pillow")
    if manifest.get("images") and str(pillow_built).split(".")[0] != _pillow_version().split(".")[0]:
        problems.append(f"Pillow {pillow_built!r} for its image hashes (this is Pillow {_pillow_version()})")
    if problems:
        raise InputError(f"the index was built under incompatible settings: {'; '.join(problems)}; build it "
                         "again with 'aigc-audit index build'", path=file)


def _tokens(items: Sequence[Item], cache: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    tokenizer = ScriptTokenizer()
    per_item = [tokenizer.tokens(item.text or "") for item in items]
    lengths = np.array([len(t) for t in per_item], dtype=np.int64)
    ids = word_hashes((t for tokens in per_item for t in tokens), cache).view(np.int64)
    return ids, lengths


def text_arrays(items: Sequence[Item], params: IndexParams, cache: dict[str, int]) -> dict[str, np.ndarray]:
    """What the index stores of a chunk of texts: token ids end to end, each text's length in
    tokens and in words, and its MinHash signature (shared by the folder and the Redis index)."""
    ids, lengths = _tokens(items, cache)
    words = [tuple(tokenize(item.text or "")) for item in items]
    sigs = signatures(*shingle_hashes(words, params.shingle_size, cache=cache), num_perm=params.num_perm,
                      seed=params.seed)
    return {"tokens": ids, "lengths": lengths,
            "word_counts": np.array([len(w) for w in words], dtype=np.int64), "signatures": sigs}


def _write_chunk(chunks: Path, number: int, items: Sequence[Item], shas: Sequence[str],
                 params: IndexParams, cache: dict[str, int]) -> None:
    tmp = chunks / f".tmp-{number:05d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, array in text_arrays(items, params, cache).items():
        _save(tmp / f"{name}.npy", array)
    _write_json(tmp / "items.json", [[item.id, sha] for item, sha in zip(items, shas)])
    os.replace(tmp, chunks / f"{number:05d}")  # the chunk exists only once complete


def _write_image_chunk(chunks: Path, number: int, items: Sequence[Item], shas: Sequence[str | None],
                       params: IndexParams) -> None:
    from aigc_audit.evaluators.copying.image_near_duplicate import reference_hashes

    tmp = chunks / f".tmp-{number:05d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    hashes = reference_hashes(items, pixel_size=params.pixel_size)
    for name, array in image_arrays(hashes).items():
        _save(tmp / f"{name}.npy", array)
    _write_json(tmp / "images.json",
                [[item.id, sha, hashes.errors.get(item.id)] for item, sha in zip(items, shas)])
    os.replace(tmp, chunks / f"{number:05d}")  # the chunk exists only once complete


def _chunks(path: Path, folder: str = "chunks") -> list[Path]:
    where = path / folder
    return sorted(p for p in where.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if where.exists() else []


def items_to_add(references: Sequence[Item], indexed: dict[str, str], indexed_images: dict[str, str | None],
                 where: Path | str) -> tuple[list[tuple[Item, str]], list[tuple[Item, str | None]]]:
    """The texts and images of ``references`` that an index holding ``indexed`` and
    ``indexed_images`` (id -> SHA-256) lacks, each with its SHA-256. An indexed item whose content
    changed is refused: the index would no longer describe the training set."""
    texts = [r for r in references if r.modality == TEXT]
    shas = [content_sha256(r) for r in texts]
    changed = [r.id for r, sha in zip(texts, shas) if r.id in indexed and indexed[r.id] != sha]
    if changed:
        raise InputError(f"{len(changed)} indexed text(s) changed since they were indexed (first: "
                         f"{changed[0]!r}); build a new index for the changed training set", path=where)
    images = [r for r in references if r.modality == IMAGE]
    image_shas = _image_sha256s(images)
    changed = [r.id for r, sha in zip(images, image_shas)
               if r.id in indexed_images and indexed_images[r.id] != sha]
    if changed:
        raise InputError(f"{len(changed)} indexed image(s) changed (or became readable or unreadable) since "
                         f"they were indexed (first: {changed[0]!r}); build a new index for the changed "
                         "training set", path=where)
    return ([(r, sha) for r, sha in zip(texts, shas) if r.id not in indexed],
            [(r, sha) for r, sha in zip(images, image_shas) if r.id not in indexed_images])


def _image_sha256(item: Item) -> str | None:
    """The SHA-256 of an image file, or None when the file cannot be read (it is then indexed as
    unreadable, with the reason the hashing gives)."""
    try:
        return content_sha256(item)
    except (OSError, InputError):
        return None


def _image_sha256s(items: Sequence[Item]) -> list[str | None]:
    """:func:`_image_sha256` of every item, in order, in this thread: on small files the work is
    mostly the interpreter's, and threads only contend for it (100,000 training images of 64 x 64
    px: 1.5 s one after another, 2.9 s on a thread per core of two)."""
    return [_image_sha256(item) for item in items]


def update_index(path: str | Path, references: Sequence[Item], params: IndexParams = IndexParams(), *,
                 source: str = "", track: Track = no_progress) -> UpdateSummary:
    """Build the index at ``path``, or add to it the text items of ``references`` it does not hold
    yet; resumes an interrupted build. An indexed item whose text has changed is refused."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(path)
    if manifest is not None:
        _check_compatible(manifest, path / MANIFEST)
        if manifest.get("params") != asdict(params):
            raise InputError(f"the index was built with parameters {manifest.get('params')}, not "
                             f"{asdict(params)}; pass the same parameters, or build a new index in "
                             "another folder",
                             path=path / MANIFEST)
    elif any(path.iterdir()) and not any((path / name).exists() for name in ("chunks", "image_chunks")):
        raise InputError("the folder is not empty and holds no aigc-audit index; pick an empty or new folder",
                         path=path)
    state_file = path / "params.json"
    if state_file.exists() and json.loads(state_file.read_text(encoding="utf-8")) != asdict(params):
        raise InputError(f"an unfinished build here used parameters {state_file.read_text(encoding='utf-8')}"
                         f", not {asdict(params)}; resume it with those, or remove the folder", path=path)
    indexed: dict[str, str] = {}
    for chunk in _chunks(path):
        indexed.update((k, v) for k, v in json.loads((chunk / "items.json").read_text(encoding="utf-8")))
    indexed_images: dict[str, str | None] = {}
    for chunk in _chunks(path, "image_chunks"):
        indexed_images.update((row[0], row[1]) for row in
                              json.loads((chunk / "images.json").read_text(encoding="utf-8")))
    new, new_images = items_to_add(references, indexed, indexed_images, path)
    # From here on the folder changes: it must not load until the manifest is written again.
    (path / MANIFEST).unlink(missing_ok=True)
    _write_json(state_file, asdict(params))
    cache: dict[str, int] = {}
    first = len(_chunks(path))
    starts = range(0, len(new), CHUNK_ITEMS)
    for k, start in enumerate(track(starts, "Index training texts", len(starts))):
        part = new[start:start + CHUNK_ITEMS]
        _write_chunk(path / "chunks", first + k, [r for r, _ in part], [s for _, s in part], params, cache)
    first = len(_chunks(path, "image_chunks"))
    starts = range(0, len(new_images), IMAGE_CHUNK_ITEMS)
    for k, start in enumerate(track(starts, "Index training images", len(starts))):
        part = new_images[start:start + IMAGE_CHUNK_ITEMS]
        _write_image_chunk(path / "image_chunks", first + k, [r for r, _ in part], [s for _, s in part],
                           params)
    total, image_rows = _finish(path, params, source, track)
    unreadable = {row[0]: row[2] for row in image_rows if row[2] is not None}
    added_ids = {r.id for r, _ in new_images}
    return UpdateSummary(added=len(new), kept=len(indexed), total=total, images_added=len(new_images),
                         images_kept=len(indexed_images), images_total=len(image_rows),
                         unreadable_images={k: v for k, v in unreadable.items() if k in added_ids})


def image_arrays(hashes: ReferenceHashes) -> dict[str, np.ndarray]:
    """What the index stores of a chunk of images, a row per readable image (shared by the folder
    and the Redis index)."""
    colours = hashes.colours
    if colours is None:
        raise ValueError("an index stores the images' colour thumbnails; reference_hashes makes them")
    return {"phash": hashes.phash, "dhash": hashes.dhash, "thumbnails": hashes.thumbnails,
            "values": np.concatenate(colours.values), "colours": np.concatenate(colours.colours),
            "colour_readable": colours.readable}


def image_shapes(side: int) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    """dtype and shape of one row of each of :func:`image_arrays`' arrays at ``side`` px."""
    return {"phash": (np.dtype(np.uint64), ()), "dhash": (np.dtype(np.uint64), ()),
            "thumbnails": (np.dtype(np.uint8), (side, side)), "values": (np.dtype(np.uint8), (side, side)),
            "colours": (np.dtype(np.uint8), (side, side, 3)), "colour_readable": (np.dtype(bool), ())}


# The images' colour thumbnails (4 KiB an image at 32 px) are read from the chunks, not joined: the
# chunks are kept for 'index add', and a second copy would double the index's size.
_PER_CHUNK = ("values", "colours")


def _join_images(path: Path, params: IndexParams) -> list[list[Any]]:
    """Join the image chunks into images.json and the arrays of :func:`image_arrays` but
    :data:`_PER_CHUNK`; returns the rows of images.json."""
    chunks = _chunks(path, "image_chunks")
    rows = [row for c in chunks for row in json.loads((c / "images.json").read_text(encoding="utf-8"))]
    counts = [len(np.load(c / "phash.npy", mmap_mode="r", allow_pickle=False)) for c in chunks]
    for name, (dtype, shape) in image_shapes(params.pixel_size).items():
        if name in _PER_CHUNK:
            continue
        # Copied chunk by chunk into a memory-mapped file (a KiB an image at 32 px), so that
        # joining a million of them does not hold them all in memory at once.
        tmp = path / f"{name}.npy.tmp"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(sum(counts), *shape))
        at = 0
        for chunk, count in zip(chunks, counts):
            out[at:at + count] = np.load(chunk / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            at += count
        out.flush()
        del out
        os.replace(tmp, path / f"{name}.npy")
    return rows


def _finish(path: Path, params: IndexParams, source: str, track: Track) -> tuple[int, list[list[Any]]]:
    """Join the chunks into the index files, then write the manifest. Returns the number of
    texts and the rows of images.json."""
    chunks = _chunks(path)
    items = [row for c in chunks for row in json.loads((c / "items.json").read_text(encoding="utf-8"))]

    def joined(name: str, dtype: Any, shape: tuple[int, ...] = ()) -> np.ndarray:
        parts = [np.load(c / name, allow_pickle=False) for c in chunks]
        return np.concatenate(parts) if parts else np.zeros((0, *shape), dtype=dtype)

    tokens = joined("tokens.npy", np.int64)
    lengths = joined("lengths.npy", np.int64)
    corpus = TokenCorpus.from_arrays(tokens, lengths)
    for name, array in (("tokens", tokens), ("lengths", lengths),
                        ("word_counts", joined("word_counts.npy", np.int64)),
                        ("signatures", joined("signatures.npy", np.uint32, (params.num_perm,)))):
        _save(path / f"{name}.npy", array)
    for role, n in track((("seed", params.seed_tokens), ("verbatim", params.verbatim_tokens)),
                         "Sort n-gram indexes", 2):
        index = NGramIndex(corpus, n)
        _save(path / f"{role}_hashes.npy", index.hashes)
        _save(path / f"{role}_positions.npy", index.positions)
    _write_json(path / "items.json", items)
    image_rows = _join_images(path, params)
    _write_json(path / "images.json", image_rows)
    _write_json(path / MANIFEST, {
        "format": INDEX_FORMAT, "version": INDEX_VERSION, "schemes": SCHEMES, "params": asdict(params),
        "versions": _versions(), "reference": source, "items": len(items), "tokens": int(len(tokens)),
        "images": len(image_rows),
        "unreadable_images": sum(row[2] is not None for row in image_rows),
    })
    (path / "params.json").unlink(missing_ok=True)
    return len(items), image_rows


class ReferenceIndex:
    """A complete index, loaded (arrays memory-mapped) and checked. Use :meth:`load`."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.params = IndexParams(**manifest["params"])
        rows = json.loads((path / "items.json").read_text(encoding="utf-8"))
        self.item_ids = [r[0] for r in rows]
        self.item_sha256 = [r[1] for r in rows]

        def load(name: str) -> np.ndarray:
            return np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)

        self.corpus = TokenCorpus.from_arrays(np.asarray(load("tokens")), np.asarray(load("lengths")))
        self.word_counts = np.asarray(load("word_counts"))
        self.signatures = load("signatures")
        self.seed_index = NGramIndex.from_arrays(self.corpus, self.params.seed_tokens, load("seed_hashes"),
                                                 load("seed_positions"))
        self.verbatim_index = NGramIndex.from_arrays(self.corpus, self.params.verbatim_tokens,
                                                     load("verbatim_hashes"), load("verbatim_positions"))
        image_rows = json.loads((path / "images.json").read_text(encoding="utf-8"))
        self.image_ids = [r[0] for r in image_rows]
        self.image_sha256 = [r[1] for r in image_rows]
        self.image_errors = {r[0]: r[2] for r in image_rows if r[2] is not None}
        self.phash = np.asarray(load("phash"))
        self.dhash = np.asarray(load("dhash"))
        self.thumbnails = load("thumbnails")
        chunks = _chunks(path, "image_chunks")
        # Plain arrays over the mapped files (no copy): a memmap's indexing costs several times more,
        # and the colour looks index a row at a time.
        self.values, self.colours = ([np.asarray(np.load(chunk / f"{name}.npy", mmap_mode="r",
                                                         allow_pickle=False)) for chunk in chunks]
                                     for name in _PER_CHUNK)
        self.colour_readable = np.asarray(load("colour_readable"))
        self._check_images(len(image_rows) - len(self.image_errors))
        self._cache: dict[str, int] = {}
        self._checked: object = None
        self._lsh: dict[tuple[int, int], tuple[BandedLSHIndex, np.ndarray]] = {}

    @classmethod
    def load(cls, path: str | Path) -> ReferenceIndex:
        path = Path(path)
        if not path.is_dir():
            raise InputError("no index here; build one with 'aigc-audit index build'", path=path)
        manifest = _read_manifest(path)
        if manifest is None:
            raise InputError("the index is incomplete (its build or update did not finish); run "
                             "'aigc-audit index build' again to finish it", path=path)
        _check_compatible(manifest, path / MANIFEST)
        try:
            return cls(path, manifest)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            raise InputError(f"the index cannot be read ({error}); build it again", path=path) from None

    def __len__(self) -> int:
        return len(self.item_ids)

    def token_ids(self, tokens: Sequence[str]) -> np.ndarray:
        """The index's ids of ``tokens`` (BLAKE2b-64), for a text to look up."""
        return word_hashes(tokens, self._cache).view(np.int64)

    def text_rows(self) -> np.ndarray:
        """The texts that have words (only those have a MinHash signature to match)."""
        return np.flatnonzero(self.word_counts > 0)

    def candidate_pairs(self, queries: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
        """``(query_row, text)`` pairs whose MinHash signatures share a band of ``rows`` rows (as
        :meth:`BandedLSHIndex.candidate_pairs`, with texts numbered as in the index); the band tables
        are built from the stored signatures once per banding."""
        if (bands, rows) not in self._lsh:
            texts = self.text_rows()
            lsh = BandedLSHIndex(np.asarray(self.signatures)[texts], bands=bands, rows=rows)
            self._lsh[bands, rows] = (lsh, texts)
        lsh, texts = self._lsh[bands, rows]
        pairs = lsh.candidate_pairs(queries)
        return np.stack([pairs[:, 0], texts[pairs[:, 1]]], axis=1) if len(pairs) else pairs

    def check_reference(self, references: Sequence[Item]) -> None:
        """Refuse a reference set whose text items are not exactly the indexed ones, in order."""
        ids = [r.id for r in references]
        if ids != self.item_ids:
            indexed = set(self.item_ids)
            missing = next((i for i in ids if i not in indexed), None)
            raise InputError(f"the reference set's {len(ids)} text item(s) are not the index's {len(self)}"
                             + (f" (first not indexed: {missing!r}; add it with 'aigc-audit index add')"
                                if missing else "")
                             + "; pass the reference set the index was built from", path=self.path)
        changed = next((r.id for r, sha in zip(references, self.item_sha256) if content_sha256(r) != sha),
                       None)
        if changed is not None:
            raise InputError(f"reference text {changed!r} changed since it was indexed; build the index "
                             "again", path=self.path)

    def check_reference_set(self, reference: SampleSet | None, references: Sequence[Item]) -> None:
        """:meth:`check_reference` for ``references``, the text items of ``reference``; skipped when
        that same (frozen) set passed already, since a service checks item after item against one
        training set and hashing 100,000 texts per request would dominate its latency."""
        if reference is not None and reference is self._checked:
            return
        self.check_reference(references)
        self._checked = reference

    def _check_images(self, readable: int) -> None:
        """Refuse image arrays whose rows or shapes do not match the ``readable`` images listed."""
        parts = {"phash": [self.phash], "dhash": [self.dhash], "thumbnails": [self.thumbnails],
                 "values": self.values, "colours": self.colours, "colour_readable": [self.colour_readable]}
        wrong = []
        for name, (dtype, shape) in image_shapes(self.params.pixel_size).items():
            rows = sum(len(part) for part in parts[name])
            found = sorted({f"{part.shape[1:]} {part.dtype}" for part in parts[name]})
            if rows != readable or found not in ([f"{shape} {dtype}"], []):
                wrong.append(f"{name}: {rows} row(s) of {' and '.join(found) or 'no shape'} "
                              f"(expected {shape} {dtype})")
        if wrong:
            raise ValueError(f"{readable} readable image(s) listed but {'; '.join(wrong)}")

    def image_hashes(self, references: Sequence[Item]) -> ReferenceHashes:
        """The stored hashes and thumbnails of the reference set's image items, after refusing a
        set whose images are not exactly the indexed ones, in order (SHA-256 of every file)."""
        from aigc_audit.evaluators.copying.image_near_duplicate import ColourThumbnails, ReferenceHashes

        ids = [r.id for r in references]
        if ids != self.image_ids:
            indexed = set(self.image_ids)
            missing = next((i for i in ids if i not in indexed), None)
            raise InputError(f"the reference set's {len(ids)} image item(s) are not the index's "
                             f"{len(self.image_ids)}"
                             + (f" (first not indexed: {missing!r}; add it with 'aigc-audit index add')"
                                if missing else "")
                             + "; pass the reference set the index was built from", path=self.path)
        changed = next((r.id for r, sha, now in zip(references, self.image_sha256, _image_sha256s(references))
                        if now != sha), None)
        if changed is not None:
            raise InputError(f"reference image {changed!r} changed (or became readable or unreadable) since "
                             "it was indexed; build the index again", path=self.path)
        readable = [i for i in self.image_ids if i not in self.image_errors]
        colours = ColourThumbnails(tuple(self.values), tuple(self.colours), self.colour_readable)
        return ReferenceHashes(readable, dict(self.image_errors), self.phash, self.dhash, self.thumbnails,
                               colours)

    def require(self, evaluator: str, **params: int) -> None:
        """Refuse parameters that differ from those the index was built with."""
        built = asdict(self.params)
        wrong = {k: v for k, v in params.items() if built[k] != v}
        if wrong:
            raise InputError(f"evaluator {evaluator} runs with "
                             f"{', '.join(f'{k}={v}' for k, v in wrong.items())} but the index was built "
                             f"with {', '.join(f'{k}={built[k]}' for k in wrong)}; build an index with "
                             f"those parameters (aigc-audit index build --help)", path=self.path)
