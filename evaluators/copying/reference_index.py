"""A persistent index of a training set's texts, built once and used by every audit.

It holds what the text copy evaluators would otherwise compute from the whole training set on
every run: each text's tokens (as stable 64-bit token ids), the exact n-gram indexes of
``text_copy`` (seed and verbatim lengths) and the MinHash signatures of ``text_near_duplicate``.
An audit with the index reads the training set's texts only to check that they are the indexed
ones (a SHA-256 per text) and to show the passages of the candidates it verifies.

Layout of the folder (numpy ``.npy`` and JSON only, nothing pickled)::

    manifest.json       written last: schemes, parameters, library versions, counts
    items.json          [[id, sha256], ...] in index order
    tokens.npy lengths.npy word_counts.npy signatures.npy
    seed_hashes.npy seed_positions.npy verbatim_hashes.npy verbatim_positions.npy
    chunks/00000/ ...   the per-chunk work, each chunk written to a temporary folder and renamed

Building is incremental and resumable: items are hashed in chunks, and a chunk exists only once
complete (renamed into place), so an interrupted build resumes after its last chunk, and
:func:`update_index` with a grown training set hashes only the new items. The manifest is
removed before anything changes and written, atomically, after everything else, so an index
whose update did not finish refuses to load instead of loading half-written.

Token ids are BLAKE2b hashes of the tokens rather than positions in a vocabulary, so that chunks
hashed in different runs agree. Two different tokens with the same 64-bit id would count as the
same token; at 2**-64 per pair that is left to chance, where the in-memory path is exact.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators.base import Track, no_progress
from aigc_audit.evaluators.copying.minhash import SCHEME as MINHASH_SCHEME
from aigc_audit.evaluators.copying.minhash import shingle_hashes, signatures, word_hashes
from aigc_audit.evaluators.copying.ngram_index import NGramIndex, TokenCorpus
from aigc_audit.evaluators.features.tokens import ScriptTokenizer, tokenize
from aigc_audit.sampleset import TEXT, Item, SampleSet, content_sha256

INDEX_FORMAT = "aigc-audit-reference-index"
INDEX_VERSION = 1
# What the stored numbers mean; an index whose schemes differ from these cannot be used.
SCHEMES = {
    "tokens": f"{ScriptTokenizer.name}; token id = BLAKE2b-64 of the token, little-endian",
    "ngrams": "splitmix64 of each token id, polynomial over the window (ngram_index v1)",
    "minhash": f"{MINHASH_SCHEME} over BLAKE2b-64 word hashes of word shingles (minhash v1)",
}
CHUNK_ITEMS = 5000
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class IndexParams:
    """The evaluator parameters the stored numbers depend on."""

    seed_tokens: int = 3
    verbatim_tokens: int = 50
    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            least = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"index parameter {name} must be an integer >= {least}; got {value!r}")


@dataclass(frozen=True)
class UpdateSummary:
    added: int
    kept: int
    total: int


def _versions() -> dict[str, str]:
    return {"numpy": np.__version__, "python": platform.python_version()}


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
    if problems:
        raise InputError(f"the index was built under incompatible settings: {'; '.join(problems)}; build it "
                         "again with 'aigc-audit index build'", path=file)


def _tokens(items: Sequence[Item], cache: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    tokenizer = ScriptTokenizer()
    per_item = [tokenizer.tokens(item.text or "") for item in items]
    lengths = np.array([len(t) for t in per_item], dtype=np.int64)
    ids = word_hashes((t for tokens in per_item for t in tokens), cache).view(np.int64)
    return ids, lengths


def _write_chunk(chunks: Path, number: int, items: Sequence[Item], shas: Sequence[str],
                 params: IndexParams, cache: dict[str, int]) -> None:
    tmp = chunks / f".tmp-{number:05d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids, lengths = _tokens(items, cache)
    words = [tuple(tokenize(item.text or "")) for item in items]
    sigs = signatures(*shingle_hashes(words, params.shingle_size, cache=cache), num_perm=params.num_perm,
                      seed=params.seed)
    _save(tmp / "tokens.npy", ids)
    _save(tmp / "lengths.npy", lengths)
    _save(tmp / "word_counts.npy", np.array([len(w) for w in words], dtype=np.int64))
    _save(tmp / "signatures.npy", sigs)
    _write_json(tmp / "items.json", [[item.id, sha] for item, sha in zip(items, shas)])
    os.replace(tmp, chunks / f"{number:05d}")  # the chunk exists only once complete


def _chunks(path: Path) -> list[Path]:
    folder = path / "chunks"
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if folder.exists() else []


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
    elif any(path.iterdir()) and not (path / "chunks").exists():
        raise InputError("the folder is not empty and holds no aigc-audit index; pick an empty or new folder",
                         path=path)
    state_file = path / "params.json"
    if state_file.exists() and json.loads(state_file.read_text(encoding="utf-8")) != asdict(params):
        raise InputError(f"an unfinished build here used parameters {state_file.read_text(encoding='utf-8')}"
                         f", not {asdict(params)}; resume it with those, or remove the folder", path=path)
    indexed: dict[str, str] = {}
    for chunk in _chunks(path):
        indexed.update((k, v) for k, v in json.loads((chunk / "items.json").read_text(encoding="utf-8")))
    texts = [r for r in references if r.modality == TEXT]
    shas = [content_sha256(r) for r in texts]
    changed = [r.id for r, sha in zip(texts, shas) if r.id in indexed and indexed[r.id] != sha]
    if changed:
        raise InputError(f"{len(changed)} indexed text(s) changed since they were indexed (first: "
                         f"{changed[0]!r}); build a new index for the changed training set", path=path)
    new = [(r, sha) for r, sha in zip(texts, shas) if r.id not in indexed]
    # From here on the folder changes: it must not load until the manifest is written again.
    (path / MANIFEST).unlink(missing_ok=True)
    _write_json(state_file, asdict(params))
    cache: dict[str, int] = {}
    first = len(_chunks(path))
    starts = range(0, len(new), CHUNK_ITEMS)
    for k, start in enumerate(track(starts, "Index training texts", len(starts))):
        part = new[start:start + CHUNK_ITEMS]
        _write_chunk(path / "chunks", first + k, [r for r, _ in part], [s for _, s in part], params, cache)
    total = _finish(path, params, source, track)
    return UpdateSummary(added=len(new), kept=len(indexed), total=total)


def _finish(path: Path, params: IndexParams, source: str, track: Track) -> int:
    """Join the chunks into the index files, then write the manifest."""
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
    _write_json(path / MANIFEST, {
        "format": INDEX_FORMAT, "version": INDEX_VERSION, "schemes": SCHEMES, "params": asdict(params),
        "versions": _versions(), "reference": source, "items": len(items), "tokens": int(len(tokens)),
    })
    (path / "params.json").unlink(missing_ok=True)
    return len(items)


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
        self._cache: dict[str, int] = {}
        self._checked: object = None

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

    def require(self, evaluator: str, **params: int) -> None:
        """Refuse parameters that differ from those the index was built with."""
        built = asdict(self.params)
        wrong = {k: v for k, v in params.items() if built[k] != v}
        if wrong:
            raise InputError(f"evaluator {evaluator} runs with "
                             f"{', '.join(f'{k}={v}' for k, v in wrong.items())} but the index was built "
                             f"with {', '.join(f'{k}={built[k]}' for k in wrong)}; build an index with "
                             f"those parameters (aigc-audit index build --help)", path=self.path)
