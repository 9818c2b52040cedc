"""Training the image generators, and their checkpoint folders.

A checkpoint folder holds::

    model.safetensors   the weights (for the GAN: the generator only, all that sampling needs)
    config.json         {"generator": "vae" | "gan", "model": {...the model config...}}
    training.json       training config, data fingerprint, cache key, weights sha256, metrics
    weights.sha256
    reference/          the training images as a reference set (PNGs, source and licence)

Training is deterministic for a seed: the models are initialised after ``torch.manual_seed`` and
every random draw after that (batch order, VAE noise, GAN latents) comes from one explicit
``torch.Generator``; training runs on one thread, so the result does not depend on how many cores
are free. The cache key hashes the training config with the data fingerprint, so a second run on
the same inputs trains nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from safetensors.torch import load_file, save_file

from aigc_audit.errors import InputError
from aigc_audit.generators.base import (
    TRAINING_FILE,
    cache_key,
    cached,
    read_training_record,
    write_training_record,
)
from aigc_audit.generators.image.data import ImageData, reference_fingerprint, write_reference_set
from aigc_audit.generators.image.gan_model import (
    GANConfig,
    GANDiscriminator,
    GANGenerator,
    discriminator_loss,
    generator_loss,
)
from aigc_audit.generators.image.vae_model import VAE, VAEConfig

VAE_NAME = "vae"
GAN_NAME = "gan"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
REFERENCE_DIR = "reference"
MODEL_CONFIGS: dict[str, type] = {VAE_NAME: VAEConfig, GAN_NAME: GANConfig}
# Bump when a change to training would change the weights, so that old caches are not reused.
TRAINER_VERSION = 1
_SHOW_EVERY = 10  # steps between progress-bar updates
_SMOOTHING = 50   # steps in the running mean of the losses shown and recorded


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    lr: float
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"steps and batch_size must be positive and lr > 0; got steps={self.steps}, "
                             f"batch_size={self.batch_size}, lr={self.lr}")


@dataclass(frozen=True)
class LoadedGenerator:
    """A checkpoint's sampling model, ready for ``sample_images``."""

    kind: str
    model: torch.nn.Module          # VAE or GANGenerator, in eval mode
    config: VAEConfig | GANConfig
    record: dict[str, Any]          # training.json
    folder: Path

    @property
    def weights_sha256(self) -> str:
        return self.record["weights_sha256"]

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def images(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) intensities in [0, 1] for latents (B, Z)."""
        return self.model.decode(z) if self.kind == VAE_NAME else self.model.images(z)


def train_image_generator(kind: str, data: ImageData, out: str | Path, *,
                          train_config: TrainConfig, model_config: VAEConfig | GANConfig | None = None,
                          console: Console | None = None, force: bool = False,
                          held_out: ImageData | None = None) -> Path:
    """Train ``kind`` ("vae" or "gan") on ``data`` into the folder ``out``; a cache hit is instant.
    ``held_out`` images (never trained on) join the checkpoint's reference set marked as held out."""
    if kind not in MODEL_CONFIGS:
        raise ValueError(f"kind must be one of {sorted(MODEL_CONFIGS)}; got {kind!r}")
    out = Path(out)
    console = console or Console(stderr=True)
    model_config = model_config or MODEL_CONFIGS[kind](image_size=data.size)
    if not isinstance(model_config, MODEL_CONFIGS[kind]):
        raise TypeError(f"a {kind} needs a {MODEL_CONFIGS[kind].__name__}; got {type(model_config).__name__}")
    if model_config.image_size != data.size:
        raise ValueError(f"model image_size {model_config.image_size} differs from the data's "
                         f"{data.size} px; load the data with size={model_config.image_size}")
    config = {"generator": kind, "model": asdict(model_config), "train": asdict(train_config),
              "trainer_version": TRAINER_VERSION}
    key = cache_key(config, reference_fingerprint(data, held_out))
    _report_data_problems(data, console)
    if not force and cached(out, key):
        console.print(f"{kind}: checkpoint {out} is up to date (cache key {key[:12]}); not training again")
        return out
    if out.exists() and any(out.iterdir()) and not (out / TRAINING_FILE).is_file():
        raise InputError("the output folder exists and is not a checkpoint; choose a new or empty "
                         "folder so that nothing of yours is overwritten", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Built in a sibling temporary folder and swapped in, so an interrupted run leaves no half
    # checkpoint that could later pass for a cached one.
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        started = time.perf_counter()
        model, losses = _fit(kind, data, model_config, train_config, console)
        weights = staging / WEIGHTS_FILE
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, weights)
        (staging / CONFIG_FILE).write_text(json.dumps({"generator": kind, "model": asdict(model_config)},
                                                      indent=2, sort_keys=True) + "\n")
        seconds = time.perf_counter() - started
        metrics = {"losses": losses, "seconds": round(seconds, 2), "torch": torch.__version__,
                   "parameters": parameter_count(model), "data": data.describe(),
                   "held_out_images": 0 if held_out is None else len(held_out)}
        if kind == GAN_NAME:  # trained alongside, not saved: sampling needs the generator only
            metrics["discriminator_parameters"] = parameter_count(GANDiscriminator(model_config))
        write_reference_set(data, staging / REFERENCE_DIR, held_out)
        write_training_record(staging, generator=kind, train_config=config,
                              data_fingerprint=reference_fingerprint(data, held_out), weights=weights,
                              metrics=metrics)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    shown = ", ".join(f"{name} {value:.3g}" for name, value in losses.items())
    console.print(f"{kind}: trained {train_config.steps} steps on {len(data)} images in {seconds:.1f} s "
                  f"({shown}); checkpoint {out}")
    return out


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _report_data_problems(data: ImageData, console: Console) -> None:
    for origin, reason in data.unreadable:
        console.print(f"[yellow]skipped unreadable image {origin}: {reason}[/]", highlight=False)
    if data.unreadable:
        console.print(f"[yellow]{len(data.unreadable)} image(s) could not be read and are not trained "
                      f"on; {len(data)} image(s) are[/]")
    for note in data.notes:
        console.print(f"[yellow]{note}[/]")


