"""The sample-set format: what generators write and evaluators read.

A sample set is a folder with ``manifest.jsonl``, one JSON record per line::

    {"id": "s-0001", "modality": "text", "text": "To be, or not to be",
     "provenance": {"generator": "gpt", "model_sha256": "ab12...", "seed": 0,
                    "params": {"temperature": 0.8}, "created_at": "2026-11-28T12:00:00Z"}}
    {"id": "s-0002", "modality": "image", "path": "images/0002.png", "provenance": {...}}

A reference (training) set has the same form, and every record adds ``source`` and ``license``
so that a finding can name the copied training item and its licence.

Plain inputs are accepted too: a ``.txt`` (one item per line), a ``.jsonl`` with a ``text`` field,
or a folder of images. Their ids are derived from content, so they are stable across runs.

Every problem that makes a set unreadable raises :class:`InputError` naming file and line. A single
image that cannot be decoded is *not* such a problem: it stays an item, and the evaluator that
opens it reports and counts it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_audit.errors import InputError

MANIFEST_NAME = "manifest.jsonl"
TEXT = "text"
IMAGE = "image"
MODALITIES = (TEXT, IMAGE)
SAMPLES = "samples"
REFERENCE = "reference"
ROLES = (SAMPLES, REFERENCE)

RECORD_KEYS = frozenset({"id", "modality", "text", "path", "provenance", "source", "license", "meta"})
PROVENANCE_KEYS = frozenset({"generator", "model_sha256", "seed", "params", "prompt", "created_at"})
# Files a folder of images may hold besides images; everything else becomes an item so that a
# stray non-image is reported as unreadable rather than ignored.
IGNORED_NAMES = frozenset({MANIFEST_NAME, "README", "README.md", "LICENSE", "LICENSE.txt"})
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Item:
    """One generated or reference item. ``path`` is absolute; ``origin`` is ``file:line``."""

    id: str
    modality: str
    text: str | None = None
    path: Path | None = None
    provenance: Mapping[str, Any] | None = None
    source: str | None = None
    license: str | None = None
    origin: str = ""
    meta: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SampleSet:
    """A loaded, validated set of items, with the sha256 of everything it was read from."""

    path: Path
    kind: str
    role: str
    items: tuple[Item, ...]
    sha256: str
    notes: tuple[str, ...] = ()
    _index: dict[str, Item] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update((item.id, item) for item in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def get(self, item_id: str) -> Item | None:
        return self._index.get(item_id)

    def of_modality(self, modality: str) -> list[Item]:
        return [item for item in self.items if item.modality == modality]

    def describe(self) -> dict[str, Any]:
        counts = {m: sum(1 for i in self.items if i.modality == m) for m in MODALITIES}
        return {
            "path": str(self.path),
            "kind": self.kind,
            "role": self.role,
            "sha256": self.sha256,
            "items": len(self.items),
            "by_modality": {m: n for m, n in counts.items() if n},
            "notes": list(self.notes),
        }


def content_id(data: bytes, prefix: str) -> str:
    """A stable id from content: the same text or file always gets the same id."""
    return f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}"


def content_sha256(item: Item) -> str:
    """What a decision is about: the SHA-256 of an item's text, or of its image file's bytes."""
    if item.text is not None:
        return hashlib.sha256(item.text.encode("utf-8")).hexdigest()
    if item.path is not None:
        return sha256_file(item.path)
    raise InputError(f"item {item.id!r} has neither text nor a file")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_sample_set(path: str | Path, *, role: str = SAMPLES) -> SampleSet:
    """Read a sample or reference set from a manifest folder, ``.txt``, ``.jsonl`` or image folder."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}; got {role!r}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{role} set not found; pass a folder with {MANIFEST_NAME}, a .txt, a .jsonl "
                         "or a folder of images", path=path)
    if path.is_dir():
        manifest = path / MANIFEST_NAME
        if manifest.is_file():
            items, digest = _read_manifest(manifest, role)
            kind, notes = "manifest", ()
        else:
            items, digest = _read_image_folder(path)
            kind, notes = "images", ()
    elif path.suffix.lower() == ".txt":
        items, digest, notes = _read_txt(path)
        kind = "txt"
    elif path.suffix.lower() == ".jsonl":
        items, digest, notes = _read_plain_jsonl(path)
        kind = "jsonl"
    else:
        raise InputError(f"unsupported {role} input {path.suffix or 'without extension'!r}; expected a "
                         f"folder with {MANIFEST_NAME}, a .txt, a .jsonl or a folder of images", path=path)
    if not items:
        raise InputError(f"{role} set is empty: it holds no items", path=path)
    return SampleSet(path=path, kind=kind, role=role, items=tuple(items), sha256=digest, notes=tuple(notes))


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)``; invalid UTF-8 is an error naming the line."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line does not start another
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"invalid UTF-8 at byte {error.start} of the line; re-encode the file as "
                             "UTF-8", path=path, line=number) from None
        yield number, text.removesuffix("\r")


