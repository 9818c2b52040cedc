"""The sample-set format: what generators write and evaluators read.

A sample set is a folder with ``manifest.jsonl``, one JSON record per line::

    {"id": "s-0001", "modality": "text", "text": "To be, or not to be",
     "provenance": {"generator": "gpt", "model_sha256": "ab12...", "seed": 0,
                    "params": {"temperature": 0.8}, "created_at": "2026-11-28T12:00:00Z"}}
    {"id": "s-0002", "modality": "image", "path": "images/0002.png", "provenance": {...}}

A reference (training) set has the same form, and every record adds ``source`` and ``license``
so that a finding can name the copied training item and its licence. A reference record may add
``"split": "heldout"`` to mark an item the model was *not* trained on (the default is ``"train"``):
the memorization checks compare the generated samples' distance to the training items with the
held-out items' distance (see ``evaluators.memorization``).

Plain inputs are accepted too: a ``.txt`` (one item per line), a ``.jsonl`` with a ``text`` field
(and optionally ``id``, ``source``, ``license`` and ``"modality": "text"``; any other key is
refused, not dropped), or a
folder of images. Their ids are derived from content, so they are stable across runs.

Every problem that makes a set unreadable raises :class:`InputError` naming file and line. A single
image that cannot be decoded is *not* such a problem: it stays an item, and the evaluator that
opens it reports and counts it.

Hostile input is bounded. Only regular files are read (a FIFO or a device named as an input, a
manifest's file or a file in an image folder is an ``InputError``, found by ``stat`` before
anything is opened); an image folder, like a manifest, refuses symbolic links that leave it. A
JSON line may nest at most :data:`MAX_JSON_DEPTH` levels, holds only finite numbers of at most
4300 digits, and no string in it may hold a lone surrogate (``"\\ud800"``), which no UTF-8 file
can hold. Sizes are limited per item, with limits read from the environment each time a set is
loaded (a missing variable means the default; a value that is not a whole number >= 1 is a
``ConfigError``):

``AIGC_AUDIT_MAX_TEXT_BYTES`` (default 1 MiB)
    The UTF-8 size of one text. A longer text stays an item, without its text, with the reason in
    ``Item.unreadable``; ``item_integrity`` counts it and the set's notes say how many there are.
``AIGC_AUDIT_MAX_LINE_BYTES`` (default 8 MiB)
    One line of a manifest or ``.jsonl``. A longer line cannot be parsed safely: ``InputError``.
    (A ``.txt`` line over the text limit is read in bounded memory and becomes an unreadable item.)
``AIGC_AUDIT_MAX_IMAGE_BYTES`` (default 256 MiB)
    One image file; enforced where the image is opened (:mod:`aigc_audit.images`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aigc_audit.errors import ConfigError, InputError

MANIFEST_NAME = "manifest.jsonl"
# What a plain .jsonl (texts, not a manifest) reads from each line.
PLAIN_JSONL_KEYS = frozenset({"id", "text", "source", "license", "modality"})
TEXT = "text"
IMAGE = "image"
MODALITIES = (TEXT, IMAGE)
SAMPLES = "samples"
REFERENCE = "reference"
ROLES = (SAMPLES, REFERENCE)

RECORD_KEYS = frozenset({"id", "modality", "text", "path", "provenance", "source", "license", "meta",
                         "split"})
# A reference record's ``split``: "train" (the default: the model saw it) or "heldout" (kept out of
# training, so that the memorization checks can compare the model with data it never saw).
TRAIN_SPLIT = "train"
HELDOUT_SPLIT = "heldout"
SPLITS = (TRAIN_SPLIT, HELDOUT_SPLIT)
PROVENANCE_KEYS = frozenset({"generator", "model_sha256", "seed", "params", "prompt", "created_at"})
# Files a folder of images may hold besides images; everything else becomes an item so that a
# stray non-image is reported as unreadable rather than ignored.
IGNORED_NAMES = frozenset({MANIFEST_NAME, "README", "README.md", "LICENSE", "LICENSE.txt"})
_HASH_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"

MAX_TEXT_BYTES_ENV = "AIGC_AUDIT_MAX_TEXT_BYTES"
MAX_LINE_BYTES_ENV = "AIGC_AUDIT_MAX_LINE_BYTES"
MAX_IMAGE_BYTES_ENV = "AIGC_AUDIT_MAX_IMAGE_BYTES"
DEFAULT_MAX_TEXT_BYTES = 1 << 20
DEFAULT_MAX_LINE_BYTES = 8 << 20
# A 64-megapixel image (aigc_audit.images.MAX_PIXELS) as 8-bit RGBA stored uncompressed, and a header.
DEFAULT_MAX_IMAGE_BYTES = 256 << 20
# Deeper than any real record; far below what would exhaust the recursion of json.dumps later.
MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


@dataclass(frozen=True)
class Item:
    """One generated or reference item. ``path`` is absolute; ``origin`` is ``file:line``.

    ``unreadable`` says why an item that is in the set cannot be evaluated (a text over the size
    limit, say); such a text item has no ``text``, and ``sha256`` keeps its content's hash so that
    reviewers' decisions still match it.
    """

    id: str
    modality: str
    text: str | None = None
    path: Path | None = None
    provenance: Mapping[str, Any] | None = None
    source: str | None = None
    license: str | None = None
    origin: str = ""
    meta: Mapping[str, Any] | None = None
    unreadable: str | None = None
    sha256: str | None = None
    split: str = TRAIN_SPLIT


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
    # of_modality's answers: the items never change, and a service asks the same question of a
    # training set of 100,000 items on every request (a scan: 6 ms of CPU on the busy machine).
    _selections: dict[tuple[str, str | None], tuple[Item, ...]] = field(default_factory=dict, repr=False,
                                                                        compare=False)

    def __post_init__(self) -> None:
        self._index.update((item.id, item) for item in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def get(self, item_id: str) -> Item | None:
        return self._index.get(item_id)

    def of_modality(self, modality: str, split: str | None = None) -> list[Item]:
        """Items of ``modality``; with ``split``, only those of that split ("train", "heldout"). A new
        list each call, so a caller may change it."""
        return list(self.items_of(modality, split))

    def items_of(self, modality: str, split: str | None = None) -> tuple[Item, ...]:
        """:meth:`of_modality` without the copy, for a caller that only reads: a service's copy rule
        reads the 100,000 texts of its training set on every request, and copying them into a new
        list cost more than the rest of the rule's lookup (0.5 to 1.2 ms of CPU a request)."""
        selected = self._selections.get((modality, split))
        if selected is None:
            selected = tuple(item for item in self.items
                             if item.modality == modality and (split is None or item.split == split))
            self._selections[(modality, split)] = selected
        return selected


