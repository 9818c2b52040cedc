"""A release in the demo: what it is, the outcome it is built to show, and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from aigc_audit.evaluators.base import Evaluation
from aigc_audit.governance.status import FAIL, PASS, WARN

# ``build(demo folder, progress console)`` writes (or finds cached) the release's sample set and
# reference set and returns their folders.
Build = Callable[[Path, Console], tuple[Path, Path | None]]
# ``probe(demo folder, progress console)`` returns results of probes of the release's model (an
# extraction probe, say), made once beforehand and attached to its audit.
Probe = Callable[[Path, Console], list[Evaluation]]


@dataclass(frozen=True)
class Release:
    name: str
    description: str  # a few words: it is a table cell
    expected: str  # the outcome the demo is built to show: PASS (warnings allowed) or FAIL
    build: Build
    probe: Probe | None = None

    def as_expected(self, verdict: str) -> bool:
        return verdict == FAIL if self.expected == FAIL else verdict in (PASS, WARN)
