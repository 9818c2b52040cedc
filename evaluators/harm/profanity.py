"""The default text classifier: ``alt-profanity-check`` (MIT), a linear model over word n-grams
trained on offensive-language corpora, shipped inside its wheel.

It emits one probability, "offensive", and does not tell swearing from insults, so its label maps
to both ``profanity`` and ``insult``; a policy gating on either reads the same score. The model is
a scikit-learn pickle in the installed package's files. The package's own module unpickles it
plainly on import, so it is never imported: :func:`load_model` reads the two files through a
restricted unpickler (``restricted_pickle``) that builds only the scikit-learn classes this model
is made of.

Scoring one text through scikit-learn's ``predict_prob`` spends most of its time validating
inputs (about 20 checks for five folds of a linear model), not computing. When the installed model
has the shape alt-profanity-check ships (a sigmoid-calibrated linear classifier over a TF-IDF
vectoriser), :func:`linear_predict_prob` computes the same arithmetic in the same order without
those checks: the same probabilities, bit for bit (tests compare them). Any other shape falls back
to scikit-learn's own ``predict_proba``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aigc_audit.evaluators.harm.classifier import HarmClassifier, installed_version
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import TEXT

PACKAGE = "alt-profanity-check"
MODULE = "profanity_check"
# The classes the shipped vectoriser and calibrated linear SVM are made of (scikit-learn 1.9).
MODEL_GLOBALS = frozenset({
    ("sklearn.feature_extraction.text", "TfidfVectorizer"),
    ("sklearn.feature_extraction.text", "TfidfTransformer"),
    ("sklearn.calibration", "CalibratedClassifierCV"), ("sklearn.calibration", "_CalibratedClassifier"),
    ("sklearn.calibration", "_SigmoidCalibration"), ("sklearn.svm._classes", "LinearSVC"),
})
# sha256 of the two files alt-profanity-check 1.9.1 ships (its wheel's RECORD lists the same).
MODEL_FILES = {"vectorizer.joblib": "19c5200dc6a41f026e0558e2f164f5fe8d8f58e502b46b37e4385037fcfa4831",
               "model.joblib": "aeafc04849d4d93db4721cf30a86ebf22085595294b8a07d51918e7fa98f538b"}
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
            vectorizer, model = load_model()
            self._predict_prob = linear_predict_prob(vectorizer, model) or (
                lambda texts: model.predict_proba(vectorizer.transform(texts))[:, 1])
        return self._predict_prob

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        if not batch:
            return []
        probabilities = self._model()(list(batch))
        return [({"offensive": float(p)}, {}) for p in probabilities]


def load_model(folder: Path | None = None) -> tuple[Any, Any]:
    """(vectoriser, model) from ``folder`` (default: the installed package's ``data`` folder):
    files of the pinned sha256 (:data:`MODEL_FILES`), unpickled with only :data:`MODEL_GLOBALS`
    allowed."""
    from aigc_audit.errors import AuditError
    from aigc_audit.evaluators.harm.restricted_pickle import load_joblib

    fix = f"reinstall with: pip install --force-reinstall {PACKAGE}==1.9.1"
    if folder is None:
        spec = importlib.util.find_spec(MODULE)
        if spec is None or not spec.submodule_search_locations:
            raise AuditError(f"the 'profanity' classifier needs {PACKAGE}, a dependency of aigc-audit; "
                             f"reinstall with: pip install -e . (or pip install {PACKAGE}==1.9.1)")
        folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return tuple(load_joblib(folder / name, MODEL_GLOBALS, sha256=sha256, fix=fix)
                 for name, sha256 in MODEL_FILES.items())


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
