"""The BERT encoder without transformers: the ids and hidden states of transformers' own tokenizer
and model, bit for bit, and a clear refusal of a folder that holds another model."""

import json
import shutil

import numpy as np
import pytest
import torch

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.features.bert_encoder import BertEncoder
from aigc_audit.evaluators.features.text_embeddings import model_dir
from aigc_audit.evaluators.harm._features import shared_minilm

TEXTS = ["The committee approved the budget for the new library.",
         "I am going to stab you to death when you get home tonight.",
         # Made-up words: over 256 pieces, so both cut the text at the model's limit.
         " ".join(f"zorblax{n}quv" for n in range(120)),
         "", "   ", "Héllo Wörld ÅNGSTRÖM naïve café ﬁne", "中文 测试 한국어 日本語 😀",
         "a\u0301 e\u0301\u200b\x00",
         "short", "a rather longer sentence than that, with punctuation: (yes!) and 'quotes'"]


@pytest.fixture(scope="module")
def transformers_minilm():
    """transformers' tokenizer and model for the same folder, as the package loaded them before."""
    from transformers import AutoModel, AutoTokenizer

    folder = str(model_dir())
    return (AutoTokenizer.from_pretrained(folder, local_files_only=True),
            AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval())


@pytest.fixture(scope="module")
def encoder():
    return BertEncoder(model_dir())


@pytest.mark.parametrize("texts", [[t] for t in TEXTS] + [TEXTS, TEXTS[:2], ["one two", "six ten"]],
                         ids=lambda texts: f"{len(texts)}-texts")
def test_ids_and_hidden_states_equal_transformers_bit_for_bit(encoder, transformers_minilm, texts):
    tokenizer, model = transformers_minilm
    theirs = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    ours = encoder.tokenize(texts)
    assert set(ours) == {"input_ids", "token_type_ids", "attention_mask"}
    for key, value in ours.items():
        assert torch.equal(value, theirs[key]), key
    with torch.inference_mode():
        expected = model(**theirs).last_hidden_state
        got = encoder.last_hidden_state(ours)
    assert got.shape == expected.shape and torch.equal(got, expected)


def test_a_long_text_is_cut_at_max_length_with_its_closing_token(encoder):
    ids = encoder.tokenize([TEXTS[2]])["input_ids"]
    assert ids.shape == (1, 256) and ids[0, -1].item() == encoder.tokenizer.token_to_id("[SEP]")
    assert BertEncoder(model_dir(), max_length=16).tokenize([TEXTS[2]])["input_ids"].shape == (1, 16)


def test_the_harm_features_embed_as_transformers_model_did(transformers_minilm):
    tokenizer, model = transformers_minilm
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
    assert np.array_equal(shared_minilm().transform(TEXTS), pooled.numpy())


def _copy_of_model(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir(), folder)
    return folder


def test_another_architecture_or_missing_weights_are_refused_naming_the_file(tmp_path):
    folder = _copy_of_model(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    with pytest.raises(AuditError, match=r"config.json: not an encoder-only BERT .*'hidden_act': 'relu'"):
        BertEncoder(folder)
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 7}))
    with pytest.raises(AuditError, match=r"model.safetensors: not the weights .* 16 tensors missing, "
                                         r"first 'encoder.layer.6.attention.self.query.weight'"):
        BertEncoder(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(AuditError, match=r"config.json: cannot read the encoder's config"):
        BertEncoder(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(AuditError, match=r"cannot read the encoder's tokenizer.json or model.safetensors"):
        BertEncoder(folder)
    with pytest.raises(AuditError, match="max_length must be between 2 and the model's 512 positions; "
                                         "got 513"):
        BertEncoder(model_dir(), max_length=513)
