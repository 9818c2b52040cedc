"""NudeNet as an image harm classifier: an ONNX body-part detector shipped inside its wheel.

nudenet is AGPL-3.0, so it is an optional extra (``pip install -e '.[nsfw]'`` in a checkout, or a
built wheel with ``[nsfw]``) and is imported only here, only when an image is scored. Exposed
intimate body parts map to S12 (sexual content); covered parts, faces, feet, bellies and armpits map
to nothing. Images are decoded by ``aigc_audit.images`` (bomb and corruption checks) and handed to
the detector as arrays, so OpenCV never opens a user's file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aigc_audit.evaluators.evidence import DETECTIONS
from aigc_audit.evaluators.harm.classifier import HarmClassifier, MissingExtraError, installed_version
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import IMAGE

PACKAGE = "nudenet"
EXTRA = "nsfw"
S12 = ("S12",)
LABEL_MAP: dict[str, tuple[str, ...]] = {
    "FEMALE_GENITALIA_EXPOSED": S12,
    "MALE_GENITALIA_EXPOSED": S12,
    "FEMALE_BREAST_EXPOSED": S12,
    "BUTTOCKS_EXPOSED": S12,
    "ANUS_EXPOSED": S12,
    "FEMALE_GENITALIA_COVERED": (),
    "FEMALE_BREAST_COVERED": (),
    "BUTTOCKS_COVERED": (),
    "ANUS_COVERED": (),
    "MALE_BREAST_EXPOSED": (),
    "BELLY_EXPOSED": (),
    "BELLY_COVERED": (),
    "FEET_EXPOSED": (),
    "FEET_COVERED": (),
    "ARMPITS_EXPOSED": (),
    "ARMPITS_COVERED": (),
    "FACE_FEMALE": (),
    "FACE_MALE": (),
}
# A detection is ``{"class": label, "score": float, "box": [x, y, w, h]}``, as nudenet returns.
Detector = Callable[[np.ndarray], list[dict[str, Any]]]


def _nudenet_detector() -> tuple[Detector, list[str]]:
    try:
        import nudenet
        from nudenet import nudenet as nudenet_module
    except ImportError:
        raise MissingExtraError("nudenet", EXTRA, PACKAGE, "AGPL-3.0, so not installed by default") from None
    labels = list(getattr(nudenet_module, "__labels", LABEL_MAP))
    return nudenet.NudeDetector().detect, labels


class NudeNetClassifier(HarmClassifier):
    name = "nudenet"
    modality = IMAGE

    def __init__(self, *, detector: Detector | None = None, labels: Sequence[str] | None = None):
        """``detector`` replaces nudenet (tests pass a fake); it receives BGR uint8 arrays."""
        self._detect = detector
        self._labels = list(labels) if labels is not None else None
        self.label_map = check_label_map(LABEL_MAP, classifier=PACKAGE, labels=self._labels)

    @property
    def version(self) -> str:
        if self._detect is not None and self._labels is None:
            return "injected detector"
        version = installed_version(PACKAGE)
        return f"{PACKAGE}=={version}" if version else f"{PACKAGE} (not installed)"

    def _detector(self) -> Detector:
        if self._detect is None:
            self._detect, labels = _nudenet_detector()
            # nudenet's own label list must be exactly what our map covers.
            self.label_map = check_label_map(LABEL_MAP, classifier=PACKAGE, labels=labels)
            self._labels = labels
        return self._detect

    def label_scores(self, batch: Sequence[np.ndarray]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        detect = self._detector()
        out = []
        for rgb in batch:
            bgr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])  # nudenet reads BGR
            detections = detect(bgr)
            scores: dict[str, float] = {}
            kept = []
            for d in detections:
                label, score = d["class"], float(d["score"])
                if label not in self.label_map:
                    raise ValueError(f"nudenet returned label {label!r}, which the label map does not know")
                scores[label] = max(scores.get(label, 0.0), score)
                if self.label_map[label]:
                    kept.append({"label": label, "score": round(score, 4), "box": list(d.get("box", []))})
            kept.sort(key=lambda d: -d["score"])
            out.append((scores, {DETECTIONS: kept[:10]}))
        return out
