"""Sample and reference sets for the quality-metric tests, written the way users write them:
scikit-learn's digits as 16x16 PNGs, Shakespeare passages from the built-in corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from aigc_audit.sampleset import REFERENCE, SAMPLES, SampleSet, load_sample_set, write_manifest

DIGITS_LICENSE = "CC BY 4.0 (UCI optical digits, via scikit-learn)"


def digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 16, 16) uint8 images (0 = background) and their (1797,) labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    raw = np.rint(data.images / 16.0 * 255.0).astype(np.uint8)
    images = np.stack([np.asarray(Image.fromarray(x).resize((16, 16), Image.Resampling.BILINEAR))
                       for x in raw])
    return images, data.target.astype(np.int64)


def write_image_set(folder: Path, images: np.ndarray, *, labels: Sequence[int] | None = None,
                    reference: bool = False, prefix: str = "img") -> SampleSet:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i, image in enumerate(images):
        path = f"images/{prefix}-{i:04d}.png"
        Image.fromarray(image).save(folder / path)
        record = {"id": f"{prefix}-{i:04d}", "modality": "image", "path": path}
        if reference:
            record.update(source=f"digits #{i}", license=DIGITS_LICENSE)
            if labels is not None:
                record["meta"] = {"label": int(labels[i])}
        else:
            record["provenance"] = {"generator": "test", "seed": i}
        records.append(record)
    write_manifest(folder, records)
    return load_sample_set(folder, role=REFERENCE if reference else SAMPLES)


def write_text_set(folder: Path, texts: Sequence[str], *, reference: bool = False,
                   prefix: str = "t") -> SampleSet:
    records = []
    for i, text in enumerate(texts):
        record = {"id": f"{prefix}-{i:04d}", "modality": "text", "text": text}
        if reference:
            record.update(source=f"test corpus {i}", license="public domain")
        else:
            record["provenance"] = {"generator": "test", "seed": i}
        records.append(record)
    write_manifest(folder, records)
    return load_sample_set(folder, role=REFERENCE if reference else SAMPLES)
