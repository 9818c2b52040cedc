"""The forward pass of a transformers ``BertModel`` (all-MiniLM-L6-v2 under the built-in harm heads)
as the torch operations the model itself runs, without its per-module Python.

For one text, ``model(**batch)`` makes about 110 module calls, each through transformers' wrappers
(config defaults, output capture, deprecated-keyword checks, forward hooks); on this machine that
Python was about a tenth of MiniLM's time for a 100-word text, and with two torch threads the
second one waits through it. :func:`last_hidden_state` calls the same operations (``linear``,
``scaled_dot_product_attention``, ``layer_norm``, ``gelu``) with the same arguments on tensors of
the same shapes and layouts, in the same order, so its output equals the model's bit for bit
(tested against the model's own forward, and on the harm benchmark's sets). What it does not
cover goes to the model's own forward: a batch with padding (the attention mask then matters), an
attention other than SDPA, quantised layers, a decoder, a model in training mode, another
architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F


def _covered(model: Any, mask: torch.Tensor | None) -> bool:
    config = model.config
    return (config.model_type == "bert" and not model.training and not config.is_decoder
            and getattr(config, "_attn_implementation", None) == "sdpa"
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and config.hidden_act == "gelu" and not config.chunk_size_feed_forward
            # Plain float layers only: a quantised linear keeps its weights in another form.
            and all(type(m) is torch.nn.Linear for layer in model.encoder.layer
                    for m in (layer.attention.self.query, layer.attention.self.key,
                              layer.attention.self.value, layer.attention.output.dense,
                              layer.intermediate.dense, layer.output.dense))
            # Without padding transformers gives SDPA no mask at all; with padding it builds one.
            and (mask is None or bool(mask.all())))


def last_hidden_state(model: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``model(**batch).last_hidden_state`` (B, T, C), equal bit for bit, for a tokenizer's
    ``batch`` (``input_ids``, ``token_type_ids``, ``attention_mask``)."""
    if not _covered(model, batch.get("attention_mask")):
        return model(**batch).last_hidden_state
    ids = batch["input_ids"]
    B, T = ids.shape
    h = model.embeddings(input_ids=ids, token_type_ids=batch.get("token_type_ids"))     # (B, T, C)
    for layer in model.encoder.layer:
        attention, out = layer.attention.self, layer.attention.output
        shape = (B, T, -1, attention.attention_head_size)
        # (B, nh, T, hs)
        q = F.linear(h, attention.query.weight, attention.query.bias).view(shape).transpose(1, 2)
        k = F.linear(h, attention.key.weight, attention.key.bias).view(shape).transpose(1, 2)
        v = F.linear(h, attention.value.weight, attention.value.bias).view(shape).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, scale=attention.scaling,
                                           is_causal=False)                                # (B, nh, T, hs)
        # transformers' reshapes, each made contiguous where it makes it so (the layout feeds linear).
        a = a.reshape(a.shape[0], -1, T, v.shape[-1]).transpose(1, 2).contiguous()
        a = a.reshape(B, T, -1).contiguous()                                               # (B, T, C)
        x = F.layer_norm(F.linear(a, out.dense.weight, out.dense.bias) + h, out.LayerNorm.normalized_shape,
                         out.LayerNorm.weight, out.LayerNorm.bias, out.LayerNorm.eps)
        # (B, T, 4C)
        inner = F.gelu(F.linear(x, layer.intermediate.dense.weight, layer.intermediate.dense.bias))
        norm = layer.output.LayerNorm
        h = F.layer_norm(F.linear(inner, layer.output.dense.weight, layer.output.dense.bias) + x,
                         norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return h
