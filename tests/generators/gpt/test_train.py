"""Training the GPT: windows, checkpoint round trip, determinism, cache, reference set."""

import json
from dataclasses import replace

import pytest
import torch

from aigc_audit.errors import InputError
from aigc_audit.generators.base import read_training_record
from aigc_audit.generators.gpt import train as gpt_train
from aigc_audit.generators.gpt.config import REFERENCE_DIR, UNKNOWN_LICENSE, is_trained, load_training_data
from aigc_audit.generators.gpt.model import EOS_ID, GPTConfig, bpe_tokenizer, build_model
from aigc_audit.generators.gpt.sample import load_model
from aigc_audit.generators.gpt.train import (
    fit,
    next_token_loss,
    save_checkpoint,
    token_stream,
    train,
    window_batch,
)
from aigc_audit.sampleset import REFERENCE, load_sample_set, sha256_file
from tests.generators.gpt.gpt_helpers import DOCUMENTS, tiny_config, tiny_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def checkpoint(corpus, tmp_path_factory):
    return train(tiny_config(corpus), tmp_path_factory.mktemp("ckpt") / "gpt")


def test_training_windows_train_every_position_embedding():
    # n_positions + 1 tokens per window: all n_positions inputs get a target, so the last position
    # embedding learns too (with n_positions-token windows it never would).
    n_positions = 8
    stream = torch.arange(1, 40)
    windows = window_batch(stream, n_positions + 1, 4, torch.Generator().manual_seed(0))
    assert windows.shape == (4, n_positions + 1)
    model = build_model(GPTConfig(vocab_size=50, n_positions=n_positions, n_embd=8, n_layer=1, n_head=2))
    next_token_loss(model, windows).backward()
    assert model.transformer.wpe.weight.grad[n_positions - 1].abs().sum() > 0


def test_fit_trains_on_windows_one_token_longer_than_the_context(corpus, monkeypatch):
    shapes = []
    real = gpt_train.next_token_loss
    monkeypatch.setattr(gpt_train, "next_token_loss",
                        lambda model, w: shapes.append(w.shape) or real(model, w))
    config = tiny_config(corpus, steps=2)
    fit(config, load_training_data(config.data))
    assert len(shapes) >= 3  # two training steps and the held-out evaluation
    assert {shape[1] for shape in shapes} == {config.n_positions + 1}


def test_token_stream_opens_and_closes_every_document_with_eos(corpus):
    data = load_training_data(tiny_config(corpus).data)
    tokenizer = bpe_tokenizer(data.texts, 300)
    stream = token_stream(tokenizer, data.texts)
    assert stream[0] == stream[-1] == EOS_ID
    assert int((stream == EOS_ID).sum()) == len(data.texts) + 1


def test_checkpoint_round_trips_the_logits(corpus, tmp_path):
    config = tiny_config(corpus)
    data = load_training_data(config.data)
    model, tokenizer, metrics = fit(config, data)
    save_checkpoint(tmp_path / "ckpt", model, tokenizer, config, data, metrics)
    reloaded = load_model(tmp_path / "ckpt")
    ids = torch.tensor([tokenizer(DOCUMENTS[0], add_special_tokens=False)["input_ids"][:config.n_positions]])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, reloaded.model(input_ids=ids).logits)
    assert reloaded.tokenizer.decode(ids[0]) == tokenizer.decode(ids[0])


def test_checkpoint_folder_holds_config_weights_hash_and_reference(checkpoint, corpus):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training.json", "weights.sha256"):
        assert (checkpoint / name).is_file(), name
    record = read_training_record(checkpoint)
    assert record["weights_sha256"] == sha256_file(checkpoint / "model.safetensors")
    assert record["config"]["data"]["corpus"] == str(corpus) and record["config"]["steps"] == 3
    metrics = record["metrics"]
    assert metrics["parameters"] > 1000 and metrics["documents"] == 3 and metrics["held_out_documents"] == 1
    assert metrics["held_out_loss"] is not None and metrics["train_loss"] > 0
    hf_config = json.loads((checkpoint / "config.json").read_text())
    assert hf_config["eos_token_id"] == EOS_ID and hf_config["n_positions"] == 32
    # The reference set is exactly the training documents, then the held-out one marked as such,
    # each with its source and, for a corpus without licences, an explicit "unknown".
    reference = load_sample_set(checkpoint / REFERENCE_DIR, role=REFERENCE)
    assert [item.text for item in reference.of_modality("text", "train")] == DOCUMENTS[:3]
    assert [(item.text, item.split) for item in reference.of_modality("text", "heldout")] == [
        (DOCUMENTS[3], "heldout")]
    assert all(item.license == UNKNOWN_LICENSE for item in reference)
    assert all(item.source.startswith("corpus.jsonl:") for item in reference)


def test_training_is_deterministic_for_a_seed(corpus, checkpoint, tmp_path):
    again = train(tiny_config(corpus), tmp_path / "again")
    other_seed = train(tiny_config(corpus, seed=1), tmp_path / "seed1")
    sha = read_training_record(checkpoint)["weights_sha256"]
    assert read_training_record(again)["weights_sha256"] == sha
    assert read_training_record(other_seed)["weights_sha256"] != sha


def test_second_training_with_the_same_inputs_is_a_cache_hit(corpus, checkpoint, monkeypatch, tmp_path):
    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the checkpoint is cached")

    monkeypatch.setattr(gpt_train, "fit", no_training)
    assert is_trained(tiny_config(corpus), checkpoint)
    assert train(tiny_config(corpus), checkpoint) == checkpoint
    assert not is_trained(tiny_config(corpus, steps=4), checkpoint)
    edited = tiny_corpus(tmp_path)
    edited.write_text(edited.read_text().replace("river", "brook"))
    assert not is_trained(tiny_config(edited), checkpoint)  # same config, other data


def test_refuses_to_overwrite_a_folder_that_is_not_a_checkpoint(corpus, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="exists and is not a checkpoint"):
        train(tiny_config(corpus), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_given_licence_is_recorded_and_short_documents_are_refused(corpus):
    data = load_training_data(replace(tiny_config(corpus).data, license="CC-BY-4.0"))
    assert {r["license"] for r in data.records} == {"CC-BY-4.0"}
    with pytest.raises(InputError, match="no document has at least 500 words; lower --min-words"):
        load_training_data(replace(tiny_config(corpus).data, min_words=500))
    with pytest.raises(InputError, match="--plays picks plays of the built-in corpus"):
        load_training_data(replace(tiny_config(corpus).data, plays=("hamlet",)))
