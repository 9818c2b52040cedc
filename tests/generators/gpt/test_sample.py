"""Sampling a GPT into a sample set: reproducibility, provenance, local folders only."""

import json
import shutil

import pytest
import torch

from aigc_audit.errors import InputError
from aigc_audit.generators.base import read_training_record
from aigc_audit.generators.gpt.config import SampleConfig
from aigc_audit.generators.gpt.sample import generate, load_model, quantize_int8, sample_texts
from aigc_audit.generators.gpt.train import train
from aigc_audit.sampleset import load_sample_set, sha256_file
from tests.generators.gpt.gpt_helpers import DOCUMENTS, tiny_config, tiny_corpus


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt")
    return train(tiny_config(tiny_corpus(folder), steps=2), folder / "ckpt")


@pytest.fixture(scope="module")
def loaded(checkpoint):
    return load_model(checkpoint)


def small(**changes) -> SampleConfig:
    return SampleConfig(**{"n": 4, "batch_size": 2, "max_new_tokens": 12, "min_new_tokens": 4, **changes})


def test_same_seed_gives_the_same_samples(loaded):
    first = sample_texts(loaded, small(seed=3))
    assert sample_texts(loaded, small(seed=3)) == first
    assert sample_texts(loaded, small(seed=4)) != first
    assert len(set(first)) > 1  # the batch's rows are distinct draws, not one sample repeated


def test_a_sample_does_not_depend_on_how_many_were_asked_for(loaded):
    assert sample_texts(loaded, small(n=5))[:3] == sample_texts(loaded, small(n=3))


def test_samples_stop_at_the_context_window(loaded, monkeypatch):
    # Asked for more than the 32-token window holds, sampling fills the window and stops there
    # (one more position would be past the last position embedding).
    calls, outputs = [], []
    real = loaded.model.generate

    def spy(**kwargs):
        calls.append(kwargs)
        outputs.append(real(**kwargs))
        return outputs[-1]

    monkeypatch.setattr(loaded.model, "generate", spy)
    sample_texts(loaded, small(n=2, max_new_tokens=1000, min_new_tokens=1000))
    assert calls[0]["input_ids"].shape[1] + calls[0]["max_new_tokens"] == 32
    assert outputs[0].shape[1] == 32


def test_manifest_carries_the_provenance(checkpoint, tmp_path):
    out = generate(checkpoint, tmp_path / "samples", small(seed=7, temperature=0.9, top_k=20, top_p=0.95,
                                                            prompt="The river"))
    samples = load_sample_set(out)
    assert len(samples) == 4
    sha = read_training_record(checkpoint)["weights_sha256"]
    for index, item in enumerate(samples):
        assert item.text.startswith("The river")
        p = item.provenance
        assert (p["generator"], p["model_sha256"], p["seed"], p["prompt"]) == ("gpt", sha, 7, "The river")
        assert (p["params"]["temperature"] == 0.9 and p["params"]["top_k"] == 20
                and p["params"]["top_p"] == 0.95)
        assert p["params"]["index"] == index and p["params"]["quantize"] == "none"
        assert p["created_at"].endswith("Z")


def test_int8_quantization_keeps_the_model_close(loaded, checkpoint, tmp_path):
    quantized = quantize_int8(loaded.model)
    linear = quantized.transformer.h[0].attn.c_attn
    assert "quantized" in type(linear).__module__
    ids = torch.tensor([loaded.tokenizer(DOCUMENTS[0], add_special_tokens=False)["input_ids"][:16]])
    with torch.no_grad():
        reference, approx = loaded.model(input_ids=ids).logits, quantized(input_ids=ids).logits
    assert not torch.equal(reference, approx)
    assert torch.allclose(reference.softmax(-1), approx.softmax(-1), atol=0.05)
    out = generate(checkpoint, tmp_path / "int8", small(quantize="int8"))
    assert {i.provenance["params"]["quantize"] for i in load_sample_set(out)} == {"int8"}


def test_a_name_that_is_not_a_local_folder_fails_fast_without_a_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="model folder not found.*never downloads models"):
        load_model("gpt2")


def test_pickled_weights_are_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InputError, match=r"found \['pytorch_model.bin'\]; pickled weights are refused"):
        load_model(tmp_path)


def test_any_local_huggingface_folder_can_be_sampled(checkpoint, tmp_path):
    plain = tmp_path / "hf-model"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(checkpoint / name, plain / name)
    out = generate(plain, tmp_path / "samples", small())
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["provenance"]["model_sha256"] for r in records} == {sha256_file(plain / "model.safetensors")}


def test_a_folder_without_a_model_says_so(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="cannot load a causal language model and tokenizer"):
        load_model(tmp_path)
