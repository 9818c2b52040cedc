"""A small convolutional VAE for square grayscale images: the model and its config, nothing else.

The encoder halves the side with strided convolutions down to 4x4 and predicts the mean and
log-variance of a diagonal Gaussian posterior; the decoder mirrors it with transposed
convolutions and outputs Bernoulli logits per pixel. The loss is the usual negative ELBO:
binary cross-entropy summed over pixels plus the KL divergence to the standard normal prior,
averaged over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BASE_SIDE = 4  # the encoder stops, and the decoder starts, at a 4x4 feature map


def stages_for(image_size: int) -> int:
    """Number of stride-2 stages between ``BASE_SIDE`` and ``image_size`` (a power of two, 8 to 64)."""
    if image_size not in (8, 16, 32, 64):
        raise ValueError(f"image_size must be one of 8, 16, 32, 64 (a power of two the convolution "
                         f"stages can halve down to {BASE_SIDE}x{BASE_SIDE}); got {image_size!r}")
    return int(math.log2(image_size // BASE_SIDE))


@dataclass(frozen=True)
class VAEConfig:
    image_size: int = 16
    latent_dim: int = 16
    channels: int = 16  # width of the first convolution; doubles at each stage

    def __post_init__(self) -> None:
        stages_for(self.image_size)
        if self.latent_dim < 1 or self.channels < 1:
            raise ValueError(f"latent_dim and channels must be positive; got {self.latent_dim}, "
                             f"{self.channels}")


class VAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        stages = stages_for(config.image_size)
        widths = [config.channels * 2 ** i for i in range(stages)]  # e.g. [16, 32] for 16 px
        encoder: list[nn.Module] = []
        in_ch = 1
        for width in widths:
            encoder += [nn.Conv2d(in_ch, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            in_ch = width
        self.encoder = nn.Sequential(*encoder)
        self.top = widths[-1]
        flat = self.top * BASE_SIDE * BASE_SIDE
        self.to_mu = nn.Linear(flat, config.latent_dim)
        self.to_logvar = nn.Linear(flat, config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, flat)
        decoder: list[nn.Module] = []
        for width in reversed(widths[:-1]):
            decoder += [nn.ConvTranspose2d(in_ch, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            in_ch = width
        decoder.append(nn.ConvTranspose2d(in_ch, 1, 4, stride=2, padding=1))
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)                              # (B, top, 4, 4)
        h = h.flatten(1)                                 # (B, top * 16)
        return self.to_mu(h), self.to_logvar(h)          # (B, Z), (B, Z)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z)                          # (B, top * 16)
        h = F.leaky_relu(h, 0.2).view(-1, self.top, BASE_SIDE, BASE_SIDE)
        return self.decoder(h)                           # (B, 1, S, S) logits

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel intensities in [0, 1] for latent codes ``z`` of shape (B, Z)."""
        return torch.sigmoid(self.decode_logits(z))      # (B, 1, S, S)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits, posterior mean and log-variance for ``x`` (B, 1, S, S) in [0, 1].

        ``noise`` (B, Z) is the reparameterisation draw; passing it keeps training reproducible
        from an explicit ``torch.Generator``.
        """
        mu, logvar = self.encode(x)
        if noise is None:
            noise = torch.randn_like(mu)
        z = mu + noise * torch.exp(0.5 * logvar)         # (B, Z)
        return self.decode_logits(z), mu, logvar

    def loss(self, x: torch.Tensor, noise: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(negative ELBO, reconstruction term, KL term), each averaged over the batch."""
        logits, mu, logvar = self(x, noise)
        batch = x.shape[0]
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        return recon + kl, recon, kl
