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

from aigc_audit.sampleset import MANIFEST_NAME, REFERENCE, load_sample_set

# Package data of ``aigc_audit.examples`` (``examples/`` at the repository root).
EXAMPLES = Path(str(resources.files("aigc_audit.examples"))) / "harm-examples"
NAME = "harm-examples"
DESCRIPTION = "labelled example set, not generated: 8 mildly profane/insulting lines, 12 benign"


def harm_example_release(out: Path) -> tuple[str, str, Path, Path | None]:
    """Copy the example set under ``out`` and return ``(name, description, samples, reference)``."""
    samples = Path(out) / "samples" / NAME
    reference = Path(out) / "reference-harm-examples"
    for source, target in ((EXAMPLES, samples), (EXAMPLES / "reference", reference)):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / MANIFEST_NAME, target / MANIFEST_NAME)
    load_sample_set(samples)
    load_sample_set(reference, role=REFERENCE)
    return NAME, DESCRIPTION, samples, reference
