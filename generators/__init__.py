"""Built-in generators: a small GPT for text, a VAE and a GAN for images."""
