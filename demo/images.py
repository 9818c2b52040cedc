"""The demo's image releases: the built-in VAE and GAN trained on the digits, and a copying release.

Both generators are trained (or found in the cache) under ``OUT/checkpoints/``; their reference
sets are the checkpoints' ``reference/`` folders: the 1,708 training images with source and
licence, and the 89 digits (every twentieth) kept out of training, marked held out. The copying
release is the VAE release with one image in ten replaced by a training image under an edit that
copying survives (resized, re-encoded as JPEG, shifted by one pixel, flipped, brightened, noised,
cropped, turned by a few degrees, captioned), as when a pipeline passes training images off as generated ones.
Each planted copy names its original and edit in ``meta`` so that a reader can check what the
audit found.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
from rich.console import Console

from aigc_audit.demo.release import Release
from aigc_audit.generators.image.data import ImageData, load_image_data
from aigc_audit.generators.image.gan import GAN
from aigc_audit.generators.image.vae import VAE
from aigc_audit.sampleset import IMAGE, MANIFEST_NAME, write_manifest

DEMO_CREATED_AT = "2026-01-01T00:00:00Z"
SAMPLES = 100
COPY_EVERY = 10  # one planted copy per this many items of the copying release
# One digit in 20 is kept out of training and marked held out in the reference set, as the GPT keeps
# one document in 20.
HELD_OUT = 0.05


# Image sets already built in this process, by demo folder: one training run serves all three.
_BUILT: dict[Path, dict[str, tuple[Path, Path]]] = {}


def image_release(name: str, description: str, expected: str) -> Release:
    """One of the image releases (``vae-digits``, ``gan-digits``, ``vae-digits-copying``)."""

    def build(out: Path, console: Console) -> tuple[Path, Path]:
        key = Path(out).resolve()
        if key not in _BUILT:
            _BUILT[key] = build_image_sets(out, console)
        return _BUILT[key][name]

    return Release(name, description, expected, build)


def _resized(image: np.ndarray) -> Image.Image:
    side = image.shape[0] * 2
    return Image.fromarray(image, "L").resize((side, side), Image.Resampling.BICUBIC)


def _unchanged(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image, "L")


def _shifted(image: np.ndarray) -> Image.Image:
    moved = np.zeros_like(image)
    moved[:, 1:] = image[:, :-1]  # one pixel to the right; the digits' background is 0
    return Image.fromarray(moved, "L")


def _flipped(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(image[:, ::-1]), "L")


def _brightened(image: np.ndarray) -> Image.Image:
    return ImageEnhance.Brightness(Image.fromarray(image, "L")).enhance(1.15)


def _noised(image: np.ndarray, seed: int = 0) -> Image.Image:
    noise = np.random.default_rng(seed).normal(0.0, 6.0, image.shape)
    return Image.fromarray(np.clip(image + noise, 0, 255).round().astype(np.uint8), "L")


def _cropped(image: np.ndarray) -> Image.Image:
    side = image.shape[0]
    keep = round(side * 0.87)  # 75 % of the area, its bottom-right part, scaled back
    return Image.fromarray(image[side - keep:, side - keep:], "L").resize((side, side),
                                                                         Image.Resampling.BICUBIC)


def _captioned(image: np.ndarray) -> Image.Image:
    captioned = image.copy()
    rows = max(1, round(image.shape[0] * 0.19))  # a caption band over the bottom 19 % of the picture
    captioned[-rows:] = 255
    captioned[-rows + 1:-1, 2:-2:3] = 0  # its letters, as dark strokes
    return Image.fromarray(captioned, "L")


def _turned(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image, "L").rotate(8, resample=Image.Resampling.BICUBIC)


PNG = {"format": "PNG"}
# name -> (edit, how the edited image is saved); the JPEG edit is the lossy save itself.
EDITS: dict[str, tuple[Callable[[np.ndarray], Image.Image], dict]] = {
    "resized to 2x (bicubic)": (_resized, PNG),
    "JPEG re-encoded at quality 75": (_unchanged, {"format": "JPEG", "quality": 75}),
    "shifted one pixel right": (_shifted, PNG),
    "flipped left-right": (_flipped, PNG),
    "brightness +15%": (_brightened, PNG),
    "Gaussian noise, sigma 6/255": (_noised, PNG),
    "cropped to its bottom-right 75 % and scaled back": (_cropped, PNG),
    "turned 8 degrees counter-clockwise": (_turned, PNG),
    "captioned: a white band with letters over the bottom 19 %": (_captioned, PNG),
}


def build_image_sets(out: Path, console: Console) -> dict[str, tuple[Path, Path]]:
    """Train (or reuse) both generators under ``out`` and write the three image releases;
    returns release name -> (samples, reference)."""
    out = Path(out)
    from aigc_audit.generators.image.sample import write_sample_set
    from aigc_audit.generators.image.train import train_image_generator

    data, held_out = load_image_data().split_held_out(HELD_OUT)
    checkpoints = {}
    for generator in (VAE, GAN):
        checkpoints[generator.name] = train_image_generator(
            generator.name, data, out / "checkpoints" / generator.name,
            train_config=generator.default_train_config(), console=console, held_out=held_out)
    built = {}
    for generator in (VAE, GAN):
        checkpoint = checkpoints[generator.name]
        samples = write_sample_set(checkpoint, out / "samples" / f"{generator.name}-digits", n=SAMPLES,
                                   seed=0, created_at=DEMO_CREATED_AT)
        built[f"{generator.name}-digits"] = (samples, checkpoint / "reference")
    healthy, reference = built["vae-digits"]
    built["vae-digits-copying"] = (_plant_copies(healthy, out / "samples" / "vae-digits-copying", data),
                                   reference)
    return built


def _plant_copies(healthy: Path, folder: Path, data: ImageData) -> Path:
    """``healthy`` with every ``COPY_EVERY``-th image replaced by an edited training image."""
    records = [json.loads(line) for line in (healthy / MANIFEST_NAME).read_text().splitlines() if line]
    rng = random.Random(0)
    picks = rng.sample(range(len(data)), len(records[::COPY_EVERY]))
    edits = list(EDITS.items())
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    out_records = []
    for position, record in enumerate(records):
        record = dict(record)
        if position % COPY_EVERY:
            shutil.copyfile(healthy / record["path"], folder / record["path"])
        else:
            index = picks[position // COPY_EVERY]
            name, (edit, save) = edits[(position // COPY_EVERY) % len(edits)]
            suffix = ".jpg" if save["format"] == "JPEG" else ".png"
            record["path"] = Path(record["path"]).with_suffix(suffix).as_posix()
            edit(data.images[index]).save(folder / record["path"], **save)
            record["meta"] = {"planted_copy_of": data.ids[index], "source": data.sources[index],
                              "edit": name}
        record["modality"] = IMAGE
        out_records.append(record)
    write_manifest(folder, out_records)
    return folder
