"""The built-in image generator ``vae``: a small convolutional VAE (``generators.image.vae_model``).

Light at import time, like every registered generator: torch is imported only when training or
sampling (see ``generators.image.generator``).
"""

from __future__ import annotations

from aigc_audit.generators.image.generator import ImageGenerator


class VAE(ImageGenerator):
    name = "vae"
    description = "small convolutional VAE trained from scratch on CPU (digits built in, ~42k parameters)"
    default_steps = 800
    default_lr = 2e-3
    default_latent_dim = 16
