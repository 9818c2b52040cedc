"""The trainable text classifier: features (TF-IDF or MiniLM embeddings) and a scikit-learn
logistic-regression head per category, fitted on a user's labelled texts.

The head is saved as JSON (coefficients, intercepts, categories, and the featuriser's vocabulary or
model identity); nothing is unpickled. ``harm train`` prints the file's sha256 and writes it into
the policy snippet; :func:`load_head` refuses a file whose sha256 is not the one the policy pins,
so a head edited or swapped after review is never used.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm._features import (
    FEATURE_KINDS,
    TFIDF,
    NotFittedError,
    features_from_dict,
    make_features,
    sigmoid,
)
from aigc_audit.evaluators.harm.classifier import HarmClassifier
from aigc_audit.evaluators.harm.taxonomy import CATEGORY_CODES, check_label_map
from aigc_audit.sampleset import TEXT

HEAD_FORMAT = "aigc-audit/harm-head/v1"
# A head is coefficients and a vocabulary: anything far larger is not one of ours.
MAX_HEAD_BYTES = 512 * 1024 * 1024


class LinearHarmHead:
    """One binary logistic regression per category over shared text features.

    ``fit(texts, labels)`` takes, per text, the set of categories it belongs to (empty: benign).
    Categories need at least one positive and one negative text to be learned.
    """

    def __init__(self, *, features: str = "tfidf", C: float = 4.0, max_iter: int = 2000, seed: int = 0,
                 featurizer: Any = None):
        self.features = features
        self.C = C
        self.max_iter = max_iter
        self.seed = seed
        self.featurizer = featurizer

    def fit(self, texts: Sequence[str], labels: Sequence[frozenset[str] | set[str]]) -> LinearHarmHead:
        featurizer = self._validate(texts, labels)
        return self._fit_features(featurizer, featurizer.fit(texts).transform(texts), labels)

    def _validate(self, texts: Sequence[str], labels: Sequence[frozenset[str] | set[str]]) -> Any:
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {list(FEATURE_KINDS)}; got {self.features!r}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0; got {self.C!r}")
        if len(texts) != len(labels):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} label sets")
        unknown = sorted({c for cats in labels for c in cats} - set(CATEGORY_CODES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; valid categories are {list(CATEGORY_CODES)}")
        if not self._categories(labels):
            raise ValueError("no category has both positive and negative texts; label some texts with a "
                             "category and some as 'none'")
        return self.featurizer if self.featurizer is not None else make_features(self.features)

    @staticmethod
    def _categories(labels: Sequence[frozenset[str] | set[str]]) -> list[str]:
        return [c for c in CATEGORY_CODES if 0 < sum(c in cats for cats in labels) < len(labels)]

    def _fit_features(self, featurizer: Any, X: Any,
                      labels: Sequence[frozenset[str] | set[str]]) -> LinearHarmHead:
        """Fit the heads on features ``X`` (N, D) that the fitted ``featurizer`` produced."""
        from sklearn.linear_model import LogisticRegression

        categories = self._categories(labels)
        coef, intercept = [], []
        for code in categories:
            y = np.array([code in cats for cats in labels], dtype=int)
            model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter,
                                       random_state=self.seed)
            model.fit(X, y)
            coef.append(model.coef_[0].astype(np.float64))
            intercept.append(float(model.intercept_[0]))
        self.featurizer_ = featurizer
        self.categories_ = tuple(categories)
        self.coef_ = np.vstack(coef)                   # (K, D)
        self.intercept_ = np.asarray(intercept)        # (K,)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this LinearHarmHead is not fitted yet; call fit(texts, labels) first")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, K)`` probabilities, one column per entry of ``categories_``."""
        self._check_fitted()
        if not len(texts):
            return np.zeros((0, len(self.categories_)))
        return self.proba_from_features(self.featurizer_.transform(texts))

    def proba_from_features(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return sigmoid(np.asarray(X @ self.coef_.T) + self.intercept_)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"format": HEAD_FORMAT, "categories": list(self.categories_),
                "features": self.featurizer_.to_dict(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_.tolist(), "C": self.C}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearHarmHead:
        if data.get("format") != HEAD_FORMAT:
            raise ValueError(f"not a harm head: format is {data.get('format')!r}, expected {HEAD_FORMAT!r}")
        featurizer = features_from_dict(data["features"])
        head = cls(features=featurizer.kind, C=float(data.get("C", 4.0)), featurizer=featurizer)
        categories = tuple(data["categories"])
        check_label_map({c: c for c in categories}, classifier="harm head")
        coef = np.asarray(data["coef"], dtype=np.float64)
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        if coef.shape != (len(categories), featurizer.dim) or intercept.shape != (len(categories),):
            raise ValueError(f"coefficient shape {coef.shape} does not match {len(categories)} categories "
                             f"of {featurizer.dim} features")
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ValueError("coefficients must be finite numbers")
        head.featurizer_, head.categories_ = featurizer, categories
        head.coef_, head.intercept_ = coef, intercept
        return head


def save_head(head: LinearHarmHead, path: str | Path) -> str:
    """Write ``head`` as JSON; return the file's sha256, which a policy pins to use it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(head.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_head(path: str | Path, *, sha256: str) -> LinearHarmHead:
    """Load a head written by :func:`save_head`, refusing any file whose sha256 is not ``sha256``."""
    path = Path(path)
    if not sha256:
        raise AuditError(f"refusing to load harm head {path} without its sha256: pin the hash that "
                         "'aigc-audit harm train' printed (policy parameter head_sha256)")
    try:
        size = path.stat().st_size
        if size > MAX_HEAD_BYTES:
            raise AuditError(f"harm head {path} is {size} bytes, more than a head can be "
                             f"({MAX_HEAD_BYTES}); pass the JSON file 'harm train' wrote")
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(f"harm head {path} not found; train one with 'aigc-audit harm train'") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise AuditError(f"refusing harm head {path}: its sha256 is {actual}, not the pinned {sha256}; "
                         "it was changed after it was written. Retrain it, or pin the new hash only "
                         "after reviewing where the file came from")
    try:
        return LinearHarmHead.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:
        raise AuditError(f"harm head {path} is not valid: {error}") from None


class LinearClassifier(HarmClassifier):
    """A fitted :class:`LinearHarmHead` behind the classifier contract; its labels are categories."""

    name = "linear"
    modality = TEXT

    def __init__(self, head: LinearHarmHead, *, sha256: str = ""):
        head._check_fitted()
        self.head = head
        self.sha256 = sha256
        self.label_map = check_label_map({c: c for c in head.categories_}, classifier="harm head",
                                         labels=head.categories_)

    @classmethod
    def from_file(cls, path: str | Path, *, sha256: str) -> LinearClassifier:
        return cls(load_head(path, sha256=sha256), sha256=sha256.lower())

    @property
    def version(self) -> str:
        pinned = f"head sha256:{self.sha256[:12]}" if self.sha256 else "unsaved head"
        return f"{pinned}, {self.head.featurizer_.kind} features"

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        probabilities = self.head.predict_proba(list(batch))
        return [({c: float(p) for c, p in zip(self.head.categories_, row)}, {}) for row in probabilities]


# ---- held-out figures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldOutFigures:
    category: str
    n_test_positive: int
    n_test_negative: int
    precision: float | None
    recall: float | None
    roc_auc: float | None


def held_out_split(labels: Sequence[frozenset[str]], test_size: float,
                   seed: int) -> tuple[list[int], list[int]]:
    """Row indices ``(train, test)``, stratified on each row's exact label set so that every
    labelled combination with two or more rows has one in each part."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}")
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, cats in enumerate(labels):
        groups.setdefault(tuple(sorted(cats)), []).append(index)
    rng = random.Random(seed)
    train, test = [], []
    for key in sorted(groups):
        rows = groups[key]
        rng.shuffle(rows)
        n_test = min(len(rows) - 1, max(1, round(test_size * len(rows)))) if len(rows) > 1 else 0
        test += rows[:n_test]
        train += rows[n_test:]
    return sorted(train), sorted(test)


