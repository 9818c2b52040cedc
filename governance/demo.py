"""``aigc-audit demo``: audits example releases end to end and shows the verdicts side by side.

The reference (training) set is a slice of Shakespeare's plays from the built-in corpus. Each
release is audited with ``policies/default.yaml``, its reports written under the demo folder and
its run recorded in the demo's run store.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aigc_audit.sampleset import write_manifest
from generators.corpus import corpus_passages, reference_records
from governance import reports
from governance.console import STYLES, progress_tracker
from governance.runner import AuditResult, run_audit
from governance.store import RunStore

DEMO_DIR = Path("demo-out")
TRAINING_PLAYS = ["hamlet", "macbeth", "othello", "king-lear", "romeo-and-juliet", "julius-caesar"]
HELD_OUT_PLAYS = ["the-tempest", "twelfth-night"]
DEMO_CREATED_AT = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Release:
    name: str
    description: str
    build: Callable[[Path, Path], Path]  # (demo dir, reference dir) -> sample set dir


def _provenance(generator: str, seed: int) -> dict:
    return {"generator": generator, "model_sha256": None, "seed": seed, "params": {},
            "created_at": DEMO_CREATED_AT}


def build_reference(out: Path) -> Path:
    folder = out / "reference"
    if not (folder / "manifest.jsonl").exists():
        write_manifest(folder, reference_records(corpus_passages(TRAINING_PLAYS)))
    return folder


def _example_original(out: Path, reference: Path) -> Path:
    """Passages from plays the reference set does not hold: same domain, nothing copied."""
    rng = random.Random(0)
    pool = [p for p in corpus_passages(HELD_OUT_PLAYS) if len(p.text.split()) >= 12]
    folder = out / "samples" / "example-original"
    write_manifest(folder, [{"id": f"orig-{i:03d}", "modality": "text", "text": p.text,
                             "provenance": _provenance("example-original", i)}
                            for i, p in enumerate(rng.sample(pool, 100))])
    return folder


def _example_copying(out: Path, reference: Path) -> Path:
    """The same, with one item in ten a lightly edited training passage."""
    rng = random.Random(1)
    pool = [p for p in corpus_passages(HELD_OUT_PLAYS) if len(p.text.split()) >= 12]
    training = [p for p in corpus_passages(TRAINING_PLAYS) if len(p.text.split()) >= 20]
    records = []
    for i, passage in enumerate(rng.sample(pool, 100)):
        text = passage.text
        if i % 10 == 0:
            words = rng.choice(training).text.split()
            words[rng.randrange(len(words))] = "verily"
            text = " ".join(words)
        records.append({"id": f"copy-{i:03d}", "modality": "text", "text": text,
                        "provenance": _provenance("example-copying", i)})
    folder = out / "samples" / "example-copying"
    write_manifest(folder, records)
    return folder


RELEASES = [
    Release("example-original", "held-out passages (nothing copied)", _example_original),
    Release("example-copying", "10% lightly edited training passages", _example_copying),
]


def run_demo(out: Path = DEMO_DIR, *, console: Console | None = None) -> int:
    console = console or Console()
    started = time.perf_counter()
    store = RunStore(f"sqlite:///{out / 'runs.sqlite'}")
    reference = build_reference(out)
    results: list[tuple[Release, AuditResult, Path]] = []
    for release in RELEASES:
        samples = release.build(out, reference)
        with progress_tracker(Console(stderr=True)) as track:
            result = run_audit(samples, "default", reference=reference, track=track)
        report = result.to_dict()
        report_dir = out / "reports" / release.name
        reports.write_reports(report, report_dir)
        store.record(report)
        results.append((release, result, report_dir))

    table = Table(title="aigc-audit demo: policies/default.yaml")
    table.add_column("release")
    table.add_column("what it is")
    table.add_column("verdict")
    table.add_column("flagged")
    table.add_column("reports")
    for release, result, report_dir in results:
        table.add_row(release.name, release.description,
                      f"[{STYLES[result.verdict]}]{result.verdict.upper()}[/]",
                      str(len({f.item_id for f in result.findings})), str(report_dir))
    console.print(table)
    for release, result, _ in results:
        for finding in result.findings[:3]:
            console.print(f"  {release.name}: {finding}", markup=False, highlight=False)
    console.print(f"runs stored in {store.url}; list them with: aigc-audit runs --store {out / 'runs.sqlite'}")
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    return 0
