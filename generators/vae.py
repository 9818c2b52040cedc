"""The built-in image generator ``vae``: a small convolutional VAE (``generators.vae_model``).

Light at import time, like every registered generator: torch is imported only when training or
sampling (see ``generators.image_generator``).
"""

from __future__ import annotations

from generators.image_generator import ImageGenerator


class VAE(ImageGenerator):
    name = "vae"
    description = "small convolutional VAE trained from scratch on CPU (digits built in, ~42k parameters)"
    default_steps = 800
    default_lr = 2e-3
    default_latent_dim = 16
