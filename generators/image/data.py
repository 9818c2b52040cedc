"""Training images for the image generators: the built-in digits, or a user's folder of images.

The built-in set is scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test
set (E. Alpaydin and C. Kaynak, 1998): 1,797 images of 8x8 pixels, ink counts 0..16, shipped
inside scikit-learn, so nothing is downloaded. The UCI Machine Learning Repository publishes the
dataset under CC BY 4.0; scikit-learn itself is BSD-3-Clause.

Images are upscaled from 8x8 to 16x16 (``DEFAULT_SIZE``) with bilinear interpolation. 16 px is the
smallest size at which the images are ordinary image files that perceptual hashing and viewers
handle well, while the generators stay small enough to train in well under a minute on two CPU
cores; larger sizes add no information to an 8x8 source and quadruple the cost with each doubling.

A user's folder (or a manifest of image records) is read with :func:`load_sample_set`; every image
is decoded with :func:`open_image`, centre-cropped to a square and resized. An image that cannot
be read is listed in ``ImageData.unreadable`` and reported by training, never dropped silently.

Pixel convention everywhere: uint8, 0 = background, 255 = full ink (the digits' own convention).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aigc_audit.errors import InputError, ItemError
from aigc_audit.generators.base import fingerprint
from aigc_audit.images import open_image
from aigc_audit.sampleset import (
    HELDOUT_SPLIT,
    IMAGE,
    MANIFEST_NAME,
    TRAIN_SPLIT,
    load_sample_set,
    write_manifest,
)

DIGITS = "digits"
DEFAULT_SIZE = 16
SIZES = (8, 16, 32, 64)  # what the convolutional models accept
DIGITS_SIDE = 8
DIGITS_MAX = 16  # ink counts per 4x4 block of the original 32x32 bitmaps
DIGITS_LICENSE = ("CC BY 4.0 (UCI ML Repository: Optical Recognition of Handwritten Digits, "
                  "E. Alpaydin and C. Kaynak, 1998; shipped in scikit-learn, BSD-3-Clause)")
UNKNOWN_LICENSE = "unknown (no licence given to 'aigc-audit train'; pass --license)"
FINGERPRINT_FILE = "data_fingerprint.txt"


@dataclass(frozen=True, eq=False)
class ImageData:
    """Training images, one row each, with where they came from."""

    name: str                                  # "digits" or the folder's path
    images: np.ndarray                         # (N, S, S) uint8, 0 = background
    ids: tuple[str, ...]
    sources: tuple[str, ...]
    licenses: tuple[str, ...]
    labels: np.ndarray | None = None           # (N,) digit classes for the built-in set
    unreadable: tuple[tuple[str, str], ...] = ()  # (item origin, reason) for each skipped image
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over each image's pixels as trained on, with its id, source and licence.

        The metadata counts because the checkpoint's reference set is written from it.
        """
        n, h, w = self.images.shape

        def chunks() -> Iterator[bytes]:
            yield f"uint8 images {n}x{h}x{w}".encode()
            for i, image in enumerate(self.images):
                yield f"{self.ids[i]}\0{self.sources[i]}\0{self.licenses[i]}".encode()
                yield image.tobytes()

        return fingerprint(chunks())

    def as_float(self) -> np.ndarray:
        """(N, 1, S, S) float32 in [0, 1], the models' input."""
        return (self.images.astype(np.float32) / 255.0)[:, None]

    def subset(self, count: int) -> ImageData:
        """The first ``count`` images (for tests and for deliberately overfit models)."""
        if not 1 <= count <= len(self):
            raise ValueError(f"count must be in [1, {len(self)}]; got {count}")
        return ImageData(name=self.name, images=self.images[:count], ids=self.ids[:count],
                         sources=self.sources[:count], licenses=self.licenses[:count],
                         labels=None if self.labels is None else self.labels[:count],
                         unreadable=self.unreadable, notes=self.notes)

    def split_held_out(self, share: float) -> tuple[ImageData, ImageData | None]:
        """``(train, held out)``: every ``round(1 / share)``-th image kept out of training, as the
        GPT's documents are; ``(self, None)`` for a share of 0."""
        if not 0.0 <= share < 0.5:
            raise InputError(f"held-out share must be in [0, 0.5); got {share}")
        every = round(1 / share) if share else 0
        if not every or len(self) < every:
            return self, None
        held = np.arange(len(self)) % every == every - 1
        return self._rows(~held), self._rows(held)

    def _rows(self, mask: np.ndarray) -> ImageData:
        pick = np.flatnonzero(mask)
        return ImageData(name=self.name, images=self.images[pick], ids=tuple(self.ids[i] for i in pick),
                         sources=tuple(self.sources[i] for i in pick),
                         licenses=tuple(self.licenses[i] for i in pick),
                         labels=None if self.labels is None else self.labels[pick],
                         unreadable=self.unreadable, notes=self.notes)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "images": len(self), "size": self.size,
                "unreadable": [{"item": origin, "reason": reason} for origin, reason in self.unreadable],
                "notes": list(self.notes)}


