"""The default text classifier: ``alt-profanity-check`` (MIT), a linear model over word n-grams
trained on offensive-language corpora, shipped inside its wheel.

It emits one probability, "offensive", and does not tell swearing from insults, so its label maps
to both ``profanity`` and ``insult``; a policy gating on either reads the same score. The model is
a scikit-learn pickle that the installed package loads from its own files on import: trusted
package data, never a user-supplied file.

Scoring one text through scikit-learn's ``predict_prob`` spends most of its time validating
inputs (about 20 checks for five folds of a linear model), not computing. When the installed model
has the shape alt-profanity-check ships (a sigmoid-calibrated linear classifier over a TF-IDF
vectoriser), :func:`linear_predict_prob` computes the same arithmetic in the same order without
those checks: the same probabilities, bit for bit (tests compare them). Any other shape falls back
to the package's own ``predict_prob``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aigc_audit.evaluators.harm.classifier import HarmClassifier, installed_version
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
        version = installed_version(PACKAGE)
        return f"{PACKAGE}=={version}" if version else f"{PACKAGE} (not installed)"

    def _model(self) -> Callable[[list[str]], Sequence[float]]:
        if self._predict_prob is None:
            try:
                from profanity_check import predict_prob
                from profanity_check.profanity_check import model, vectorizer
            except ImportError:
                from aigc_audit.errors import AuditError

                raise AuditError(f"the 'profanity' classifier needs {PACKAGE}, a dependency of "
                                 f"aigc-audit; reinstall with: pip install -e . (or pip install "
                                 f"{PACKAGE}==1.9.1)") from None
            self._predict_prob = linear_predict_prob(vectorizer, model) or predict_prob
        return self._predict_prob

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        if not batch:
            return []
        probabilities = self._model()(list(batch))
        return [({"offensive": float(p)}, {}) for p in probabilities]


def linear_predict_prob(vectorizer: Any, model: Any) -> Callable[[list[str]], np.ndarray] | None:
    """``texts -> P(offensive)`` for a binary, sigmoid-calibrated ``CalibratedClassifierCV`` of
    linear classifiers after ``vectorizer``: scikit-learn 1.9's ``predict_proba`` arithmetic (per
    fold ``expit(-(a * (X @ coef.T + intercept) + b))``, summed over the folds in order, then
    divided by their number) without its per-call validation, and ``vectorizer`` with scikit-learn's
    validation of parameters and of finite values off. None when ``model`` has another shape."""
    import sklearn
    from scipy.special import expit

    folds = getattr(model, "calibrated_classifiers_", None)
    if not folds or getattr(model, "method", None) != "sigmoid" or list(model.classes_) != [0, 1]:
        return None
    weights = []
    for fold in folds:
        estimator, calibrators = fold.estimator, fold.calibrators
        coef = getattr(estimator, "coef_", None)
        if (type(calibrators[0]).__name__ != "_SigmoidCalibration" or len(calibrators) != 1
                or coef is None or coef.shape[0] != 1 or list(estimator.classes_) != [0, 1]):
            return None
        weights.append((coef.T, estimator.intercept_, calibrators[0].a_, calibrators[0].b_))

    def predict_prob(texts: list[str]) -> np.ndarray:
        # The vectoriser's own checks of its arguments, and of finite values in a TF-IDF matrix of
        # word counts, were a third of its time on one text; its arithmetic is the same without.
        with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
            X = vectorizer.transform(texts)                                 # (N, V) sparse
        total = np.zeros(X.shape[0])
        for coef_t, intercept, a, b in weights:
            decision = ((X @ coef_t) + intercept).reshape(-1)               # (N,)
            total += expit(-(a * decision + b))
        total /= len(weights)
        return total

    return predict_prob
