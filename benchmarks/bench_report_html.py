"""report.html at 10,000 flagged items: its size against the 2 MB bound, the time to write it, and
the time headless Chromium takes to render it (start included), for a text release and for an image
release whose flagged items are shown as thumbnails (the writer reads the image set again).

    .venv/bin/python benchmarks/bench_report_html.py [--items 10000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from aigc_audit.governance.report import (
    EvaluationRecord,
    Finding,
    PolicySummary,
    Report,
    RuleOutcome,
    SetSummary,
)
from aigc_audit.governance.reports import html as html_report
from aigc_audit.sampleset import load_sample_set, write_manifest


def _report(n: int, samples: SetSummary, reference: SetSummary | None) -> Report:
    findings = tuple(sorted(
        Finding(rule, f"item-{i:05d}", "error", "fail", f"similar to training item ref-{i % 50}", 0.9,
                {"similarity": 0.9, "match_id": f"ref-{i % 50}", "match_text": "words " * 40})
        for i in range(n) for rule in ["copy.a" if i % 2 else "copy.b"]))
    rules = tuple(RuleOutcome(rule, "e", "e", "m", "max", 0.0, "error", "fail", 0.5, n, n_flagged=n // 2)
                  for rule in ("copy.a", "copy.b"))
    scores = {f"item-{i:05d}": (i % 100) / 100 for i in range(n)}
    return Report("bench", "2026-12-01T00:00:00+00:00", "0", "fail", samples, reference,
                  PolicySummary("p", "", "p.yaml", "1" * 64), rules, findings,
                  evaluations={"e": EvaluationRecord("e", "e", {}, {}, n, scores=scores)})


def _chromium(page: Path) -> float | None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    start = time.perf_counter()
    subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom", page.as_uri()],
                   capture_output=True, check=True, timeout=300)
    return time.perf_counter() - start


def _image_sets(folder: Path, n: int) -> tuple[SetSummary, SetSummary]:
    rng = np.random.default_rng(0)
    for name, count in (("samples", n), ("reference", 50)):
        (folder / name).mkdir()
        prefix = "item" if name == "samples" else "ref"
        for i in range(count):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
        records = [{"id": f"{prefix}-{i:05d}" if name == "samples" else f"ref-{i}", "modality": "image",
                    "path": f"{i}.png", "source": "bench", "license": "none"} for i in range(count)]
        write_manifest(folder / name, records)
    return (SetSummary.of(load_sample_set(folder / "samples", role="samples")),
            SetSummary.of(load_sample_set(folder / "reference", role="reference")))


def _measure(label: str, report: Report, out: Path) -> None:
    start = time.perf_counter()
    page = html_report.render(report)
    seconds = time.perf_counter() - start
    out.write_text(page, encoding="utf-8")
    size = len(page.encode("utf-8"))
    browser = _chromium(out)
    print(f"{label:<28} {size / 1e6:7.3f} MB ({size / html_report.MAX_PAGE_BYTES:5.1%} of the bound)  "
          f"written in {seconds * 1000:7.1f} ms  "
          + (f"Chromium renders it in {browser:5.2f} s" if browser is not None else "Chromium not installed"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    n = parser.parse_args().items
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        text = SetSummary("samples", "manifest", "samples", "0" * 64, n, {"text": n})
        _measure(f"text, {n} flagged", _report(n, text, None), tmp / "text.html")
        samples, reference = _image_sets(tmp, n)
        _measure(f"images, {n} flagged", _report(n, samples, reference), tmp / "images.html")


if __name__ == "__main__":
    main()
