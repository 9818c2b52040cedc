import os
import pickle
from collections import OrderedDict, defaultdict
from importlib import metadata

import numpy as np
import pytest

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm import toxblock
from aigc_audit.evaluators.harm.toxblock import (
    LABELS,
    RestrictedUnpickler,
    ToxBlockModel,
    ToxBlockWeights,
    load_weights,
    restricted_loads,
    text_to_word_sequence,
)


def _installed() -> bool:
    try:
        metadata.distribution(toxblock.PACKAGE)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_toxblock = pytest.mark.skipif(not _installed(), reason="tox-block's data is not installed "
                                    "(make installs it: pip install --no-deps tox-block==0.1.2)")


class _Shell:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload, name", [
    (_Shell(), r"(posix|nt)\.system"),
    (_Eval(), r"builtins\.eval"),
    (np.zeros(2), r"numpy"),
    ({1, 2}, r"builtins\.set"),
    ({"a": [1, "x"]}, None),  # plain data needs no global: allowed
])
def test_restricted_unpickler_refuses_every_other_global(payload, name):
    data = pickle.dumps(payload, protocol=3)
    if name is None:
        assert restricted_loads(data) == {"a": [1, "x"]}
        return
    with pytest.raises(pickle.UnpicklingError, match=rf"refusing to unpickle global {name}"):
        restricted_loads(data)


def test_restricted_unpickler_builds_the_allowed_classes_as_inert_attribute_bags():
    counts = defaultdict(int, {"the": 3})
    data = pickle.dumps({"order": OrderedDict(a=1), "counts": counts}, protocol=3)
    loaded = restricted_loads(data)
    assert loaded["order"] == OrderedDict(a=1) and loaded["counts"]["missing"] == 0

    # A tokenizer pickled under tox-block's names, written out opcode by opcode (GLOBAL, NEWOBJ, BUILD).
    data = b"ckeras_preprocessing.text\nTokenizer\n)\x81(dVword_index\n(dVhello\nI1\nssb."
    bag = restricted_loads(data)
    assert type(bag).__name__ == "_KerasTokenizer" and bag.word_index == {"hello": 1}
    assert issubclass(RestrictedUnpickler, pickle.Unpickler)


def test_keras_word_sequence():
    assert text_to_word_sequence("I'll be there -- at 5:30, OK?!\tyes") == ["i'll", "be", "there", "at", "5",
                                                                           "30", "ok", "yes"]


def _tiny_weights(num_words: int = 4) -> ToxBlockWeights:
    rng = np.random.default_rng(0)
    E, H, D = 3, 2, 4

    def lstm():
        f32 = np.float32
        return (rng.normal(size=(E, 4 * H)).astype(f32), rng.normal(size=(H, 4 * H)).astype(f32),
                rng.normal(size=4 * H).astype(f32))

    return ToxBlockWeights(word_index={"a": 1, "b": 2, "c": 3, "rare": 7}, num_words=num_words,
                           embedding=rng.normal(size=(8, E)).astype(np.float32), forward=lstm(),
                           backward=lstm(),
                           dense=(rng.normal(size=(2 * H, D)).astype(np.float32), np.zeros(D, np.float32)),
                           out=(rng.normal(size=(D, 6)).astype(np.float32), np.zeros(6, np.float32)))


def test_encode_pre_pads_drops_rare_and_unknown_words_and_keeps_the_last_100():
    model = ToxBlockModel(_tiny_weights())
    ids = model.encode(["a b zzz rare c", " ".join(["a"] * 150 + ["b"])])
    assert ids.shape == (2, 100)
    assert list(ids[0, -3:]) == [1, 2, 3] and not ids[0, :-3].any()
    assert ids[1, -1] == 2 and (ids[1, :-1] == 1).all()


def test_forward_pass_is_batch_invariant_and_in_unit_range():
    model = ToxBlockModel(_tiny_weights())
    texts = ["a b c", "c c a", "b"]
    together = model.predict(texts, rescale=False)
    alone = np.vstack([model.predict([t], rescale=False) for t in texts])
    np.testing.assert_allclose(together, alone, rtol=1e-6)
    assert together.shape == (3, 6) and ((together > 0) & (together < 1)).all()


def test_hard_sigmoid_gates_match_a_step_by_step_reference():
    w = _tiny_weights()
    x = w.embedding[[1, 2, 3]][None]                      # (1, 3, E)
    kernel, recurrent, bias = w.forward
    H = recurrent.shape[0]
    h, c = np.zeros(H), np.zeros(H)
    for t in range(3):
        z = x[0, t] @ kernel + h @ recurrent + bias
        gate = [np.clip(0.2 * z[k * H:(k + 1) * H] + 0.5, 0, 1) for k in (0, 1, 3)]
        c = gate[1] * c + gate[0] * np.tanh(z[2 * H:3 * H])
        h = gate[2] * np.tanh(c)
    np.testing.assert_allclose(toxblock._lstm(x, *w.forward)[0, -1], h, rtol=1e-5)


