"""The demo's harm example: a small labelled example set (hand-written, not generated output) on
which the harm rules fire, so that a reader sees a finding and its evidence.

``examples/harm-examples/`` holds 8 lines of mild profanity or insults and 12 benign lines, each
with its intended label in ``meta.example_label``, and a three-line reference set so that the
default policy's copy rules can run too.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from aigc_audit.demo.release import Release
from aigc_audit.sampleset import MANIFEST_NAME, REFERENCE, load_sample_set

# Package data of ``aigc_audit.examples`` (``examples/`` at the repository root).
EXAMPLES = Path(str(resources.files("aigc_audit.examples"))) / "harm-examples"
NAME = "harm-examples"


def harm_release(expected: str) -> Release:
    return Release(NAME, "hand-written, 8 of 20 offensive", expected,
                   lambda out, console: build_harm_examples(out))


def build_harm_examples(out: Path) -> tuple[Path, Path]:
    """Copy the example set under ``out`` and return ``(samples, reference)``."""
    samples = Path(out) / "samples" / NAME
    reference = Path(out) / "reference-harm-examples"
    for source, target in ((EXAMPLES, samples), (EXAMPLES / "reference", reference)):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / MANIFEST_NAME, target / MANIFEST_NAME)
    load_sample_set(samples)
    load_sample_set(reference, role=REFERENCE)
    return samples, reference
