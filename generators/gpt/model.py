"""The built-in text model: a small GPT-2-style causal language model and its BPE vocabulary.

Pure definitions only: no I/O, no training loop. ``gpt_train`` trains and saves it, ``gpt_sample``
loads and samples it; both go through HuggingFace ``transformers`` so that a checkpoint folder is an
ordinary HF causal-LM folder (``config.json``, ``model.safetensors``, ``tokenizer.json``).

A byte-level BPE vocabulary (~2,000 tokens, trained with ``tokenizers`` on the training text) rather
than characters, because the budget is two CPU cores: Shakespeare averages ~1.6 such tokens per word
against ~5.5 characters, so a 40-word passage is ~70 positions instead of ~230. Training and
sampling cost scale with positions (attention with their square), so BPE buys ~3x more text per
second, a 128-token window that holds a whole passage, and a memorising model that learns its slice
in seconds. The price is ~200k embedding parameters, affordable at this size; byte-level means any
text, a user's included, has no unknown token. Training the vocabulary is deterministic and takes
about a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

# A dedicated document separator: it starts every document (as BOS) and ends it (as EOS). It is
# set deliberately, never left to a default that could be an ordinary token such as a newline, on
# which ``generate()`` would then stop.
EOS_TOKEN = "<eos>"
EOS_ID = 0


@dataclass(frozen=True)
class GPTConfig:
    """Architecture of the built-in GPT; ``vocab_size`` comes from the tokenizer."""

    vocab_size: int
    n_positions: int = 128
    n_embd: int = 96
    n_layer: int = 3
    n_head: int = 4
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")

    def to_hf(self) -> GPT2Config:
        return GPT2Config(vocab_size=self.vocab_size, n_positions=self.n_positions, n_embd=self.n_embd,
                          n_layer=self.n_layer, n_head=self.n_head, n_inner=4 * self.n_embd,
                          resid_pdrop=self.dropout, embd_pdrop=self.dropout, attn_pdrop=self.dropout,
                          bos_token_id=EOS_ID, eos_token_id=EOS_ID,
                          tie_word_embeddings=True)


def build_model(config: GPTConfig) -> GPT2LMHeadModel:
    """A freshly initialised model; seed torch first for reproducible weights."""
    return GPT2LMHeadModel(config.to_hf())


def parameter_count(model: torch.nn.Module) -> int:
    """Distinct parameters (tied input and output embeddings count once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def bpe_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE vocabulary of up to ``vocab_size`` tokens learnt from ``texts``, with
    ``<eos>`` as id 0. It always holds the 256 byte tokens; a small text stops early, when no pair
    is left to merge."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS_TOKEN], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(texts, trainer)
    if backend.token_to_id(EOS_TOKEN) != EOS_ID:
        raise RuntimeError(f"{EOS_TOKEN} must have id {EOS_ID}; got {backend.token_to_id(EOS_TOKEN)}")
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN,
                                   pad_token=EOS_TOKEN)