def _lstm_one_direction(x, kernel, recurrent, bias):
    """The LSTM one direction and one gate at a time: the reference the batched loop must equal."""
    B, T, _ = x.shape
    H = recurrent.shape[0]
    projected = x @ kernel + bias
    h, c = np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
    out = np.empty((B, T, H), np.float32)
    for t in range(T):
        z = projected[:, t] + h @ recurrent
        i, f, o = (np.clip(0.2 * z[:, k * H:(k + 1) * H] + 0.5, 0.0, 1.0) for k in (0, 1, 3))
        c = f * c + i * np.tanh(z[:, 2 * H:3 * H])
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def _reference_bidirectional(x, w):
    return np.concatenate([_lstm_one_direction(x, *w.forward),
                           _lstm_one_direction(x[:, ::-1], *w.backward)[:, ::-1]], axis=2)


def test_both_directions_in_one_loop_equal_each_direction_alone_bit_for_bit():
    w = _tiny_weights()
    x = w.embedding[np.array([[0, 0, 1, 2, 3], [1, 3, 3, 2, 1], [0, 0, 0, 0, 2]])]     # (3, 5, E)
    together = toxblock._bidirectional(x, w.forward, w.backward)
    assert together.shape == (3, 5, 4)
    assert np.array_equal(together, _reference_bidirectional(x, w))
    assert np.array_equal(toxblock._lstm(x, *w.forward), _lstm_one_direction(x, *w.forward))


@needs_toxblock
def test_the_installed_model_scores_as_the_one_direction_reference_does():
    model = toxblock.shared_model()
    w = model.weights
    texts = ["you are a complete idiot and everybody knows it", "the weather is mild today", "",
             " ".join(["word"] * 120)]
    ids = model.encode(texts)
    x = w.embedding[ids]
    assert np.array_equal(toxblock._bidirectional(x, w.forward, w.backward), _reference_bidirectional(x, w))
    # A batch differs from texts one by one only in the last bits (BLAS sums rows in blocks).
    alone = np.vstack([model.predict([t]) for t in texts])
    np.testing.assert_allclose(alone, model.predict(texts), atol=1e-6)


def test_lstm_inputs_are_looked_up_per_word_and_equal_the_per_text_product():
    model = ToxBlockModel(_tiny_weights())
    w = model.weights
    ids = model.encode(["a b c", "c rare zzz a", "b"])                                 # (3, 100)
    projected = model.project(ids)
    assert projected.shape == (2, 3, 100, 8) and not model.projected.flags.writeable
    x = w.embedding[ids]
    np.testing.assert_allclose(projected[0], x @ w.forward[0] + w.forward[2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(projected[1], x[:, ::-1] @ w.backward[0] + w.backward[2], rtol=1e-6, atol=1e-6)
    # A word's row is the one its id looks up, wherever it stands: no sum over the batch or the text.
    assert np.array_equal(projected[0, 0, -1], model.projected[0, 3])
    assert np.array_equal(projected[1, 0, 0], model.projected[1, 3])


def test_a_file_with_another_hash_is_refused(tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_bytes(b"not the model")
    with pytest.raises(AuditError, match=r"refusing .*model\.h5: its sha256 is [0-9a-f]{64}, not 587d4072"):
        load_weights(bad, tmp_path / "encoder.pkl")


@pytest.fixture(scope="module")
def real_model() -> ToxBlockModel:
    return ToxBlockModel(load_weights())


# tox-block 0.1.2's README, make_predictions(..., rescale=True).
DOCUMENTED = {
    "Good morning my friend, I hope you're having a fantastic day!":
        (0.05347811430692673, 0.0006274021579883993, 0.004466842859983444, 0.009578478522598743,
         0.00757843442261219, 0.002106667961925268),
    "I will kill you, you fucking idiot!":
        (0.9998679757118225, 0.7870362997055054, 0.9885633587837219, 0.8483908176422119,
         0.9883397221565247, 0.171059250831604),
    "I do strongly disagree with the fascist views of this joke that calls itself a political party.":
        (0.026190076023340225, 7.185135473264381e-05, 0.0009493605466559529, 0.00012321282702032477,
         0.0029190618079155684, 0.0022098885383456945),
}


@needs_toxblock
def test_port_reproduces_the_documented_scores(real_model):
    scores = real_model.predict(list(DOCUMENTED))
    expected = np.array(list(DOCUMENTED.values()))
    np.testing.assert_allclose(scores, expected, rtol=2e-4, atol=2e-6)
    assert LABELS == ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
