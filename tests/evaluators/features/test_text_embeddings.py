"""The packaged all-MiniLM-L6-v2 embeddings: sha256 checked before loading, a clear error when the
package is missing, and embeddings that behave like sentence embeddings."""

import importlib.util

import numpy as np
import pytest

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.features import text_embeddings
from aigc_audit.evaluators.features.text_embeddings import (
    MODEL_PIP,
    WEIGHTS_SHA256,
    MiniLMEmbedder,
    model_dir,
    verify_weights,
)


def test_the_packaged_weights_match_the_pinned_sha256():
    assert verify_weights(model_dir()) == WEIGHTS_SHA256


def test_changed_weights_are_refused_before_loading(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the model")
    with pytest.raises(AuditError, match="does not match sentence-transformers/all-MiniLM-L6-v2's published"):
        verify_weights(tmp_path)
    with pytest.raises(AuditError, match="weights are missing; reinstall"):
        verify_weights(tmp_path / "empty")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(text_embeddings.importlib.util, "find_spec",
                        lambda name, *a: None if name == text_embeddings.MODEL_PACKAGE else real(name, *a))
    with pytest.raises(AuditError, match=f"pip install {MODEL_PIP}.*mauve: false"):
        model_dir()


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder()


def test_embeddings_are_unit_vectors_and_similar_sentences_are_closer(embedder):
    texts = ["The king is dead.", "The monarch has died.", "I like to eat green apples.",
             "The king is dead."]
    x = embedder(texts)
    assert x.shape == (4, 384) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2
    np.testing.assert_allclose(x[0], x[3])  # a repeated text is embedded once


def test_embeddings_do_not_depend_on_batching(embedder):
    texts = ["To be, or not to be", "that is the question", "Whether 'tis nobler in the mind",
             "to suffer the slings and arrows of outrageous fortune"]
    batched = embedder(texts)
    single = np.concatenate([embedder([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.slow
def test_parity_with_sentence_transformers(embedder):
    from sentence_transformers import SentenceTransformer

    texts = ["To be, or not to be", "that is the question: whether 'tis nobler in the mind to suffer"]
    expected = SentenceTransformer(str(model_dir()), device="cpu").encode(texts)
    np.testing.assert_allclose(embedder(texts), expected, atol=1e-5)