def content_id(data: bytes, prefix: str) -> str:
    """A stable id from content: the same text or file always gets the same id."""
    return f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}"


def content_sha256(item: Item) -> str:
    """What a decision is about: the SHA-256 of an item's text, or of its image file's bytes."""
    if item.text is not None:
        return hashlib.sha256(item.text.encode("utf-8")).hexdigest()
    if item.sha256 is not None:
        return item.sha256
    if item.path is not None:
        return sha256_file(item.path)
    raise InputError(f"item {item.id!r} has neither text nor a file")


# -- limits and safe opening -------------------------------------------------------------------------
def limit_from_env(name: str, default: int) -> int:
    """The whole number of bytes >= 1 that environment variable ``name`` holds, else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a whole number of bytes >= 1; got {raw[:40]!r} (unset it for "
                          f"the default, {default})")
    return value


@dataclass(frozen=True)
class Limits:
    """The size limits for one load, as the environment sets them (see the module's docstring)."""

    text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    line_bytes: int = DEFAULT_MAX_LINE_BYTES
    # Enforced where an image is opened (aigc_audit.images); read here too, so that a bad value
    # stops the load instead of the first image.
    image_bytes: int = DEFAULT_MAX_IMAGE_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        return cls(limit_from_env(MAX_TEXT_BYTES_ENV, DEFAULT_MAX_TEXT_BYTES),
                   limit_from_env(MAX_LINE_BYTES_ENV, DEFAULT_MAX_LINE_BYTES),
                   limit_from_env(MAX_IMAGE_BYTES_ENV, DEFAULT_MAX_IMAGE_BYTES))

    def text_too_long(self, size: int) -> str:
        return (f"text of {size} bytes exceeds the limit of {self.text_bytes} bytes per text item "
                f"(set {MAX_TEXT_BYTES_ENV} to change it)")


def file_kind(mode: int) -> str | None:
    """What a file of ``st_mode`` ``mode`` is when it is not a regular file ("a FIFO (named pipe)");
    None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _FILE_KINDS if test(mode)), "a special file")


class NotRegularFile(OSError):
    """Raised by :func:`open_regular` for a folder, FIFO, device or socket; ``kind`` names it."""

    def __init__(self, path: str | Path, kind: str):
        super().__init__(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename} {self.strerror}"


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading bytes, if it is a regular file.

    ``stat`` decides before anything is opened (opening a FIFO waits for a writer forever, a
    device never ends); the descriptor is opened without blocking and checked again, so a file
    swapped for a FIFO in between is refused too.
    """
    fd = _regular_descriptor(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _regular_descriptor(path: str | Path) -> int:
    """The descriptor of :func:`open_regular`, in blocking mode, for the caller to close."""
    kind = file_kind(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegularFile(path, kind)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                 | getattr(os, "O_BINARY", 0))
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: str | Path) -> str:
    # Plain reads of the descriptor, without a buffered file object: a third of the time on
    # small files (an index's check of 100,000 training images of a few KiB).
    digest = hashlib.sha256()
    fd = _regular_descriptor(path)
    try:
        while chunk := os.read(fd, _HASH_CHUNK):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _reason(error: BaseException) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error) or type(error).__name__


