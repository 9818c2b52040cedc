"""The report-writer contract and its checked registry.

A writer turns a :class:`~aigc_audit.governance.report.Report` (the same record the run store
keeps) into one file's text, so any report can be written again later from a stored run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aigc_audit.errors import AuditError
from aigc_audit.governance.report import Report

Writer = Callable[[Report], str]
_WRITERS: dict[str, tuple[str, Writer]] = {}


def register(name: str, filename: str, writer: Writer) -> None:
    """Add a writer producing ``filename``; refuses a duplicate name or a non-callable."""
    if not callable(writer):
        raise TypeError(f"report writer {name!r} must be callable; got {writer!r}")
    if name in _WRITERS:
        raise ValueError(f"a report writer named {name!r} is already registered")
    _WRITERS[name] = (filename, writer)


def names() -> list[str]:
    return sorted(_WRITERS)


def write_reports(report: Report, out_dir: str | Path,
                  formats: list[str] | None = None) -> dict[str, Path]:
    """Write the chosen formats (all by default) into ``out_dir``; returns format -> path."""
    unknown = sorted(set(formats or ()) - set(_WRITERS))
    if unknown:
        raise AuditError(f"unknown report format(s) {unknown}; valid formats are {names()}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in formats or names():
        filename, writer = _WRITERS[name]
        path = out_dir / filename
        path.write_text(writer(report), encoding="utf-8")
        written[name] = path
    return written
