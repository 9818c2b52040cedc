"""Labelled texts for training and calibration: a CSV with columns ``text`` and ``category``.

``category`` is a taxonomy code or name (``S10``, ``hate``, ``profanity``), several separated by
``;`` for a text that is more than one thing, or ``none`` for a benign text. An optional ``id``
column is kept for messages. Every problem names the file and line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aigc_audit.errors import InputError
from aigc_audit.evaluators.harm.taxonomy import CATEGORY_CODES, NONE, category

REQUIRED_COLUMNS = ("text", "category")
OPTIONAL_COLUMNS = ("id",)
# Far above any real text; csv's own default (128 KiB) would refuse long generated texts.
MAX_FIELD = 10_000_000


@dataclass(frozen=True)
class LabelledText:
    text: str
    categories: frozenset[str]
    line: int
    id: str = ""


def read_labels(path: str | Path) -> list[LabelledText]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("labels file not found; pass a CSV with columns text,category", path=path) from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"invalid UTF-8 at byte {error.start}; re-encode the file as UTF-8",
                         path=path) from None
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD))
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        raise InputError(f"the header must name columns {list(REQUIRED_COLUMNS)} (and optionally "
                         f"{list(OPTIONAL_COLUMNS)}); got {header}", path=path, line=1)
    rows = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise InputError(f"expected {len(header)} fields", path=path, line=line)
            text = row["text"]
            if not text.strip():
                raise InputError("empty text; remove the row or give it a text", path=path, line=line)
            rows.append(LabelledText(text, _categories(row["category"], path, line), line,
                                     (row.get("id") or "").strip()))
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", path=path, line=reader.line_num) from None
    if not rows:
        raise InputError("the labels file holds no rows", path=path)
    return rows


def _categories(cell: str, path: Path, line: int) -> frozenset[str]:
    parts = [p.strip() for p in cell.split(";") if p.strip()]
    if not parts:
        raise InputError(f"empty category; use a category of {list(CATEGORY_CODES)} or '{NONE}' for a "
                         "benign text", path=path, line=line)
    codes = set()
    for part in parts:
        if part.lower() == NONE:
            continue
        try:
            codes.add(category(part))
        except ValueError as error:
            raise InputError(str(error), path=path, line=line) from None
    if codes and any(p.lower() == NONE for p in parts):
        raise InputError(f"category {cell!r} is both '{NONE}' and a harm; pick one", path=path, line=line)
    return frozenset(codes)


def present_categories(rows: Sequence[LabelledText]) -> tuple[str, ...]:
    """The categories labelled at least once, in taxonomy order."""
    seen = {code for row in rows for code in row.categories}
    return tuple(code for code in CATEGORY_CODES if code in seen)
