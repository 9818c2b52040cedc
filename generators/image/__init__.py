"""The built-in image generators: a convolutional VAE and a DCGAN, trained on the same data.

``vae_model`` and ``gan_model`` hold the networks, ``train`` and ``sample`` the loops; they import
torch, so this face exposes only what is light.
"""

from aigc_audit.generators.image.gan import GAN
from aigc_audit.generators.image.vae import VAE

__all__ = ["GAN", "VAE"]
