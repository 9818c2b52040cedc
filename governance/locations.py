"""Where a run's sample and reference sets are now: the audit recorded each set's path as given,
its absolute location and its content hash, so a viewer finds it from any working directory, and
in a folder it was moved to (an *items root*) once its content hash proves it is the same set."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aigc_audit.governance.report import SetSummary

# Folders where moved sets are looked for, os.pathsep-separated (``aigc-audit dashboard
# --items-root``).
ITEMS_ROOT_ENV = "AIGC_AUDIT_ITEMS_ROOT"


def items_roots() -> list[Path]:
    return [Path(p) for p in os.environ.get(ITEMS_ROOT_ENV, "").split(os.pathsep) if p]


def candidates(summary: SetSummary, roots: Sequence[Path] = ()) -> list[Path]:
    """Where to look for ``summary``'s set, in order: its absolute location, its path as given
    (relative to the working directory), then under each root its path as given and its name."""
    out: list[Path] = []
    if summary.location:
        out.append(Path(summary.location))
    out.append(Path(summary.path))
    for root in roots:
        if not Path(summary.path).is_absolute():
            out.append(root / summary.path)
        out.append(root / Path(summary.location or summary.path).name)
    unique: list[Path] = []
    for path in out:
        if path not in unique:
            unique.append(path)
    return unique


@dataclass(frozen=True)
class Located:
    """The path a set was found at (None: nowhere) and a note for the reviewer (empty when the set
    is where the audit read it, unchanged)."""

    path: Path | None
    note: str


def locate(summary: SetSummary, content_sha256: Callable[[Path], str | None],
           roots: Sequence[Path] = ()) -> Located:
    """The first candidate whose content hash (``content_sha256``: None when it cannot be read)
    is the run's; else the first readable one, with a note that it changed; else a note that the
    set has moved, naming where it was and how to point the viewer at it."""
    changed: Path | None = None
    for index, path in enumerate(candidates(summary, roots)):
        digest = content_sha256(path)
        if digest is None:
            continue
        if digest == summary.sha256:
            moved = index > 1 or (index == 1 and bool(summary.location))
            return Located(path, f"the {summary.role} set was found at {path} (recorded at "
                                 f"{summary.location or summary.path}); same content" if moved else "")
        changed = changed or path
    if changed is not None:
        return Located(changed, f"the {summary.role} set at {changed} changed since this audit "
                                f"(content hash {summary.sha256[:12]} expected)")
    where = summary.location or f"{summary.path} (relative to where the audit ran)"
    return Located(None, f"the {summary.role} set is not at {where} any more: it was moved or deleted; "
                         "start the dashboard with --items-root FOLDER where it is now (it is used only "
                         "if its content hash matches the run's)")
