import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from aigc_audit.evaluators.harm.profanity import ProfanityClassifier, linear_predict_prob

profanity_check = pytest.importorskip("profanity_check")

TEXTS = ["you are a fucking idiot", "shut up, moron", "what a lovely afternoon in the park",
         "the quarterly report is attached", "", "damn", "kill the process and restart the server"]


def _toy(method: str) -> tuple[TfidfVectorizer, CalibratedClassifierCV]:
    words = ["good fine nice", "bad awful nasty", "nice kind good", "nasty rude bad"] * 5
    labels = [0, 1, 0, 1] * 5
    vectorizer = TfidfVectorizer().fit(words)
    model = CalibratedClassifierCV(LinearSVC(), method=method, cv=3).fit(vectorizer.transform(words), labels)
    return vectorizer, model


def test_the_direct_arithmetic_equals_the_package_bit_for_bit():
    from profanity_check.profanity_check import model, vectorizer

    fast = linear_predict_prob(vectorizer, model)
    assert fast is not None
    assert np.array_equal(fast(TEXTS), profanity_check.predict_prob(TEXTS))
    for text in TEXTS:
        assert np.array_equal(fast([text]), profanity_check.predict_prob([text]))
    assert fast(TEXTS[:1])[0] > 0.9 and fast(TEXTS[2:3])[0] < 0.1


def test_the_direct_arithmetic_equals_scikit_learn_on_another_sigmoid_model():
    vectorizer, model = _toy("sigmoid")
    fast = linear_predict_prob(vectorizer, model)
    texts = ["good nice", "bad rude", "unknown words only", "good bad"]
    assert np.array_equal(fast(texts), model.predict_proba(vectorizer.transform(texts))[:, 1])


def test_another_model_shape_falls_back_to_scikit_learn():
    vectorizer, model = _toy("isotonic")
    assert linear_predict_prob(vectorizer, model) is None
    assert linear_predict_prob(vectorizer, LinearSVC()) is None


def test_the_classifier_scores_through_the_direct_arithmetic():
    classifier = ProfanityClassifier()
    scored = classifier.label_scores(TEXTS)
    expected = profanity_check.predict_prob(TEXTS)
    assert [s["offensive"] for s, _ in scored] == [float(p) for p in expected]
    assert classifier._model() is not profanity_check.predict_prob


def test_the_direct_arithmetic_skips_scikit_learns_parameter_checks(monkeypatch):
    from profanity_check.profanity_check import model, vectorizer
    from sklearn.utils import _param_validation

    fast = linear_predict_prob(vectorizer, model)
    expected = fast(TEXTS)

    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn validated parameters on the direct path")

    monkeypatch.setattr(_param_validation, "validate_parameter_constraints", refuse)
    assert np.array_equal(fast(TEXTS), expected)
    with pytest.raises(AssertionError, match="validated parameters"):
        profanity_check.predict_prob(TEXTS)
