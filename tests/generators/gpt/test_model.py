"""The GPT's definition: its vocabulary and its configuration."""

import pytest

from aigc_audit.generators.gpt.model import EOS_ID, EOS_TOKEN, GPTConfig, bpe_tokenizer, build_model, parameter_count
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


def test_parameter_count_counts_tied_embeddings_once():
    model = build_model(GPTConfig(vocab_size=100, n_positions=16, n_embd=16, n_layer=1, n_head=2))
    assert model.lm_head.weight is model.transformer.wte.weight
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())
    assert parameter_count(model) < sum(p.numel() for p in model.state_dict().values())