def _unreadable_input(path: Path, error: OSError, *, line: int | None = None) -> InputError:
    if isinstance(error, FileNotFoundError):
        return InputError("not found", path=path, line=line)
    if isinstance(error, NotRegularFile):
        return InputError(f"is {error.kind}, not a regular file; pass a regular file", path=path, line=line)
    return InputError(f"cannot be read: {_reason(error)}", path=path, line=line)


def load_sample_set(path: str | Path, *, role: str = SAMPLES) -> SampleSet:
    """Read a sample or reference set from a manifest folder, ``.txt``, ``.jsonl`` or image folder."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}; got {role!r}")
    limits = Limits.from_env()
    path = Path(path)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as error:
        raise InputError(f"{role} set cannot be read: {_reason(error)}", path=path) from None
    if not exists:
        raise InputError(f"{role} set not found; pass a folder with {MANIFEST_NAME}, a .txt, a .jsonl "
                         "or a folder of images", path=path)
    notes: list[str] = []
    if is_dir:
        manifest = path / MANIFEST_NAME
        if os.path.lexists(manifest):
            items, digest = _read_manifest(manifest, role, limits)
            kind = "manifest"
        else:
            items, digest = _read_image_folder(path)
            kind = "images"
    elif path.suffix.lower() == ".txt":
        items, digest, notes = _read_txt(path, limits)
        kind = "txt"
    elif path.suffix.lower() == ".jsonl":
        items, digest = _read_plain_jsonl(path, limits)
        kind = "jsonl"
    else:
        raise InputError(f"unsupported {role} input {path.suffix or 'without extension'!r}; expected a "
                         f"folder with {MANIFEST_NAME}, a .txt, a .jsonl or a folder of images", path=path)
    if not items:
        raise InputError(f"{role} set is empty: it holds no items", path=path)
    unreadable = sum(1 for item in items if item.unreadable is not None)
    if unreadable:
        notes.append(f"{unreadable} item(s) exceed a size limit and cannot be read (see "
                     f"{MAX_TEXT_BYTES_ENV}); item_integrity counts them")
    return SampleSet(path=path, kind=kind, role=role, items=tuple(items), sha256=digest, notes=tuple(notes))


# -- lines ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Line:
    """One line without its end (``\\n`` or ``\\r\\n``). ``data`` is None for a line longer than the
    reader keeps; ``size`` is then its length, and ``sha256`` its hash, when the reader measured it."""

    number: int
    data: bytes | None
    size: int
    sha256: str | None = None


class _LineReader:
    """Reads a regular file line by line in bounded memory, hashing every byte into ``digest``.

    A line longer than ``keep`` bytes is not kept: with ``measure`` it is read on in chunks, hashed
    and measured; without, the reader stops there (the caller refuses the file anyway).
    """

    def __init__(self, path: Path, keep: int, *, measure: bool, digest: Any = None):
        self.path, self.keep, self.measure = path, keep, measure
        self.digest = hashlib.sha256() if digest is None else digest

    def __iter__(self) -> Iterator[_Line]:
        try:
            handle = open_regular(self.path)
        except OSError as error:
            raise _unreadable_input(self.path, error) from None
        with handle:
            try:
                yield from self._lines(handle)
            except OSError as error:  # a read that fails half way (an I/O error, a vanished mount)
                raise _unreadable_input(self.path, error) from None

    def _lines(self, handle: BinaryIO) -> Iterator[_Line]:
        limit = self.keep + len(_BOM) + 2  # room for a byte-order mark and "\r\n"
        number = 0
        while raw := handle.readline(limit):
            self.digest.update(raw)
            number += 1
            complete = raw.endswith(b"\n") or len(raw) < limit
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if complete:
                data = raw.removesuffix(b"\n").removesuffix(b"\r")
                if len(data) <= self.keep:
                    yield _Line(number, data, len(data))
                else:
                    yield _Line(number, None, len(data), hashlib.sha256(data).hexdigest())
            elif self.measure:
                yield self._measure(number, raw, handle)
            else:
                yield _Line(number, None, len(raw))
                return

    def _measure(self, number: int, chunk: bytes, handle: BinaryIO) -> _Line:
        """Hash and measure the rest of an overlong line, holding back a final "\\r"."""
        line, size, held = hashlib.sha256(), 0, b""
        while True:
            if chunk.endswith(b"\n") or not chunk:
                body, done = (held + chunk.removesuffix(b"\n")).removesuffix(b"\r"), True
            else:
                body, done = held + chunk, False
                held = body[-1:] if body.endswith(b"\r") else b""
                body = body[:len(body) - len(held)]
            line.update(body)
            size += len(body)
            if done:
                return _Line(number, None, size, line.hexdigest())
            chunk = handle.readline(_HASH_CHUNK)
            self.digest.update(chunk)


def _decoded(path: Path, line: _Line) -> str:
    """The line's text; invalid UTF-8 is an error naming the line."""
    try:
        return line.data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"invalid UTF-8 at byte {error.start} of the line; re-encode the file as "
                         "UTF-8", path=path, line=line.number) from None