class _IdRegistry:
    """Refuses duplicate ids in manifests; numbers repeated content in plain inputs."""

    def __init__(self, path: Path):
        self.path = path
        self.seen: dict[str, int] = {}

    def claim(self, item_id: str, line: int) -> None:
        if item_id in self.seen:
            raise InputError(f"duplicate id {item_id!r} (first used on line {self.seen[item_id]}); "
                             "ids must be unique within a set", path=self.path, line=line)
        self.seen[item_id] = line

    def derive(self, base: str, line: int) -> str:
        item_id, n = base, 1
        while item_id in self.seen:
            n += 1
            item_id = f"{base}~{n}"
        self.seen[item_id] = line
        return item_id


def _read_txt(path: Path) -> tuple[list[Item], str, list[str]]:
    items, ids, blank = [], _IdRegistry(path), 0
    for number, text in _decoded_lines(path):
        if not text.strip():
            blank += 1
            continue
        item_id = ids.derive(content_id(text.encode(), "t"), number)
        items.append(Item(id=item_id, modality=TEXT, text=text, source=f"{path.name}:{number}",
                          origin=f"{path}:{number}"))
    notes = [f"{blank} blank line(s) are not items"] if blank and items else []
    return items, sha256_file(path), notes


def _parse_json_line(path: Path, number: int, text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg} at column {error.colno})", path=path,
                         line=number) from None
    if not isinstance(record, dict):
        raise InputError(f"each line must be a JSON object; got {type(record).__name__}", path=path,
                         line=number)
    return record


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in _decoded_lines(path):
        if text.strip():
            yield number, _parse_json_line(path, number, text)


def _optional_str(record: Mapping[str, Any], key: str, path: Path, line: int) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{key!r} must be a string; got {type(value).__name__}", path=path, line=line)
    return value


def _read_plain_jsonl(path: Path) -> tuple[list[Item], str, list[str]]:
    items, ids = [], _IdRegistry(path)
    for number, record in _json_lines(path):
        text = record.get("text")
        if not isinstance(text, str):
            raise InputError("each record needs a string 'text' field"
                             + ("" if "text" not in record else f"; got {type(text).__name__}"),
                             path=path, line=number)
        given = _optional_str(record, "id", path, number)
        if given is not None:
            ids.claim(given, number)
            item_id = given
        else:
            item_id = ids.derive(content_id(text.encode(), "t"), number)
        items.append(Item(id=item_id, modality=TEXT, text=text,
                          source=_optional_str(record, "source", path, number) or f"{path.name}:{number}",
                          license=_optional_str(record, "license", path, number),
                          origin=f"{path}:{number}"))
    return items, sha256_file(path), []


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                  and p.name not in IGNORED_NAMES)


def _read_image_folder(folder: Path) -> tuple[list[Item], str]:
    items, ids, digest = [], _IdRegistry(folder), hashlib.sha256()
    for number, file in enumerate(_image_files(folder), start=1):
        file_sha = sha256_file(file)
        relative = file.relative_to(folder).as_posix()
        digest.update(f"{relative}\0{file_sha}\n".encode())
        item_id = ids.derive(f"i-{file_sha[:16]}", number)
        items.append(Item(id=item_id, modality=IMAGE, path=file.resolve(), source=relative,
                          origin=str(file)))
    return items, digest.hexdigest()


def resolve_inside(base: Path, relative: str, *, manifest: Path, line: int) -> Path:
    """Resolve ``relative`` against ``base``, refusing absolute paths and escapes from ``base``."""
    candidate = Path(relative)
    if candidate.is_absolute():
        raise InputError(f"path {relative!r} is absolute; paths must be relative to the set's folder",
                         path=manifest, line=line)
    root = base.resolve()
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise InputError(f"path {relative!r} escapes the set's folder {root}; keep files inside it",
                         path=manifest, line=line)
    return resolved


