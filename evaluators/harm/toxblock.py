"""tox-block 0.1.2 (MIT; trained on the Jigsaw toxic-comment data, CC0) without TensorFlow.

The package ships a Keras 2 model (``lstm_model_0.1.2.h5``) and a pickled Keras tokenizer
(``encoder_0.1.2.pkl``). Its own code imports TensorFlow; this module reads the weights with h5py
and the tokenizer through :class:`RestrictedUnpickler`, which builds only the five globals that
pickle needs (the tokenizer's two classes as inert attribute bags, ``OrderedDict``, ``defaultdict``
and ``int``) and refuses every other one, so the file can never run code. Both files are pinned by
sha256.

The forward pass is the package's model in numpy: embedding (20000 x 50), a bidirectional LSTM of
50 units per direction (Keras 2 gates i, f, c, o; hard-sigmoid recurrent activation ``0.2 x + 0.5``
clipped to [0, 1]), global max pooling over time, a ReLU dense layer of 50 and a sigmoid layer of
six: toxic, severe_toxic, obscene, threat, insult, identity_hate. Texts are tokenized as Keras'
``Tokenizer`` does (lower case, its punctuation filters, split on spaces, words outside the 20000
most frequent dropped) and pre-padded/pre-truncated to 100 tokens. ``rescale`` applies the
package's min-max rescaling of each output, as its documented examples do.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from aigc_audit.errors import AuditError

PACKAGE = "tox-block"
VERSION = "0.1.2"
MODEL_FILE = "tox_block/trained_models/lstm_model_0.1.2.h5"
ENCODER_FILE = "tox_block/trained_models/encoder_0.1.2.pkl"
MODEL_SHA256 = "587d40726f1250341a3661fac099e46582cf34cdd5136eb88a726bf6d62ec24e"
ENCODER_SHA256 = "f73db76ce4138c0a566cf91a84077ab66db1f5da40d795d2f751b5a157d91ce7"
LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
# tox_block.config.RESCALE_PROBA: (min, max) of each raw output, for its min-max rescaling.
RESCALE = {"toxic": (0.002116, 0.999858), "severe_toxic": (0.000011, 0.648682),
           "obscene": (0.000347, 0.997533), "threat": (0.000040, 0.918887),
           "insult": (0.000373, 0.986303), "identity_hate": (0.000074, 0.901117)}
MAX_SEQUENCE = 100
# keras_preprocessing.text.Tokenizer's default filters.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


class _AttributeBag:
    """Stands in for a pickled class: keeps the state pickle sets on it and nothing else."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"expected a dict of attributes; got {type(state).__name__}")
        self.__dict__.update(state)


class _TokenSequencer(_AttributeBag):
    pass


class _KerasTokenizer(_AttributeBag):
    pass


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("tox_block.data_processing.preprocessors", "TokenSequencer"): _TokenSequencer,
    ("keras_preprocessing.text", "Tokenizer"): _KerasTokenizer,
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "defaultdict"): defaultdict,
    ("builtins", "int"): int,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles tox-block's tokenizer and nothing else: any global outside ``ALLOWED_GLOBALS``
    (``os.system``, ``builtins.eval``, another package's class) is refused before it is looked up."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: only tox-block's tokenizer classes and "
                f"{sorted(f'{m}.{n}' for m, n in ALLOWED_GLOBALS)} are allowed") from None


def restricted_loads(data: bytes) -> Any:
    return RestrictedUnpickler(io.BytesIO(data)).load()


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def text_to_word_sequence(text: str) -> list[str]:
    """Keras' ``text_to_word_sequence`` with its defaults."""
    table = str.maketrans({c: " " for c in KERAS_FILTERS})
    return [w for w in text.lower().translate(table).split(" ") if w]


@dataclass(frozen=True)
class ToxBlockWeights:
    word_index: dict[str, int]
    num_words: int
    embedding: np.ndarray          # (V, E)
    forward: tuple[np.ndarray, np.ndarray, np.ndarray]   # kernel (E, 4H), recurrent (H, 4H), bias (4H,)
    backward: tuple[np.ndarray, np.ndarray, np.ndarray]
    dense: tuple[np.ndarray, np.ndarray]                 # (2H, D), (D,)
    out: tuple[np.ndarray, np.ndarray]                   # (D, 6), (6,)


def _lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras 2 LSTM over ``x`` (B, T, E), returning every step's hidden state (B, T, H)."""
    return _lstm_steps((x @ kernel + bias)[None], recurrent[None])[0]