class _IdRegistry:
    """Refuses duplicate ids in manifests; numbers repeated content in plain inputs."""

    def __init__(self, path: Path):
        self.path = path
        self.seen: dict[str, int] = {}
        self.last: dict[str, int] = {}  # per base, the number it last got: no rescan from 1

    def claim(self, item_id: str, line: int) -> None:
        if item_id in self.seen:
            raise InputError(f"duplicate id {item_id!r} (first used on line {self.seen[item_id]}); "
                             "ids must be unique within a set", path=self.path, line=line)
        self.seen[item_id] = line

    def derive(self, base: str, line: int) -> str:
        n = self.last.get(base, 1)
        item_id = base if n == 1 else f"{base}~{n}"
        while item_id in self.seen:
            n += 1
            item_id = f"{base}~{n}"
        self.seen[item_id] = line
        self.last[base] = n
        return item_id


def _read_txt(path: Path, limits: Limits) -> tuple[list[Item], str, list[str]]:
    items, ids, blank = [], _IdRegistry(path), 0
    reader = _LineReader(path, limits.text_bytes, measure=True)
    for line in reader:
        where = dict(source=f"{path.name}:{line.number}", origin=f"{path}:{line.number}")
        if line.data is None:
            item_id = ids.derive(f"t-{line.sha256[:16]}", line.number)
            items.append(Item(id=item_id, modality=TEXT, unreadable=limits.text_too_long(line.size),
                              sha256=line.sha256, **where))
            continue
        text = _decoded(path, line)
        if not text.strip():
            blank += 1
            continue
        item_id = ids.derive(content_id(line.data, "t"), line.number)
        items.append(Item(id=item_id, modality=TEXT, text=text, **where))
    notes = [f"{blank} blank line(s) are not items"] if blank and items else []
    return items, reader.digest.hexdigest(), notes


