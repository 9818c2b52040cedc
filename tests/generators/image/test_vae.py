import json
import re

import numpy as np
import pytest
import torch
from rich.console import Console

from aigc_audit.errors import InputError
from aigc_audit.generators import get, register_builtin
from aigc_audit.generators.base import read_training_record
from aigc_audit.generators.image.data import load_image_data
from aigc_audit.generators.image.sample import sample_images, write_sample_set
from aigc_audit.generators.image.train import (
    CONFIG_FILE,
    REFERENCE_DIR,
    TrainConfig,
    _fit,
    load_image_generator,
    train_image_generator,
)
from aigc_audit.generators.image.vae import VAE as VAEGenerator
from aigc_audit.generators.image.vae_model import VAE, VAEConfig
from aigc_audit.sampleset import load_sample_set
from tests.conftest import run_cli

TINY = TrainConfig(steps=40, lr=2e-3, batch_size=32)


def quiet() -> Console:
    return Console(quiet=True)


@pytest.fixture(scope="module")
def data():
    return load_image_data(limit=120)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data):
    return train_image_generator("vae", data, tmp_path_factory.mktemp("vae") / "ck", train_config=TINY,
                                 console=quiet())


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes_and_loss(size):
    model = VAE(VAEConfig(image_size=size, latent_dim=5))
    x = torch.rand(3, 1, size, size)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, size, size) and mu.shape == logvar.shape == (3, 5)
    loss, recon, kl = model.loss(x)
    assert torch.isclose(loss, recon + kl) and kl.item() >= 0
    # With the posterior equal to the prior (mean 0, log-variance 0) the KL term is exactly zero.
    for layer in (model.to_mu, model.to_logvar):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    assert model.loss(x)[2].item() == 0.0


def test_config_refuses_sizes_the_convolutions_cannot_halve():
    with pytest.raises(ValueError, match=r"image_size must be one of 8, 16, 32, 64 .*got 24"):
        VAEConfig(image_size=24)


def test_checkpoint_round_trip_gives_the_same_outputs(checkpoint, data):
    trained, _ = _fit("vae", data, VAEConfig(), TINY, quiet())  # deterministic: the same weights
    loaded = load_image_generator(checkpoint)
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(trained.decode(z), loaded.images(z))
    assert json.loads((checkpoint / CONFIG_FILE).read_text())["model"] == {"image_size": 16,
                                                                          "latent_dim": 16, "channels": 16}
    record = read_training_record(checkpoint)
    assert record["generator"] == "vae" and record["data_fingerprint"] == data.fingerprint
    assert record["metrics"]["parameters"] == sum(p.numel() for p in trained.parameters())
    assert len(load_sample_set(checkpoint / REFERENCE_DIR, role="reference")) == len(data)


def test_training_is_deterministic_per_seed_and_cached(tmp_path, checkpoint, data):
    weights_sha = read_training_record(checkpoint)["weights_sha256"]
    again = train_image_generator("vae", data, tmp_path / "again", train_config=TINY, console=quiet())
    assert read_training_record(again)["weights_sha256"] == weights_sha
    other = train_image_generator("vae", data, tmp_path / "other", console=quiet(),
                                  train_config=TrainConfig(steps=40, lr=2e-3, batch_size=32, seed=1))
    assert read_training_record(other)["weights_sha256"] != weights_sha
    console = Console(record=True, width=200)
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    train_image_generator("vae", data, again, train_config=TINY, console=console)
    assert "up to date" in console.export_text()
    assert (again / "model.safetensors").stat().st_mtime_ns == mtime


def test_modified_weights_are_refused(tmp_path, checkpoint, data):
    copy = train_image_generator("vae", data, tmp_path / "copy", train_config=TINY, console=quiet())
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(InputError, match="does not match the recorded"):
        load_image_generator(copy)


def test_refuses_to_train_into_a_folder_that_is_not_a_checkpoint(tmp_path, data):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="exists and is not a checkpoint"):
        train_image_generator("vae", data, tmp_path / "mine", train_config=TINY, console=quiet())


def test_sampling_is_reproducible_and_samples_differ(tmp_path, checkpoint):
    first = write_sample_set(checkpoint, tmp_path / "a", n=12, seed=3)
    second = write_sample_set(checkpoint, tmp_path / "b", n=12, seed=3)
    other = write_sample_set(checkpoint, tmp_path / "c", n=12, seed=4)
    files = sorted((first / "images").iterdir())
    assert len(files) == 12
    assert all(f.read_bytes() == (second / "images" / f.name).read_bytes() for f in files)
    assert any(f.read_bytes() != (other / "images" / f.name).read_bytes() for f in files)
    images = sample_images(load_image_generator(checkpoint), n=12, seed=3)
    assert len({image.tobytes() for image in images}) == 12
    # Not near-copies of each other either: the mean pairwise pixel distance is substantial.
    flat = images.reshape(12, -1).astype(float) / 255
    distances = np.sqrt(((flat[:, None] - flat[None]) ** 2).mean(-1))[np.triu_indices(12, 1)]
    assert distances.min() > 0.02 and distances.mean() > 0.1


def test_manifest_carries_provenance(tmp_path, checkpoint):
    folder = write_sample_set(checkpoint, tmp_path / "s", n=5, seed=9, temperature=0.8)
    samples = load_sample_set(folder)
    weights_sha = read_training_record(checkpoint)["weights_sha256"]
    assert [item.id for item in samples] == [f"vae-s9-{i:05d}" for i in range(5)]
    for index, item in enumerate(samples):
        provenance = item.provenance
        assert provenance["generator"] == "vae" and provenance["model_sha256"] == weights_sha
        assert provenance["seed"] == 9
        assert provenance["params"] == {"n": 5, "index": index, "temperature": 0.8, "image_size": 16}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", provenance["created_at"])
        assert item.modality == "image" and item.path.suffix == ".png"


def test_generating_again_replaces_an_earlier_set_but_not_other_files(tmp_path, checkpoint):
    folder = write_sample_set(checkpoint, tmp_path / "s", n=6, seed=0)
    write_sample_set(checkpoint, folder, n=3, seed=0)
    assert len(list((folder / "images").iterdir())) == 3
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "report.md").write_text("mine")
    with pytest.raises(InputError, match="holds files other than an earlier sample set"):
        write_sample_set(checkpoint, tmp_path / "other", n=3, seed=0)


def test_cli_defaults_match_the_model_and_registry():
    register_builtin()
    assert get("vae") is VAEGenerator
    config = VAEConfig()
    assert (VAEGenerator.default_latent_dim, VAEGenerator.default_channels) == (config.latent_dim,
                                                                                config.channels)


def test_cli_train_vae(tmp_path):
    out = tmp_path / "ck"
    args = ["train", "vae", "--limit", "64", "--steps", "20", "--batch-size", "16", "--out", str(out)]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert f"checkpoint: {out}" in result.stdout
    # One image in 20 (the default --held-out 0.05) is kept out of training and marked in the
    # reference set for the memorization checks.
    assert "vae: trained 20 steps on 61 images" in result.stderr
    reference = load_sample_set(out / "reference", role="reference")
    held = reference.of_modality("image", "heldout")
    assert (len(reference), len(held)) == (64, 3)
    assert [item.id for item in held] == ["digits-0019", "digits-0039", "digits-0059"]
    with pytest.raises(InputError, match=r"holds a vae model, not a gan; .*'aigc-audit generate vae'"):
        write_sample_set(out, tmp_path / "s", n=2, seed=0, expect="gan")
