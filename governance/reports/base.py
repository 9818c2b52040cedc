"""The report-writer contract and its checked registry.

A writer turns a :class:`~aigc_audit.governance.report.Report` (the same record the run store
keeps) into one file's text, so any report can be written again later from a stored run.
"""

from __future__ import annotations

import os
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


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and make sure a report can be written there; raises ``AuditError`` at
    once (before an audit's long work) when it cannot."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise AuditError(f"cannot write reports to {out_dir}: it exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".aigc-audit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise AuditError(f"cannot write reports to {out_dir}: {error.strerror or error}") from None
    return out_dir


def render_reports(report: Report, formats: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """Every chosen format (all by default) as ``name -> (file name, text)``, in memory: a writer
    that fails does so before anything is written or stored."""
    unknown = sorted(set(formats or ()) - set(_WRITERS))
    if unknown:
        raise AuditError(f"unknown report format(s) {unknown}; valid formats are {names()}")
    return {name: (_WRITERS[name][0], _WRITERS[name][1](report)) for name in formats or names()}


def publish_reports(rendered: dict[str, tuple[str, str]], out_dir: str | Path) -> dict[str, Path]:
    """Write rendered reports into ``out_dir``, each through a temporary file renamed into place,
    so a reader never sees half a report; returns format -> path."""
    out_dir = prepare_out_dir(out_dir)
    written = {}
    for name, (filename, text) in rendered.items():
        path = out_dir / filename
        partial = out_dir / f".{filename}.partial-{os.getpid()}"
        try:
            # Text from samples is whatever Unicode it is; nothing unencodable may stop a report.
            partial.write_text(text, encoding="utf-8", errors="backslashreplace")
            os.replace(partial, path)
        except OSError as error:
            raise AuditError(f"cannot write {path}: {error.strerror or error}") from None
        written[name] = path
    return written


def write_reports(report: Report, out_dir: str | Path,
                  formats: list[str] | None = None) -> dict[str, Path]:
    """Write the chosen formats (all by default) into ``out_dir``; returns format -> path."""
    return publish_reports(render_reports(report, formats), out_dir)