# -- JSON lines ----------------------------------------------------------------------------------------
class _NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _refuse_constant(text: str) -> float:
    raise _NotFinite(text)


def _tree_problem(value: Any, level: int) -> str | None:
    """Why a parsed JSON value held by a container at depth ``level`` cannot be accepted: it nests
    deeper than :data:`MAX_JSON_DEPTH`, or a string in it (a key too) holds a lone surrogate."""
    stack = [(value, level)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, str):
            found = _SURROGATE.search(node)
            if found:
                return (f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not valid "
                        "Unicode; write the character itself or a complete surrogate pair")
        elif isinstance(node, dict | list):
            if level + 1 > MAX_JSON_DEPTH:
                return "nested"
            if isinstance(node, dict):
                stack.extend((key, level + 1) for key in node)
                stack.extend((child, level + 1) for child in node.values())
            else:
                stack.extend((child, level + 1) for child in node)
    return None


def _parse_json_line(path: Path, number: int, text: str) -> dict[str, Any]:
    nested = f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)"
    try:
        record = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg} at column {error.colno})", path=path,
                         line=number) from None
    except RecursionError:
        raise InputError(nested, path=path, line=number) from None
    except _NotFinite as error:
        raise InputError(f"{str(error)[:40]} is not a finite number; JSON numbers must be finite",
                         path=path, line=number) from None
    except ValueError:  # an integer longer than int() reads (sys.get_int_max_str_digits())
        raise InputError(f"a number in the JSON is too large (more than {sys.get_int_max_str_digits()} "
                         "digits); write it as a string", path=path, line=number) from None
    if not isinstance(record, dict):
        raise InputError(f"each line must be a JSON object; got {type(record).__name__}", path=path,
                         line=number)
    for key, value in record.items():
        key_problem = _tree_problem(key, 1)
        if key_problem is not None:
            raise InputError(f"a key {key_problem}", path=path, line=number)
        problem = _tree_problem(value, 1)
        if problem == "nested":
            raise InputError(nested, path=path, line=number)
        if problem is not None:
            raise InputError(f"field {key!r} {problem}", path=path, line=number)
    return record


def _json_lines(path: Path, limits: Limits, digest: Any = None) -> Iterator[tuple[int, dict[str, Any]]]:
    for line in _LineReader(path, limits.line_bytes, measure=False, digest=digest):
        if line.data is None:
            raise InputError(f"line of more than {limits.line_bytes} bytes; one record may hold at most "
                             f"{limits.line_bytes} (set {MAX_LINE_BYTES_ENV} to change it)", path=path,
                             line=line.number)
        text = _decoded(path, line)
        if text.strip():
            yield line.number, _parse_json_line(path, line.number, text)


def _optional_str(record: Mapping[str, Any], key: str, path: Path, line: int) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{key!r} must be a string; got {type(value).__name__}", path=path, line=line)
    return value


