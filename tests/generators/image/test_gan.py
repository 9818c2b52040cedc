import math

import numpy as np
import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from aigc_audit.generators import get, register_builtin
from aigc_audit.generators.base import read_training_record
from aigc_audit.generators.image.data import load_image_data
from aigc_audit.generators.image.gan import GAN as GANGeneratorCLI
from aigc_audit.generators.image.gan_model import (
    GANConfig,
    GANDiscriminator,
    GANGenerator,
    discriminator_loss,
    generator_loss,
)
from aigc_audit.generators.image.sample import write_sample_set
from aigc_audit.generators.image.train import TrainConfig, _fit, load_image_generator, train_image_generator
from aigc_audit.sampleset import load_sample_set
from tests.conftest import run_cli
from tests.generators.image.digit_classes import class_shares, covered, digit_classes

TINY = TrainConfig(steps=30, lr=5e-4, batch_size=32)


def quiet() -> Console:
    return Console(quiet=True)


@pytest.fixture(scope="module")
def digits():
    return load_image_data()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, digits):
    return train_image_generator("gan", digits.subset(96), tmp_path_factory.mktemp("gan") / "ck",
                                 train_config=TINY, console=quiet())


def _images(generator: GANGenerator, n: int = 500) -> np.ndarray:
    z = torch.randn(n, generator.config.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return (generator.eval().images(z)[:, 0] * 255 + 0.5).to(torch.uint8).numpy()


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes(size):
    config = GANConfig(image_size=size, latent_dim=7)
    fake = GANGenerator(config)(torch.randn(4, 7))
    assert fake.shape == (4, 1, size, size) and fake.abs().max() <= 1
    assert GANDiscriminator(config)(fake).shape == (4,)


def test_losses_have_their_textbook_values():
    zero = torch.zeros(8)
    assert math.isclose(discriminator_loss(zero, zero).item(), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(generator_loss(zero).item(), math.log(2), rel_tol=1e-6)
    assert discriminator_loss(torch.full((8,), 20.0), torch.full((8,), -20.0)).item() < 1e-6


def test_the_class_check_recognises_digits_and_a_collapse(digits):
    assert (digit_classes(digits.images) == digits.labels).mean() > 0.95
    assert covered(class_shares(digits.images)) == 10
    collapsed = np.repeat(digits.images[:1], 50, axis=0)  # every sample the same "0"
    assert covered(class_shares(collapsed)) == 1


def test_not_collapsed_onto_one_digit(digits):
    # A third of the default steps already covers all ten classes; an untrained generator, the
    # control, puts nearly everything in one or two classes, so the check can fail.
    trained, _ = _fit("gan", digits, GANConfig(), TrainConfig(steps=300, lr=5e-4), quiet())
    shares = class_shares(_images(trained))
    assert covered(shares) >= 8 and shares.max() <= 0.3, shares.round(3)
    torch.manual_seed(0)
    control = class_shares(_images(GANGenerator(GANConfig())))
    assert covered(control) < 8 or control.max() > 0.3


def test_checkpoint_round_trip_gives_the_same_outputs(checkpoint, digits):
    trained, _ = _fit("gan", digits.subset(96), GANConfig(), TINY, quiet())
    loaded = load_image_generator(checkpoint, expect="gan")
    z = torch.randn(6, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(trained.images(z), loaded.images(z))
    # Only the generator is saved: sampling needs nothing else.
    assert all(not key.startswith("head") for key in load_file(checkpoint / "model.safetensors"))
    metrics = read_training_record(checkpoint)["metrics"]
    assert metrics["parameters"] == sum(p.numel() for p in trained.parameters())
    discriminator = GANDiscriminator(GANConfig())
    assert metrics["discriminator_parameters"] == sum(p.numel() for p in discriminator.parameters())
    assert set(metrics["losses"]) == {"d_loss", "g_loss", "d_real", "d_fake"}


def test_cli_generate_gan_matches_sampling_in_process(tmp_path, checkpoint):
    register_builtin()
    assert get("gan") is GANGeneratorCLI
    out = tmp_path / "cli"
    result = run_cli("generate", "gan", "--model", str(checkpoint), "--out", str(out), "--n", "8",
                     "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert f"sample set: {out}" in result.stdout
    samples = load_sample_set(out)
    assert len(samples) == 8
    assert {item.provenance["generator"] for item in samples} == {"gan"}
    assert {item.provenance["model_sha256"] for item in samples} == {
        read_training_record(checkpoint)["weights_sha256"]}
    here = write_sample_set(checkpoint, tmp_path / "here", n=8, seed=2)
    for item in samples:
        assert item.path.read_bytes() == (here / "images" / item.path.name).read_bytes()
    assert len({item.path.read_bytes() for item in samples}) == 8
