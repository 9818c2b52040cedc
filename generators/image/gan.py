"""The built-in image generator ``gan``: a small DCGAN (``generators.image.gan_model``).

Light at import time, like every registered generator: torch is imported only when training or
sampling (see ``generators.image.generator``).
"""

from __future__ import annotations

from aigc_audit.generators.image.generator import ImageGenerator


class GAN(ImageGenerator):
    name = "gan"
    description = "small DCGAN trained from scratch on CPU (digits built in, ~25k-parameter generator)"
    default_steps = 1000
    default_lr = 5e-4
    default_latent_dim = 32