def _sized_text(text: str, limits: Limits) -> dict[str, Any]:
    """``Item`` fields for ``text``: the text itself, or, over the limit, why not and its hash."""
    if len(text) * 4 <= limits.text_bytes:  # UTF-8 takes at most 4 bytes a character
        return {"text": text}
    encoded = text.encode("utf-8")
    if len(encoded) <= limits.text_bytes:
        return {"text": text}
    return {"text": None, "unreadable": limits.text_too_long(len(encoded)),
            "sha256": hashlib.sha256(encoded).hexdigest()}


def _first(names: list[str], shown: int = 5) -> str:
    """The first few of ``names`` for a message, and how many more (a line may hold thousands)."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{[_clip_name(n) for n in names[:shown]]}{more}"


def _clip_name(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else name[:limit] + "..."


def _read_plain_jsonl(path: Path, limits: Limits) -> tuple[list[Item], str]:
    items, ids, digest = [], _IdRegistry(path), hashlib.sha256()
    for number, record in _json_lines(path, limits, digest):
        text = record.get("text")
        if not isinstance(text, str):
            raise InputError("each record needs a string 'text' field"
                             + ("" if "text" not in record else f"; got {type(text).__name__}"),
                             path=path, line=number)
        # A key this format does not read would be dropped without a word: a "split" that marks
        # held-out text, say, would leave it in training. It is refused, as in a manifest.
        unknown = sorted(set(record) - PLAIN_JSONL_KEYS)
        if unknown:
            manifest_only = ", ".join(sorted(RECORD_KEYS - PLAIN_JSONL_KEYS))
            raise InputError(f"unknown key(s) {_first(unknown)}; a plain .jsonl takes "
                             f"{sorted(PLAIN_JSONL_KEYS)} (for {manifest_only} write a folder with "
                             f"{MANIFEST_NAME})", path=path, line=number)
        if record.get("modality", TEXT) != TEXT:
            modality = _clip_name(str(record["modality"]))
            raise InputError(f"a plain .jsonl holds texts; got 'modality' {modality!r} (write a folder "
                             f"with {MANIFEST_NAME} for images)", path=path, line=number)
        given = _optional_str(record, "id", path, number)
        if given is not None:
            ids.claim(given, number)
            item_id = given
        else:
            item_id = ids.derive(content_id(text.encode(), "t"), number)
        items.append(Item(id=item_id, modality=TEXT, **_sized_text(text, limits),
                          source=_optional_str(record, "source", path, number) or f"{path.name}:{number}",
                          license=_optional_str(record, "license", path, number),
                          origin=f"{path}:{number}"))
    return items, digest.hexdigest()


# -- files: image folders and the files a manifest names -------------------------------------------------
def _folder_file(entry: Path, root: Path) -> Path:
    """``entry`` if it is, or links to, a regular file inside ``root``; else an ``InputError``."""
    try:
        mode = entry.lstat().st_mode
        if stat.S_ISLNK(mode):
            target = _link_inside(entry, root)
            try:
                mode = entry.stat().st_mode
            except FileNotFoundError:
                raise InputError(f"broken symbolic link (to {target})", path=entry) from None
    except OSError as error:
        raise InputError(f"cannot be read: {_reason(error)}", path=entry) from None
    kind = file_kind(mode)
    if kind is not None:
        raise InputError(f"is {kind}, not a regular file; remove it from the image folder", path=entry)
    return entry


def _image_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` but hidden ones and :data:`IGNORED_NAMES`. Links are followed
    only to files inside the folder, the same rule as for a manifest's paths; a link to a folder
    inside is not walked (its files are found where they are)."""
    root = folder.resolve()

    def refuse(error: OSError) -> None:
        raise InputError(f"cannot be read: {_reason(error)}", path=error.filename or folder)

    found = []
    for directory, folders, names in os.walk(folder, onerror=refuse):
        here = Path(directory)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in [name for name in folders if (here / name).is_symlink()]:
            _link_inside(here / name, root)
            folders.remove(name)
        found += [_folder_file(here / name, root) for name in names
                  if not name.startswith(".") and name not in IGNORED_NAMES]
    return sorted(found)


def _file_sha256(file: Path, *, path: Path, line: int | None = None) -> str:
    try:
        return sha256_file(file)
    except OSError as error:  # replaced since it was checked
        raise _unreadable_input(path, error, line=line) from None


