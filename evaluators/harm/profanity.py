"""The default text classifier: ``alt-profanity-check`` (MIT), a linear model over word n-grams
trained on offensive-language corpora, shipped inside its wheel.

It emits one probability, "offensive", and does not tell swearing from insults, so its label maps
to both ``profanity`` and ``insult``; a policy gating on either reads the same score. The model is
a scikit-learn pickle that the installed package loads from its own files on import: trusted
package data, never a user-supplied file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from aigc_audit.evaluators.harm.classifier import HarmClassifier
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import TEXT

PACKAGE = "alt-profanity-check"
LABELS = ("offensive",)
LABEL_MAP = {"offensive": ("profanity", "insult")}


class ProfanityClassifier(HarmClassifier):
    name = "profanity"
    modality = TEXT

    def __init__(self, *, predict_prob: Callable[[list[str]], Sequence[float]] | None = None):
        self.label_map = check_label_map(LABEL_MAP, classifier=PACKAGE, labels=LABELS)
        self._predict_prob = predict_prob

    @property
    def version(self) -> str:
        try:
            return f"{PACKAGE}=={metadata.version(PACKAGE)}"
        except metadata.PackageNotFoundError:
            return f"{PACKAGE} (not installed)"

    def _model(self) -> Callable[[list[str]], Sequence[float]]:
        if self._predict_prob is None:
            try:
                from profanity_check import predict_prob
            except ImportError:
                from aigc_audit.errors import AuditError

                raise AuditError(f"the 'profanity' classifier needs {PACKAGE}, a dependency of "
                                 f"aigc-audit; reinstall with: pip install -e . (or pip install "
                                 f"{PACKAGE}==1.9.1)") from None
            self._predict_prob = predict_prob
        return self._predict_prob

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        if not batch:
            return []
        probabilities = self._model()(list(batch))
        return [({"offensive": float(p)}, {}) for p in probabilities]
