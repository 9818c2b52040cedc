"""Opening one image item safely: every way an image file can be bad becomes an ``ItemError``.

Handled: missing files and files that are not regular files (a FIFO is refused by ``stat``
before it is opened), files over the size limit, formats outside :data:`FORMATS`, truncated
files, decompression bombs (too many pixels), images too small to mean anything, EXIF rotation,
and palette, 16-bit and alpha modes, which are all brought to 8-bit grayscale or RGB on a white
background; LAB is brought to RGB first. Decoding *and* every conversion happen inside one guard,
so a colour mode Pillow cannot convert is an ``ItemError`` too, never the end of a run.

Only the formats in :data:`FORMATS` are opened: Pillow is given the list, so no other plugin ever
sees the file (an EPS named ``.png`` would otherwise reach Ghostscript). A file in another format
is reported with the format its first bytes are the signature of.

The size limit is read from the environment variable ``AIGC_AUDIT_MAX_IMAGE_BYTES`` each time an
image is opened (default 256 MiB, :data:`aigc_audit.sampleset.DEFAULT_MAX_IMAGE_BYTES`: a
:data:`MAX_PIXELS` image as 8-bit RGBA stored uncompressed); the file's size is checked before
any byte of it is read.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from aigc_audit.errors import ItemError
from aigc_audit.sampleset import (
    DEFAULT_MAX_IMAGE_BYTES,
    MAX_IMAGE_BYTES_ENV,
    Item,
    NotRegularFile,
    limit_from_env,
    open_regular,
)

__all__ = ["FORMATS", "MAX_IMAGE_BYTES_ENV", "MAX_PIXELS", "MIN_SIDE", "open_image", "open_image_file"]

# Far above any generated image, far below what would exhaust memory when decoded.
MAX_PIXELS = 64_000_000
MIN_SIDE = 4
# What generators write and people keep images in; Pillow's names.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
# What Pillow's decoders raise on a hostile file (its fuzzers treat these as expected).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError,
                  TypeError, ZeroDivisionError, OverflowError, NotImplementedError)


def open_image(item: Item, *, mode: str = "L") -> Image.Image:
    """Decode ``item``'s image fully and return it in ``mode`` (``"L"`` or ``"RGB"``)."""
    if item.path is None:
        raise ItemError(item.id, "an image item has no file path")
    return open_image_file(Path(item.path), item_id=item.id, mode=mode)


def open_image_file(path: Path, *, item_id: str, mode: str = "L") -> Image.Image:
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB'; got {mode!r}")
    path = Path(path)
    limit = limit_from_env(MAX_IMAGE_BYTES_ENV, DEFAULT_MAX_IMAGE_BYTES)
    try:
        handle = open_regular(path)
    except FileNotFoundError:
        raise ItemError(item_id, f"file not found: {path}") from None
    except NotRegularFile as error:
        raise ItemError(item_id, f"{path.name} is {error.kind}, not a regular file") from None
    except (OSError, ValueError) as error:
        raise ItemError(item_id, f"cannot open {path.name}: {error}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise ItemError(item_id, f"image file of {size} bytes exceeds the limit of {limit} bytes "
                                     f"(set {MAX_IMAGE_BYTES_ENV} to change it)")
        return _decode(handle, path, item_id, mode)


def _decode(handle: BinaryIO, path: Path, item_id: str, mode: str) -> Image.Image:
    """Everything from the first byte to the image in ``mode``, inside one guard."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ItemError(item_id, f"image of {width}x{height} pixels exceeds the limit of "
                                             f"{MAX_PIXELS} pixels (possible decompression bomb)")
                image.load()
                image = ImageOps.exif_transpose(image)
                if min(image.size) < MIN_SIDE:
                    raise ItemError(item_id, f"image of {image.size[0]}x{image.size[1]} pixels is too "
                                             f"small to compare (minimum side {MIN_SIDE})")
                source_mode = image.mode
                try:
                    return _normalise_mode(image, mode)
                except _DECODE_ERRORS as error:
                    raise ItemError(item_id, f"cannot convert image {path.name} from colour mode "
                                             f"{source_mode} to {mode}: {error}") from None
    except ItemError:
        raise
    except UnidentifiedImageError:
        found = _signature_format(handle)
        if found is not None and found not in FORMATS:
            raise ItemError(item_id, f"{path.name} starts with the signature of image format {found}, "
                                     f"which the audit does not read (it reads {', '.join(FORMATS)}); "
                                     "convert it to PNG") from None
        raise ItemError(item_id, f"not an image file Pillow can read: {path.name}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ItemError(item_id, f"decompression bomb refused: {error}") from None
    except _DECODE_ERRORS as error:
        raise ItemError(item_id, f"cannot decode image {path.name}: {error}") from None


def _signature_format(handle: BinaryIO) -> str | None:
    """The format whose signature the file starts with, found the way Pillow identifies files but
    without letting any plugin read more than those first bytes; None when none matches."""
    try:
        handle.seek(0)
        prefix = handle.read(16)
    except OSError:
        return None
    Image.init()
    for name, (_, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(prefix):
                return name
        except Exception:  # noqa: BLE001 (a signature check that fails on these bytes did not match)
            continue
    return None


def _normalise_mode(image: Image.Image, mode: str) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping at 255.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "LAB":
        # Pillow converts LAB to RGB (D65, sRGB) but to nothing else: grayscale goes through RGB.
        image = image.convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert(mode)
