"""Sampling the image generators into a sample set: PNG files and a manifest with provenance.

Sampling is reproducible: the latents come from a ``torch.Generator`` seeded with ``seed``, the
models run in eval mode, and PNG encoding is deterministic, so the same checkpoint, seed and
parameters give byte-identical files. Each record's provenance names the generator, the sha256 of
the weights, the seed and the parameters (with the item's index in the draw).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from aigc_audit.errors import InputError
from aigc_audit.generators.image.data import save_png
from aigc_audit.generators.image.train import LoadedGenerator, load_image_generator
from aigc_audit.sampleset import IMAGE, MANIFEST_NAME, write_manifest

IMAGES_DIR = "images"


def sample_images(loaded: LoadedGenerator, *, n: int, seed: int, temperature: float = 1.0) -> np.ndarray:
    """(n, S, S) uint8 images drawn with latents ``temperature * N(0, I)``."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, loaded.latent_dim, generator=rng) * temperature  # (n, Z)
    with torch.no_grad():
        pixels = loaded.images(z)                                         # (n, 1, S, S) in [0, 1]
    return (pixels[:, 0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def write_sample_set(checkpoint: str | Path, out: str | Path, *, n: int, seed: int,
                     temperature: float = 1.0, expect: str | None = None,
                     created_at: str | None = None) -> Path:
    """Sample ``n`` images from ``checkpoint`` into the sample-set folder ``out``."""
    loaded = load_image_generator(checkpoint, expect=expect)
    out = _fresh_folder(Path(out))
    images = sample_images(loaded, n=n, seed=seed, temperature=temperature)
    created_at = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = []
    for index, image in enumerate(images):
        relative = f"{IMAGES_DIR}/{index:05d}.png"
        save_png(image, out / relative)
        records.append({"id": f"{loaded.kind}-s{seed}-{index:05d}", "modality": IMAGE, "path": relative,
                        "provenance": {"generator": loaded.kind, "model_sha256": loaded.weights_sha256,
                                       "seed": seed, "created_at": created_at,
                                       "params": {"n": n, "index": index, "temperature": temperature,
                                                  "image_size": loaded.config.image_size}}})
    write_manifest(out, records)
    return out


def _fresh_folder(out: Path) -> Path:
    """``out`` ready for a new set: an earlier sample set there is replaced, anything else refused."""
    if out.exists():
        if not out.is_dir():
            raise InputError("the output path exists and is not a folder; pass a folder for the sample "
                             "set", path=out)
        present = {p.name for p in out.iterdir()}
        if present and (MANIFEST_NAME not in present or present - {MANIFEST_NAME, IMAGES_DIR}):
            raise InputError(f"the output folder holds files other than an earlier sample set "
                             f"({sorted(present)[:5]}); pass a new or empty folder", path=out)
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        shutil.rmtree(out / IMAGES_DIR, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return out
