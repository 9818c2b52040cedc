"""Third-party joblib pickles build only the classes allowed for them; anything else is refused
before it is imported or called, naming the file."""

import os
import sys

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm import profanity
from aigc_audit.evaluators.harm.restricted_pickle import load_joblib

FIX = "reinstall the package"


class _RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_arrays_and_allowed_classes_load(tmp_path):
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    joblib.dump({"model": model, "weights": np.arange(6.0).reshape(2, 3), "x": np.float64(2.5)},
                tmp_path / "m.joblib")
    loaded = load_joblib(tmp_path / "m.joblib", {("sklearn.linear_model._logistic", "LogisticRegression")},
                         sha256=None, fix=FIX)
    assert np.array_equal(loaded["weights"], np.arange(6.0).reshape(2, 3)) and loaded["x"] == 2.5
    assert np.array_equal(loaded["model"].predict_proba([[0.5]]), model.predict_proba([[0.5]]))


def test_a_class_not_allowed_is_refused_before_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    joblib.dump([np.zeros(3), _RunsACommand()], tmp_path / "evil.joblib")
    with pytest.raises(AuditError, match=r"evil.joblib: the pickled model asks for (posix|nt|os)\.system, "
                                         r"which it is not allowed to build; reinstall the package"):
        load_joblib(tmp_path / "evil.joblib", profanity.MODEL_GLOBALS, sha256=None, fix=FIX)
    assert not (tmp_path / "pwned.txt").exists()
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    joblib.dump(model, tmp_path / "other.joblib")
    with pytest.raises(AuditError, match="asks for sklearn.linear_model._logistic.LogisticRegression"):
        load_joblib(tmp_path / "other.joblib", profanity.MODEL_GLOBALS, sha256=None, fix=FIX)


def test_a_truncated_or_foreign_file_is_one_clear_error(tmp_path):
    joblib.dump(np.arange(1000.0), tmp_path / "whole.joblib")
    (tmp_path / "cut.joblib").write_bytes((tmp_path / "whole.joblib").read_bytes()[:200])
    (tmp_path / "text.joblib").write_text("not a pickle")
    for name in ("cut.joblib", "text.joblib", "missing.joblib"):
        with pytest.raises(AuditError, match=rf"{name}: cannot read the pickled model \(.*\); reinstall"):
            load_joblib(tmp_path / name, (), sha256=None, fix=FIX)


def test_the_profanity_model_loads_without_importing_the_package_module():
    for name in [m for m in sys.modules if m == "profanity_check" or m.startswith("profanity_check.")]:
        del sys.modules[name]
    scores = profanity.ProfanityClassifier().label_scores(["you are a fucking idiot", "a lovely park"])
    assert "profanity_check" not in sys.modules
    assert scores[0][0]["offensive"] > 0.9 > 0.1 > scores[1][0]["offensive"]


def test_a_file_of_other_content_than_the_pinned_one_is_refused_before_unpickling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    joblib.dump([_RunsACommand()], tmp_path / "model.joblib")
    pinned = profanity.MODEL_FILES["model.joblib"]
    with pytest.raises(AuditError, match=rf"model.joblib: sha256 [0-9a-f]{{64}} is not the pinned {pinned}; "
                                         r"reinstall the package"):
        load_joblib(tmp_path / "model.joblib", {("posix", "system"), ("nt", "system")}, sha256=pinned,
                    fix=FIX)
    assert not (tmp_path / "pwned.txt").exists()
    (tmp_path / "vectorizer.joblib").write_bytes(b"")
    with pytest.raises(AuditError, match="vectorizer.joblib: sha256 .* is not the pinned"):
        profanity.load_model(tmp_path)