def load_image_data(data: str | Path = DIGITS, *, size: int = DEFAULT_SIZE, limit: int | None = None,
                    license: str | None = None) -> ImageData:
    """``"digits"`` for the built-in set, otherwise a folder of images or a manifest folder.

    ``limit`` keeps the first ``limit`` images; ``license`` is recorded for a user's images that
    carry none.
    """
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1; got {limit}")
    if str(data) == DIGITS:
        loaded = load_digits_data(size=size)
    else:
        loaded = load_folder_data(Path(data), size=size, license=license)
    return loaded if limit is None or limit >= len(loaded) else loaded.subset(limit)


def load_digits_data(*, size: int = DEFAULT_SIZE) -> ImageData:
    _check_size(size)
    counts, labels = digits_arrays()
    raw = np.rint(counts / DIGITS_MAX * 255.0).astype(np.uint8)  # (1797, 8, 8)
    images = np.stack([_resize(image, size, Image.Resampling.BILINEAR) for image in raw])
    ids = tuple(f"digits-{i:04d}" for i in range(len(raw)))
    sources = tuple(f"sklearn digits #{i} (class {label})" for i, label in enumerate(labels))
    return ImageData(name=DIGITS, images=images, ids=ids, sources=sources,
                     licenses=(DIGITS_LICENSE,) * len(raw), labels=labels)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 8, 8) ink counts and (1797,) labels, as ``sklearn.datasets.load_digits`` returns them.

    The CSV that scikit-learn ships is read directly when it is where scikit-learn keeps it:
    importing ``sklearn.datasets`` takes seconds, which would dominate a cached training run.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        csv = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            table = np.loadtxt(csv, delimiter=",")  # (1797, 65): 64 pixels, then the label
            if table.shape == (1797, DIGITS_SIDE * DIGITS_SIDE + 1):
                return (table[:, :-1].reshape(-1, DIGITS_SIDE, DIGITS_SIDE),
                        table[:, -1].astype(np.int64))
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target.astype(np.int64)


def load_folder_data(path: Path, *, size: int = DEFAULT_SIZE, license: str | None = None) -> ImageData:
    _check_size(size)
    samples = load_sample_set(path)
    images, ids, sources, licenses, unreadable = [], [], [], [], []
    other = 0
    for item in samples:
        if item.modality != IMAGE:
            other += 1
            continue
        try:
            image = open_image(item, mode="L")
        except ItemError as error:
            unreadable.append((item.origin, error.reason))
            continue
        images.append(_resize(np.asarray(_square(image)), size, Image.Resampling.LANCZOS))
        ids.append(item.id)
        sources.append(item.source or item.origin)
        licenses.append(item.license or license or UNKNOWN_LICENSE)
    if not images:
        reasons = "; ".join(f"{origin}: {reason}" for origin, reason in unreadable[:3])
        raise InputError(f"no readable image to train on ({len(unreadable)} unreadable, {other} "
                         f"non-image item(s)){': ' + reasons if reasons else ''}; pass a folder of "
                         "PNG/JPEG images or 'digits' for the built-in set", path=path)
    notes = (f"{other} non-image item(s) are not used for training",) if other else ()
    return ImageData(name=str(path), images=np.stack(images), ids=tuple(ids), sources=tuple(sources),
                     licenses=tuple(licenses), unreadable=tuple(unreadable), notes=notes)


def _check_size(size: int) -> None:
    if size not in SIZES:
        raise InputError(f"image size must be one of {list(SIZES)} (the models halve it down to 4x4); "
                         f"got {size}")


def _square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def _resize(array: np.ndarray, size: int, method: Image.Resampling) -> np.ndarray:
    image = Image.fromarray(array, mode="L")
    if image.size != (size, size):
        image = image.resize((size, size), method)
    return np.asarray(image, dtype=np.uint8)


def save_png(array: np.ndarray, path: Path) -> None:
    """Write one (S, S) uint8 image as an 8-bit grayscale PNG (byte-identical for equal pixels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array), mode="L").save(path, format="PNG")


def reference_records(data: ImageData, *, split: str = TRAIN_SPLIT
                      ) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    for i, item_id in enumerate(data.ids):
        record: dict[str, Any] = {"id": item_id, "modality": IMAGE, "path": f"images/{item_id}.png",
                                  "source": data.sources[i], "license": data.licenses[i]}
        if split != TRAIN_SPLIT:
            record["split"] = split
        if data.labels is not None:
            record["meta"] = {"label": int(data.labels[i])}
        yield record, data.images[i]


def reference_fingerprint(data: ImageData, held_out: ImageData | None = None) -> str:
    """What a reference set is written from: the training images, and the held-out ones if any."""
    return data.fingerprint if held_out is None else fingerprint(
        [data.fingerprint.encode(), held_out.fingerprint.encode()])


def write_reference_set(data: ImageData, folder: str | Path, held_out: ImageData | None = None) -> Path:
    """Write the training images as a reference set (PNGs + manifest with source and licence),
    then the ``held_out`` images marked ``"split": "heldout"``.

    Skipped when ``folder`` already holds the reference set of the same data.
    """
    folder = Path(folder)
    stamp = folder / FINGERPRINT_FILE
    digest = reference_fingerprint(data, held_out)
    if (folder / MANIFEST_NAME).is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return folder
    records = []
    rows = list(reference_records(data))
    if held_out is not None:
        rows += list(reference_records(held_out, split=HELDOUT_SPLIT))
    for record, image in rows:
        save_png(image, folder / record["path"])
        records.append(record)
    write_manifest(folder, records)
    stamp.write_text(digest + "\n")
    return folder