def _check_provenance(value: Any, manifest: Path, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"'provenance' must be an object; got {type(value).__name__}", path=manifest,
                         line=line)
    unknown = sorted(set(value) - PROVENANCE_KEYS)
    if unknown:
        raise InputError(f"unknown provenance key(s) {unknown}; valid keys are {sorted(PROVENANCE_KEYS)} "
                         "(put sampling parameters under 'params')", path=manifest, line=line)
    if not isinstance(value.get("generator"), str):
        raise InputError("provenance needs a string 'generator'", path=manifest, line=line)
    if "params" in value and not isinstance(value["params"], dict):
        raise InputError("provenance 'params' must be an object", path=manifest, line=line)
    seed = value.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InputError(f"provenance 'seed' must be an integer; got {seed!r}", path=manifest, line=line)
    return value


def _read_manifest(manifest: Path, role: str) -> tuple[list[Item], str]:
    base, items, ids, digest = manifest.parent, [], _IdRegistry(manifest), hashlib.sha256()
    digest.update(manifest.read_bytes())
    for number, record in _json_lines(manifest):
        unknown = sorted(set(record) - RECORD_KEYS)
        if unknown:
            raise InputError(f"unknown key(s) {unknown}; valid keys are {sorted(RECORD_KEYS)}",
                             path=manifest, line=number)
        item_id = record.get("id")
        if not isinstance(item_id, str) or not item_id.strip():
            raise InputError("each record needs a non-empty string 'id'", path=manifest, line=number)
        ids.claim(item_id, number)
        modality = record.get("modality")
        if modality not in MODALITIES:
            raise InputError(f"'modality' must be one of {list(MODALITIES)}; got {modality!r}",
                             path=manifest, line=number)
        text, image_path = record.get("text"), None
        if modality == TEXT:
            if not isinstance(text, str):
                raise InputError("a text record needs a string 'text'", path=manifest, line=number)
            if "path" in record:
                raise InputError("a text record takes 'text', not 'path'", path=manifest, line=number)
        else:
            if "text" in record:
                raise InputError("an image record takes 'path', not 'text'", path=manifest, line=number)
            relative = record.get("path")
            if not isinstance(relative, str) or not relative:
                raise InputError("an image record needs a string 'path' relative to the manifest",
                                 path=manifest, line=number)
            image_path = resolve_inside(base, relative, manifest=manifest, line=number)
            if not image_path.is_file():
                raise InputError(f"file {relative!r} not found in {base}", path=manifest, line=number)
            digest.update(f"{relative}\0{sha256_file(image_path)}\n".encode())
        provenance = record.get("provenance")
        if provenance is not None:
            provenance = _check_provenance(provenance, manifest, number)
        source = _optional_str(record, "source", manifest, number)
        license_ = _optional_str(record, "license", manifest, number)
        if role == REFERENCE and (source is None or license_ is None):
            raise InputError("a reference record needs 'source' and 'license' so that findings can "
                             "name the copied item and its licence", path=manifest, line=number)
        meta = record.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise InputError("'meta' must be an object", path=manifest, line=number)
        items.append(Item(id=item_id, modality=modality, text=text, path=image_path,
                          provenance=provenance, source=source, license=license_,
                          origin=f"{manifest}:{number}", meta=meta))
    return items, digest.hexdigest()


def text_set(texts: Iterable[str], *, role: str = SAMPLES, prefix: str = "t",
             license: str | None = None) -> SampleSet:
    """An in-memory set of texts (ids ``{prefix}-0``, ``{prefix}-1``, ...), for library use,
    tests and benchmarks; each item's source names its position."""
    items = tuple(Item(id=f"{prefix}-{i}", modality=TEXT, text=text, source=f"{prefix} #{i}",
                       license=license) for i, text in enumerate(texts))
    if not items:
        raise InputError(f"{role} set is empty: it holds no items")
    return SampleSet(path=Path(f"<{prefix}>"), kind="memory", role=role, items=items,
                     sha256=hashlib.sha256("\0".join(i.text for i in items).encode()).hexdigest())


def write_manifest(folder: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``records`` as ``folder/manifest.jsonl`` (images must already be in ``folder``).

    The written set is read back with :func:`load_sample_set` (as a reference set when every
    record names its source and licence), so a generator can never produce a set that the audit
    would refuse.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST_NAME
    records = list(records)
    with open(manifest, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    is_reference = bool(records) and all("source" in r and "license" in r for r in records)
    load_sample_set(folder, role=REFERENCE if is_reference else SAMPLES)
    return manifest
