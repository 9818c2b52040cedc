"""What the built-in image generators ``vae`` and ``gan`` share: their command-line options.

This module is imported for every CLI call (the registry builds the ``train``/``generate``
sub-commands), so it stays light: torch is imported only inside ``train_from_args`` and
``generate_from_args``, through ``image_train`` and ``image_sample``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from aigc_audit.generators.base import Generator
from aigc_audit.generators.image.data import DEFAULT_SIZE, DIGITS, SIZES

if TYPE_CHECKING:
    from aigc_audit.generators.image.train import TrainConfig

DEFAULT_BATCH_SIZE = 64


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {number}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be positive; got {value}")
    return number


class ImageGenerator(Generator):
    """Base of ``vae`` and ``gan``; subclasses set ``name``, ``description`` and the defaults."""

    default_steps: ClassVar[int]
    default_lr: ClassVar[float]
    default_latent_dim: ClassVar[int]
    default_channels: ClassVar[int] = 16

    @classmethod
    def add_train_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", default=DIGITS,
                            help=f"'{DIGITS}' (scikit-learn's 1,797 handwritten digits, built in), or a "
                                 "folder of images, or a sample/reference set folder (default: %(default)s)")
        parser.add_argument("--size", type=int, choices=SIZES, default=DEFAULT_SIZE,
                            help="side of the square images trained on, in pixels (default: %(default)s)")
        parser.add_argument("--limit", type=_positive_int, help="train on the first N images only (a "
                            "small slice: to overfit deliberately)")
        parser.add_argument("--license", help="licence recorded for images that carry none (user folders)")
        parser.add_argument("--held-out", type=float, default=0.05, help="share of images (every k-th) kept "
                            "out of training; the checkpoint's reference set marks them held out for the "
                            "memorization checks (default: %(default)s)")
        parser.add_argument("--out", required=True, type=Path, help="checkpoint folder")
        parser.add_argument("--steps", type=_positive_int, default=cls.default_steps,
                            help="optimizer steps (default: %(default)s)")
        parser.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE,
                            help="images per step (default: %(default)s)")
        parser.add_argument("--lr", type=_positive_float, default=cls.default_lr,
                            help="Adam learning rate (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
        parser.add_argument("--latent-dim", type=_positive_int, default=cls.default_latent_dim,
                            help="latent dimensions (default: %(default)s)")
        parser.add_argument("--channels", type=_positive_int, default=cls.default_channels,
                            help="convolution width at full resolution, doubled at each halving "
                                 "(default: %(default)s)")
        parser.add_argument("--force", action="store_true", help="train even when the checkpoint is cached")

    @classmethod
    def train_from_args(cls, args: argparse.Namespace) -> Path:
        from aigc_audit.generators.image.data import load_image_data
        from aigc_audit.generators.image.train import MODEL_CONFIGS, TrainConfig, train_image_generator

        data, held_out = load_image_data(args.data, size=args.size, limit=args.limit,
                                         license=args.license).split_held_out(args.held_out)
        model_config = MODEL_CONFIGS[cls.name](image_size=args.size, latent_dim=args.latent_dim,
                                               channels=args.channels)
        train_config = TrainConfig(steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        return train_image_generator(cls.name, data, args.out, model_config=model_config,
                                     train_config=train_config, force=args.force, held_out=held_out)

    @classmethod
    def default_train_config(cls, **changes: object) -> TrainConfig:
        """The training config ``aigc-audit train NAME`` uses by default, with ``changes``."""
        from aigc_audit.generators.image.train import TrainConfig

        values = {"steps": cls.default_steps, "lr": cls.default_lr, "batch_size": DEFAULT_BATCH_SIZE,
                  "seed": 0}
        return TrainConfig(**{**values, **changes})

    @classmethod
    def add_generate_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", required=True, type=Path,
                            help=f"checkpoint folder from 'aigc-audit train {cls.name}'")
        parser.add_argument("--out", required=True, type=Path, help="sample set folder to write")
        parser.add_argument("--n", type=_positive_int, default=100,
                            help="number of images (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
        parser.add_argument("--temperature", type=_positive_float, default=1.0,
                            help="scale of the latent draws; below 1: more typical, less varied images "
                                 "(default: %(default)s)")

    @classmethod
    def generate_from_args(cls, args: argparse.Namespace) -> Path:
        from aigc_audit.generators.image.sample import write_sample_set

        return write_sample_set(args.model, args.out, n=args.n, seed=args.seed,
                                temperature=args.temperature, expect=cls.name)
