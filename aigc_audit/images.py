"""Opening one image item safely: every way an image file can be bad becomes an ``ItemError``.

Handled: missing or non-image files, truncated files, decompression bombs (too many pixels),
images too small to mean anything, EXIF rotation, and palette, 16-bit and alpha modes, which are
all brought to 8-bit grayscale or RGB on a white background.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from aigc_audit.errors import ItemError
from aigc_audit.sampleset import Item

# Far above any generated image, far below what would exhaust memory when decoded.
MAX_PIXELS = 64_000_000
MIN_SIDE = 4


def open_image(item: Item, *, mode: str = "L") -> Image.Image:
    """Decode ``item``'s image fully and return it in ``mode`` (``"L"`` or ``"RGB"``)."""
    if item.path is None:
        raise ItemError(item.id, "an image item has no file path")
    return open_image_file(Path(item.path), item_id=item.id, mode=mode)


def open_image_file(path: Path, *, item_id: str, mode: str = "L") -> Image.Image:
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB'; got {mode!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ItemError(item_id, f"image of {width}x{height} pixels exceeds the limit of "
                                             f"{MAX_PIXELS} pixels (possible decompression bomb)")
                image.load()
                image = ImageOps.exif_transpose(image)
    except ItemError:
        raise
    except FileNotFoundError:
        raise ItemError(item_id, f"file not found: {path}") from None
    except UnidentifiedImageError:
        raise ItemError(item_id, f"not an image file Pillow can read: {path.name}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ItemError(item_id, f"decompression bomb refused: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ItemError(item_id, f"cannot decode image {path.name}: {error}") from None
    if min(image.size) < MIN_SIDE:
        raise ItemError(item_id, f"image of {image.size[0]}x{image.size[1]} pixels is too small to "
                                 f"compare (minimum side {MIN_SIDE})")
    return _normalise_mode(image, mode)


def _normalise_mode(image: Image.Image, mode: str) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping at 255.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert(mode)