def held_out_figures(head: LinearHarmHead, texts: Sequence[str], labels: Sequence[frozenset[str]],
                     threshold: float = 0.5, *, features: Any = None) -> list[HeldOutFigures]:
    """Precision and recall at ``threshold`` and ROC AUC per category on held-out rows
    (``features``: the rows' features when already computed)."""
    from sklearn.metrics import roc_auc_score

    probabilities = (head.predict_proba(list(texts)) if features is None
                     else head.proba_from_features(features))
    figures = []
    for k, code in enumerate(head.categories_):
        y = np.array([code in cats for cats in labels], dtype=bool)
        flagged = probabilities[:, k] >= threshold
        n_pos, n_neg = int(y.sum()), int((~y).sum())
        precision = float((flagged & y).sum() / flagged.sum()) if flagged.sum() else None
        recall = float((flagged & y).sum() / n_pos) if n_pos else None
        auc = float(roc_auc_score(y, probabilities[:, k])) if n_pos and n_neg else None
        figures.append(HeldOutFigures(code, n_pos, n_neg, precision, recall, auc))
    return figures


def train_with_held_out(texts: Sequence[str], labels: Sequence[frozenset[str]], *, features: str = "tfidf",
                        test_size: float = 0.25, seed: int = 0,
                        C: float = 4.0) -> tuple[LinearHarmHead, list[HeldOutFigures]]:
    """Fit on a training split and measure on the held-out rows; then refit on every row, so the
    returned head has seen all the data and the figures estimate how it generalises."""
    train, test = held_out_split(labels, test_size, seed)
    if not test:
        raise ValueError("too few rows to hold any out: each label combination needs two or more rows")
    train_labels, test_labels = [labels[i] for i in train], [labels[i] for i in test]
    head = LinearHarmHead(features=features, C=C, seed=seed)
    featurizer = head._validate(texts, labels)
    if features == TFIDF:
        # The vocabulary is fitted on the training rows only, so nothing leaks from the test rows.
        probe = LinearHarmHead(features=features, C=C, seed=seed).fit([texts[i] for i in train],
                                                                      train_labels)
        figures = held_out_figures(probe, [texts[i] for i in test], test_labels)
        return head.fit(list(texts), list(labels)), figures
    # Embeddings have nothing to fit: embed every text once and reuse the rows.
    X = featurizer.fit(texts).transform(list(texts))
    probe = LinearHarmHead(features=features, C=C, seed=seed)._fit_features(featurizer, X[train],
                                                                             train_labels)
    figures = held_out_figures(probe, [texts[i] for i in test], test_labels, features=X[test])
    return head._fit_features(featurizer, X, list(labels)), figures
