import threading

import numpy as np
import pytest

from aigc_audit.evaluators.harm import model_cache, toxblock
from tests.evaluators.harm.test_toxblock import needs_toxblock


@pytest.fixture(autouse=True)
def empty_cache():
    model_cache.clear()
    yield
    model_cache.clear()


def test_a_model_is_loaded_once_per_kind_and_content_hash():
    loads = []

    def load(tag):
        loads.append(tag)
        return object()

    first = model_cache.shared("m", "aa", lambda: load("aa"))
    assert model_cache.shared("m", "aa", lambda: load("again")) is first
    other = model_cache.shared("m", "bb", lambda: load("bb"))       # changed file: a new entry
    assert other is not first and model_cache.shared("n", "aa", lambda: load("n")) is not first
    assert loads == ["aa", "bb", "n"]
    assert model_cache.loaded() == [("m", "aa"), ("m", "bb"), ("n", "aa")]
    model_cache.clear()
    assert model_cache.loaded() == []
    assert model_cache.shared("m", "aa", lambda: load("after clear")) is not first


def test_concurrent_first_calls_load_once():
    loads = []
    barrier = threading.Barrier(4)

    def load():
        loads.append(1)
        return object()

    results = []

    def worker():
        barrier.wait()
        results.append(model_cache.shared("m", "aa", load))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len({id(r) for r in results}) == 1


def test_a_failed_load_is_not_cached():
    def broken():
        raise RuntimeError("cannot read")

    with pytest.raises(RuntimeError, match="cannot read"):
        model_cache.shared("m", "aa", broken)
    assert model_cache.loaded() == []


@needs_toxblock
def test_shared_toxblock_is_one_read_only_model_with_the_same_scores():
    model = toxblock.shared_model()
    assert toxblock.shared_model() is model
    assert not model.weights.embedding.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        model.weights.out[1][0] = 1.0
    fresh = toxblock.ToxBlockModel(toxblock.load_weights())
    texts = ["you are a stupid idiot", "have a lovely day"]
    np.testing.assert_array_equal(model.predict(texts), fresh.predict(texts))


@needs_toxblock
def test_two_runs_of_the_builtin_features_share_the_loaded_models():
    from aigc_audit.evaluators.harm.builtin_heads import Features

    first, second = Features(), Features()
    assert first.toxblock() is second.toxblock() and first.minilm() is second.minilm()
    assert [kind for kind, _ in model_cache.loaded()] == ["minilm", "toxblock"]
