"""A small DCGAN for square grayscale images: generator, discriminator, losses and config.

DCGAN layout (Radford et al., 2016): the generator grows a 4x4 map with transposed convolutions,
batch norm and ReLU to the image size and ends in tanh; the discriminator mirrors it with strided
convolutions and LeakyReLU. For stability on a dataset this small, the discriminator uses spectral
normalisation instead of batch norm (Miyato et al., 2018), which keeps it from overpowering the
generator early; that, with the non-saturating loss, is what avoids collapsing onto one digit.
Pixels live in [-1, 1] inside the models; ``GANGenerator.images`` maps them back to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from aigc_audit.generators.image.vae_model import BASE_SIDE, stages_for


@dataclass(frozen=True)
class GANConfig:
    image_size: int = 16
    latent_dim: int = 32
    channels: int = 16  # width at full resolution; doubles at each stage towards 4x4

    def __post_init__(self) -> None:
        stages_for(self.image_size)
        if self.latent_dim < 1 or self.channels < 1:
            raise ValueError(f"latent_dim and channels must be positive; got {self.latent_dim}, "
                             f"{self.channels}")


def _widths(config: GANConfig) -> list[int]:
    return [config.channels * 2 ** i for i in range(stages_for(config.image_size))]


class GANGenerator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        widths = _widths(config)  # e.g. [16, 32] for 16 px
        self.top = widths[-1]
        self.project = nn.Linear(config.latent_dim, self.top * BASE_SIDE * BASE_SIDE, bias=False)
        self.project_norm = nn.BatchNorm2d(self.top)
        layers: list[nn.Module] = []
        in_ch = self.top
        for width in reversed(widths[:-1]):
            layers += [nn.ConvTranspose2d(in_ch, width, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU()]
            in_ch = width
        layers += [nn.ConvTranspose2d(in_ch, 1, 4, stride=2, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.top, BASE_SIDE, BASE_SIDE)  # (B, top, 4, 4)
        h = F.relu(self.project_norm(h))
        return self.net(h)                                             # (B, 1, S, S) in [-1, 1]

    def images(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel intensities in [0, 1] for latent codes ``z`` of shape (B, Z)."""
        return (self(z) + 1) / 2                                       # (B, 1, S, S)


class GANDiscriminator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        widths = _widths(config)
        layers: list[nn.Module] = []
        in_ch = 1
        for width in widths:
            layers += [spectral_norm(nn.Conv2d(in_ch, width, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            in_ch = width
        self.net = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(in_ch * BASE_SIDE * BASE_SIDE, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)                                  # (B, top, 4, 4)
        return self.head(h.flatten(1)).squeeze(1)        # (B,) real-vs-fake logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: real images towards 1, generated ones towards 0."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