def _fit(kind: str, data: ImageData, model_config: VAEConfig | GANConfig, train_config: TrainConfig,
         console: Console) -> tuple[torch.nn.Module, dict[str, float]]:
    torch.manual_seed(train_config.seed)  # module initialisation draws from the global generator
    rng = torch.Generator().manual_seed(train_config.seed)
    x = torch.from_numpy(data.as_float())  # (N, 1, S, S) in [0, 1]
    train = _train_vae if kind == VAE_NAME else _train_gan
    threads = torch.get_num_threads()
    # Models this small gain nothing from intra-op threads, and on a busy machine OpenMP threads
    # waiting for each other made a step ten times slower (measured on 2 shared cores).
    torch.set_num_threads(1)
    try:
        with _progress(console) as progress:
            task = progress.add_task(f"training {kind}", total=train_config.steps, losses="")
            return train(x, model_config, train_config, rng,
                         lambda step, text: progress.update(task, completed=step, losses=text))
    finally:
        torch.set_num_threads(threads)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), console=console,
                    transient=True)


def _batches(n: int, batch_size: int, steps: int, rng: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches over shuffled epochs; a set smaller than a batch is one batch."""
    batch_size = min(batch_size, n)
    order, position = torch.randperm(n, generator=rng), 0
    for _ in range(steps):
        if position + batch_size > n:
            order, position = torch.randperm(n, generator=rng), 0
        yield order[position:position + batch_size]
        position += batch_size


class _Running:
    """Running means of named losses over the last ``_SMOOTHING`` steps."""

    def __init__(self, *names: str):
        self.values = {name: deque(maxlen=_SMOOTHING) for name in names}

    def add(self, **losses: torch.Tensor) -> None:
        for name, value in losses.items():
            self.values[name].append(float(value.detach()))

    def means(self) -> dict[str, float]:
        return {name: round(sum(v) / len(v), 4) for name, v in self.values.items()}

    def text(self) -> str:
        return "  ".join(f"{name} {value:.3f}" for name, value in self.means().items())


def _train_vae(x: torch.Tensor, config: VAEConfig, train: TrainConfig, rng: torch.Generator,
               show: Callable[[int, str], None]) -> tuple[torch.nn.Module, dict[str, float]]:
    model = VAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)
    running = _Running("loss", "recon", "kl")
    model.train()
    for step, index in enumerate(_batches(len(x), train.batch_size, train.steps, rng), start=1):
        batch = x[index]                                                   # (B, 1, S, S)
        noise = torch.randn(len(index), config.latent_dim, generator=rng)  # (B, Z)
        loss, recon, kl = model.loss(batch, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.add(loss=loss, recon=recon, kl=kl)
        if step % _SHOW_EVERY == 0 or step == train.steps:
            show(step, running.text())
    return model.eval(), running.means()


def _train_gan(x: torch.Tensor, config: GANConfig, train: TrainConfig, rng: torch.Generator,
               show: Callable[[int, str], None]) -> tuple[torch.nn.Module, dict[str, float]]:
    generator, discriminator = GANGenerator(config), GANDiscriminator(config)
    betas = (0.5, 0.999)  # DCGAN's setting: its authors found the default 0.9 oscillating
    opt_g = torch.optim.Adam(generator.parameters(), lr=train.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=train.lr, betas=betas)
    real_images = x * 2 - 1  # (N, 1, S, S) in [-1, 1], the generator's tanh range
    running = _Running("d_loss", "g_loss", "d_real", "d_fake")
    generator.train()
    discriminator.train()
    for step, index in enumerate(_batches(len(x), train.batch_size, train.steps, rng), start=1):
        real = real_images[index]                                          # (B, 1, S, S)
        z = torch.randn(len(index), config.latent_dim, generator=rng)      # (B, Z)
        fake = generator(z)                                                # (B, 1, S, S)
        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = generator_loss(discriminator(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        running.add(d_loss=d_loss, g_loss=g_loss, d_real=torch.sigmoid(real_logits).mean(),
                    d_fake=torch.sigmoid(fake_logits).mean())
        if step % _SHOW_EVERY == 0 or step == train.steps:
            show(step, running.text())
    return generator.eval(), running.means()


def load_image_generator(folder: str | Path, *, expect: str | None = None) -> LoadedGenerator:
    """Load a checkpoint folder's sampling model; weights are verified and read with safetensors."""
    folder = Path(folder)
    record = read_training_record(folder, verify=True)
    kind = record.get("generator")
    if kind not in MODEL_CONFIGS:
        raise InputError(f"checkpoint holds a {kind!r} model, not an image generator "
                         f"({sorted(MODEL_CONFIGS)})", path=folder)
    if expect is not None and kind != expect:
        raise InputError(f"checkpoint holds a {kind} model, not a {expect}; pass a {expect} checkpoint "
                         f"or use 'aigc-audit generate {kind}'", path=folder)
    config_path = folder / CONFIG_FILE
    try:
        stored = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{CONFIG_FILE} missing; train the checkpoint again", path=folder) from None
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg})", path=config_path, line=error.lineno) from None
    config_cls = MODEL_CONFIGS[kind]
    given = stored.get("model") if isinstance(stored, dict) else None
    valid = {f.name for f in fields(config_cls)}
    if not isinstance(given, dict) or set(given) - valid:
        raise InputError(f"'model' must be an object with keys from {sorted(valid)}; got {given!r}",
                         path=config_path)
    try:
        config = config_cls(**given)
    except (TypeError, ValueError) as error:
        raise InputError(f"invalid model config: {error}", path=config_path) from None
    model = VAE(config) if kind == VAE_NAME else GANGenerator(config)
    try:
        model.load_state_dict(load_file(folder / record["weights"]), strict=True)
    except RuntimeError as error:
        raise InputError(f"weights do not fit the model config: {str(error).splitlines()[0]}",
                         path=folder / record["weights"]) from None
    return LoadedGenerator(kind=kind, model=model.eval(), config=config, record=record, folder=folder)
