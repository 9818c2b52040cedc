"""The GPT's definition: its vocabulary and its configuration."""

import pytest
from transformers import GPT2LMHeadModel

from aigc_audit.generators.gpt.model import (
    EOS_ID,
    EOS_TOKEN,
    GPTConfig,
    bpe_tokenizer,
    build_model,
    parameter_count,
)
from tests.generators.gpt.gpt_helpers import DOCUMENTS


def test_bpe_vocabulary_round_trips_text_and_reserves_eos():
    tokenizer = bpe_tokenizer(DOCUMENTS, 300)
    assert tokenizer.convert_tokens_to_ids(EOS_TOKEN) == EOS_ID == tokenizer.eos_token_id
    text = "Unseen words, new lines\nand ünïcode — all survive: byte-level BPE has no unknown token"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert EOS_ID not in ids


def test_eos_is_set_deliberately_and_is_not_the_newline():
    # With a default or a character vocabulary, eos can end up being "\n": generate() then stops
    # at the first line break.
    tokenizer = bpe_tokenizer(DOCUMENTS + ["line one\nline two\n"], 300)
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    assert newline and EOS_ID not in newline
    config = GPTConfig(vocab_size=len(tokenizer)).to_hf()
    assert config.eos_token_id == config.bos_token_id == EOS_ID


def test_bpe_vocabulary_is_deterministic():
    assert bpe_tokenizer(DOCUMENTS, 300).backend_tokenizer.to_str() == \
        bpe_tokenizer(DOCUMENTS, 300).backend_tokenizer.to_str()


def test_config_refuses_a_width_that_heads_cannot_split():
    with pytest.raises(ValueError, match=r"n_embd \(30\) must be a multiple of n_head \(4\)"):
        GPTConfig(vocab_size=10, n_embd=30, n_head=4)


def _hand_count(config: GPTConfig, *, tied: bool = True) -> int:
    """GPT-2's parameters from its shape: token and position embeddings; per block two layer
    norms (2C each), the fused q/k/v projection (C x 3C + 3C), the attention output (C x C + C)
    and the MLP (C x 4C + 4C, then 4C x C + C); the final layer norm; and an LM head (V x C, no
    bias) only when it is not tied to the token embedding."""
    v, p, c, n = config.vocab_size, config.n_positions, config.n_embd, config.n_layer
    block = 2 * c + (3 * c * c + 3 * c) + (c * c + c) + 2 * c + (4 * c * c + 4 * c) + (4 * c * c + c)
    return v * c + p * c + n * block + 2 * c + (0 if tied else v * c)


@pytest.mark.parametrize("config", [
    GPTConfig(vocab_size=100, n_positions=16, n_embd=16, n_layer=1, n_head=2),
    GPTConfig(vocab_size=37, n_positions=8, n_embd=12, n_layer=2, n_head=3),
    GPTConfig(vocab_size=2048),  # the demo's model: "trained 544,608 parameters"
], ids=["tiny", "odd-sizes", "default"])
def test_parameter_count_matches_a_hand_count_with_tied_embeddings(config):
    model = build_model(config)
    # Tied: the LM head's weight is the token embedding's tensor itself, not an equal copy.
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.lm_head.bias is None
    assert parameter_count(model) == _hand_count(config)


def test_default_model_has_the_size_the_demo_prints():
    assert _hand_count(GPTConfig(vocab_size=2048)) == 544_608


def test_an_untied_head_adds_vocab_times_width_parameters():
    # The hand count can tell tied from untied: an untied head is V x C more.
    config = GPTConfig(vocab_size=100, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    hf = config.to_hf()
    hf.tie_word_embeddings = False
    untied = GPT2LMHeadModel(hf)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert parameter_count(untied) == _hand_count(config, tied=False) == _hand_count(config) + 100 * 16