def _bidirectional(x: np.ndarray, forward: tuple[np.ndarray, ...],
                   backward: tuple[np.ndarray, ...]) -> np.ndarray:
    """Keras' Bidirectional(LSTM) over ``x`` (B, T, E): both directions' hidden states, aligned to
    the input's steps and concatenated (B, T, 2H)."""
    # (2, B, T, 4H)
    projected = np.stack([x @ forward[0] + forward[2], x[:, ::-1] @ backward[0] + backward[2]])
    return _both_directions(projected, forward[1], backward[1])


def _both_directions(projected: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Both directions' hidden states (B, T, 2H) from their projected inputs (2, B, T, 4H), the
    backward one's in reversed order, and recurrent kernels (H, 4H). The two run in one loop, one
    batched matmul per step for both: a step costs the same few numpy calls for one direction or two."""
    out = _lstm_steps(projected, np.stack([forward, backward]))                # (2, B, T, H)
    return np.concatenate([out[0], out[1][:, ::-1]], axis=2)


def _lstm_steps(projected: np.ndarray, recurrent: np.ndarray) -> np.ndarray:
    """LSTMs over ``projected`` (L, B, T, 4H), each step's input already through its kernel and
    bias, one per leading index, with their own recurrent kernels (L, H, 4H): every step's hidden
    state (L, B, T, H). The hard-sigmoid gates (input,
    forget, output) are computed in one call over all of ``z``; elementwise, so each value is the
    one a per-gate call gives (the cell-candidate quarter is computed and not used).

    A step is a dozen numpy calls on vectors of a few hundred values, so their overhead is the cost
    (100 steps a text): every step writes into buffers made once, through views made once, in
    place. Each value is the same operation on the same operands as in ``z = p + h @ R``,
    ``c = f * c + i * tanh(zc)``, ``h = o * tanh(c)`` (products and sums of two operands are
    commutative in IEEE arithmetic), so the result is equal bit for bit (tested)."""
    L, B, T, _ = projected.shape
    H = recurrent.shape[1]
    steps = np.ascontiguousarray(np.moveaxis(projected, 2, 0))             # (T, L, B, 4H)
    out = np.empty((T, L, B, H), dtype=np.float32)
    h = np.zeros((L, B, H), dtype=np.float32)
    c = np.zeros((L, B, H), dtype=np.float32)
    z = np.empty((L, B, 4 * H), dtype=np.float32)
    gates = np.empty_like(z)
    candidate = np.empty_like(h)
    i, f, o, zc = gates[..., :H], gates[..., H:2 * H], gates[..., 3 * H:], z[..., 2 * H:3 * H]
    # _hard_sigmoid's constants as float32, as numpy casts them for a float32 array; and its clip as
    # maximum then minimum, which is how np.clip computes it (NaN included), for a fifth of the cost.
    slope, shift, zero, one = (np.float32(v) for v in (0.2, 0.5, 0.0, 1.0))
    for t in range(T):
        np.matmul(h, recurrent, out=z)                                      # (L, B, 4H)
        z += steps[t]
        np.multiply(z, slope, out=gates)                                   # _hard_sigmoid, in place
        gates += shift
        np.maximum(gates, zero, out=gates)
        np.minimum(gates, one, out=gates)
        np.tanh(zc, out=candidate)
        candidate *= i
        c *= f
        c += candidate
        np.tanh(c, out=h)
        h *= o
        out[t] = h
    return np.moveaxis(out, 0, 2)                                          # (L, B, T, H)


class ToxBlockModel:
    """The forward pass; ``predict(texts)`` returns (N, 6) probabilities in ``LABELS`` order.

    A word's input to each LSTM direction (its embedding through the direction's kernel, plus the
    bias) is the same wherever the word stands, so it is computed once for the whole vocabulary
    (``projected``, (2, V, 4H), 31 MiB) and looked up per text. Computed per text instead, it was
    a threaded BLAS product: on two cores the BLAS thread it woke kept spinning on the core that
    MiniLM's second thread needed, and its last bits depended on how many threads BLAS had."""

    def __init__(self, weights: ToxBlockWeights):
        self.weights = weights
        w = weights
        self.projected = np.stack([w.embedding @ w.forward[0] + w.forward[2],
                                   w.embedding @ w.backward[0] + w.backward[2]])   # (2, V, 4H)
        self.projected.setflags(write=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 100) token ids, pre-padded with 0 and pre-truncated (the last 100 words kept)."""
        w = self.weights
        ids = np.zeros((len(texts), MAX_SEQUENCE), dtype=np.int64)
        for row, text in enumerate(texts):
            seq = [i for i in (w.word_index.get(word) for word in text_to_word_sequence(text))
                   if i is not None and i < w.num_words][-MAX_SEQUENCE:]
            if seq:
                ids[row, MAX_SEQUENCE - len(seq):] = seq
        return ids

    def project(self, ids: np.ndarray) -> np.ndarray:
        """Each direction's input (2, N, T, 4H) for token ids (N, T), the backward one's reversed."""
        return np.stack([self.projected[0][ids], self.projected[1][ids[:, ::-1]]])

    def predict(self, texts: Sequence[str], *, rescale: bool = True) -> np.ndarray:
        w = self.weights
        projected = self.project(self.encode(texts))                   # (2, N, T, 4H)
        pooled = _both_directions(projected, w.forward[1], w.backward[1]).max(axis=1)  # (N, 2H)
        hidden = np.maximum(pooled @ w.dense[0] + w.dense[1], 0.0)         # (N, D)
        p = 1.0 / (1.0 + np.exp(-(hidden @ w.out[0] + w.out[1])))         # (N, 6)
        if rescale:
            low = np.array([RESCALE[k][0] for k in LABELS])
            high = np.array([RESCALE[k][1] for k in LABELS])
            p = np.clip(np.abs((p - low) / (high - low)), 0.0, 1.0)
        return p.astype(np.float64)


def _package_file(relative: str) -> Path:
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise AuditError(f"the 'toxblock' classifier needs the data of {PACKAGE}=={VERSION}; install it "
                         f"with: pip install --no-deps {PACKAGE}=={VERSION} (its code, which needs "
                         "TensorFlow, is never imported)") from None
    return Path(str(dist.locate_file(relative)))


def _read_pinned(path: Path, sha256: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AuditError(f"cannot read {path}: {error}; reinstall {PACKAGE}=={VERSION}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise AuditError(f"refusing {path}: its sha256 is {actual}, not {sha256} of {PACKAGE} {VERSION}; "
                         f"reinstall with: pip install --no-deps --force-reinstall {PACKAGE}=={VERSION}")
    return data


def load_weights(model_path: Path | None = None, encoder_path: Path | None = None) -> ToxBlockWeights:
    """Read the pinned model and tokenizer files (by default the installed package's)."""
    import h5py

    model_bytes = _read_pinned(model_path or _package_file(MODEL_FILE), MODEL_SHA256)
    encoder = restricted_loads(_read_pinned(encoder_path or _package_file(ENCODER_FILE), ENCODER_SHA256))
    tokenizer = getattr(encoder, "tokenizer", None)
    if not isinstance(tokenizer, _KerasTokenizer) or not isinstance(getattr(tokenizer, "word_index", None),
                                                                    dict):
        raise AuditError(f"{ENCODER_FILE} does not hold a Keras tokenizer with a word index")
    with h5py.File(io.BytesIO(model_bytes), "r") as f:
        g = f["model_weights"]

        def arr(name: str) -> np.ndarray:
            return np.asarray(g[name], dtype=np.float32)

        lstm = "bidirectional/bidirectional/{}_lstm/{}:0"
        return ToxBlockWeights(
            word_index={str(k): int(v) for k, v in tokenizer.word_index.items()},
            num_words=int(tokenizer.num_words),
            embedding=arr("embedding/embedding/embeddings:0"),
            forward=tuple(arr(lstm.format("forward", n)) for n in ("kernel", "recurrent_kernel", "bias")),
            backward=tuple(arr(lstm.format("backward", n)) for n in ("kernel", "recurrent_kernel", "bias")),
            dense=(arr("dense/dense/kernel:0"), arr("dense/dense/bias:0")),
            out=(arr("dense_1/dense_1/kernel:0"), arr("dense_1/dense_1/bias:0")),
        )


def shared_model() -> ToxBlockModel:
    """The installed package's model, loaded once per process for each content of its two files
    (``evaluators.harm.model_cache``); its weights are read-only, as the cache shares them."""
    from aigc_audit.evaluators.harm import model_cache
    from aigc_audit.sampleset import sha256_file

    model_path, encoder_path = _package_file(MODEL_FILE), _package_file(ENCODER_FILE)
    try:
        key = f"{sha256_file(model_path)}+{sha256_file(encoder_path)}"
    except OSError:
        return ToxBlockModel(load_weights(model_path, encoder_path))   # raises the one-line error

    def load() -> ToxBlockModel:
        weights = load_weights(model_path, encoder_path)
        for array in (weights.embedding, *weights.forward, *weights.backward, *weights.dense, *weights.out):
            array.setflags(write=False)
        return ToxBlockModel(weights)

    return model_cache.shared("toxblock", key, load)


def package_version() -> str:
    try:
        return f"{PACKAGE}=={metadata.version(PACKAGE)} (numpy port)"
    except metadata.PackageNotFoundError:
        return f"{PACKAGE} (not installed)"