def _link_inside(entry: Path, root: Path) -> Path:
    """Where the link ``entry`` points, if that is inside ``root``; else an ``InputError``."""
    try:
        target = entry.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a loop of links (Python < 3.13)
        raise InputError(f"cannot be read: {_reason(error)}", path=entry) from None
    if not target.is_relative_to(root):
        raise InputError(f"symbolic link points outside the image folder (to {target}); copy what it "
                         "links to into the folder instead", path=entry)
    return target


def _read_image_folder(folder: Path) -> tuple[list[Item], str]:
    items, ids, digest = [], _IdRegistry(folder), hashlib.sha256()
    for number, file in enumerate(_image_files(folder), start=1):
        relative = file.relative_to(folder).as_posix()
        if _SURROGATE.search(relative):  # bytes that are not UTF-8, decoded by os.fsdecode
            raise InputError(f"file name {relative!r} is not valid UTF-8; rename the file", path=folder)
        file_sha = _file_sha256(file, path=file)
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
    try:
        root = base.resolve()
        resolved = (root / candidate).resolve()
    except (OSError, ValueError, RuntimeError) as error:  # a NUL byte, a loop of links
        raise InputError(f"path {relative!r} cannot be resolved: {_reason(error)}", path=manifest,
                         line=line) from None
    if not resolved.is_relative_to(root):
        raise InputError(f"path {relative!r} escapes the set's folder {root}; keep files inside it",
                         path=manifest, line=line)
    return resolved


def _manifest_file(base: Path, relative: str, *, manifest: Path, line: int) -> Path:
    """The regular file inside ``base`` that a manifest's ``path`` names."""
    resolved = resolve_inside(base, relative, manifest=manifest, line=line)
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"file {relative!r} not found in {base}", path=manifest, line=line) from None
    except (OSError, ValueError) as error:
        raise InputError(f"file {relative!r} cannot be read: {_reason(error)}", path=manifest,
                         line=line) from None
    kind = file_kind(mode)
    if kind is not None:
        raise InputError(f"file {relative!r} is {kind}, not a regular file", path=manifest, line=line)
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


def _read_manifest(manifest: Path, role: str, limits: Limits) -> tuple[list[Item], str]:
    base, items, ids, digest = manifest.parent, [], _IdRegistry(manifest), hashlib.sha256()
    files: list[str] = []  # hashed after the manifest's own bytes
    for number, record in _json_lines(manifest, limits, digest):
        unknown = sorted(set(record) - RECORD_KEYS)
        if unknown:
            raise InputError(f"unknown key(s) {_first(unknown)}; valid keys are {sorted(RECORD_KEYS)}",
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
        sized: dict[str, Any] = {"text": None}
        if modality == TEXT:
            if not isinstance(text, str):
                raise InputError("a text record needs a string 'text'", path=manifest, line=number)
            if "path" in record:
                raise InputError("a text record takes 'text', not 'path'", path=manifest, line=number)
            sized = _sized_text(text, limits)
        else:
            if "text" in record:
                raise InputError("an image record takes 'path', not 'text'", path=manifest, line=number)
            relative = record.get("path")
            if not isinstance(relative, str) or not relative:
                raise InputError("an image record needs a string 'path' relative to the manifest",
                                 path=manifest, line=number)
            image_path = _manifest_file(base, relative, manifest=manifest, line=number)
            files.append(f"{relative}\0{_file_sha256(image_path, path=manifest, line=number)}\n")
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
        split = record.get("split", TRAIN_SPLIT)
        if split not in SPLITS:
            raise InputError(f"'split' must be one of {list(SPLITS)}; got {split!r}", path=manifest,
                             line=number)
        items.append(Item(id=item_id, modality=modality, path=image_path,
                          provenance=provenance, source=source, license=license_,
                          origin=f"{manifest}:{number}", meta=meta, split=split, **sized))
    for entry in files:
        digest.update(entry.encode())
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
