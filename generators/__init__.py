"""Built-in generators: a small GPT for text, a VAE and a GAN for images.

Their modules import torch, so they are registered on demand by ``register_builtin`` rather than
at import time; ``generators.corpus`` and ``generators.base`` stay light.
"""

from aigc_audit.generators.base import Generator, get, names, register


def register_builtin() -> None:
    """Register the built-in generators (idempotent)."""
    from aigc_audit.generators.gpt.generator import GPT  # light: imports torch only when training or sampling
    from aigc_audit.generators.image.gan import GAN  # light, like gpt: torch only when training or sampling
    from aigc_audit.generators.image.vae import VAE

    register(GPT)
    register(VAE)
    register(GAN)


__all__ = ["Generator", "get", "names", "register", "register_builtin"]
