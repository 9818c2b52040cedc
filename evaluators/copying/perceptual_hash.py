"""Perceptual hashes of images, packed into unsigned 64-bit integers.

pHash and dHash exactly as ``imagehash.phash`` and ``imagehash.dhash`` compute them with their
default sizes (the same Pillow resize, the same DCT, the same median), so that a packed value
equals ``int(str(imagehash.phash(image)), 16)`` bit for bit. Only the resize runs per image; the
DCT, the median, the comparisons and the packing run once over the whole batch, which is what
makes this faster than calling ``imagehash`` per image.

Bit order is imagehash's: the 8x8 bit matrix read row by row, first bit most significant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

HASH_SIZE = 8
HASH_BITS = HASH_SIZE * HASH_SIZE
# imagehash.phash's default highfreq_factor=4: the DCT runs on a 32x32 image.
PHASH_SIDE = HASH_SIZE * 4
# imagehash's ANTIALIAS on every Pillow it supports today.
RESAMPLE = Image.Resampling.LANCZOS


def phash_pixels(image: Image.Image) -> np.ndarray:
    """The (32, 32) uint8 grayscale pixels that pHash transforms."""
    return np.asarray(_gray(image).resize((PHASH_SIDE, PHASH_SIDE), RESAMPLE))


def dhash_pixels(image: Image.Image) -> np.ndarray:
    """The (8, 9) uint8 grayscale pixels whose horizontal differences are dHash."""
    return np.asarray(_gray(image).resize((HASH_SIZE + 1, HASH_SIZE), RESAMPLE))


def _gray(image: Image.Image) -> Image.Image:
    # convert("L") of an "L" image is a plain copy; skipping it changes no pixel.
    return image if image.mode == "L" else image.convert("L")


def phash_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """pHash of a (N, 32, 32) batch of grayscale pixels, as (N,) uint64."""
    import scipy.fftpack  # imagehash's DCT; imported here, as every CLI call builds the registry

    pixels = _batch(pixels, (PHASH_SIDE, PHASH_SIDE), "phash_from_pixels")
    # Same calls as imagehash, on axes 1 and 2 of the batch instead of 0 and 1 of one image.
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)
    low = dct[:, :HASH_SIZE, :HASH_SIZE].reshape(len(pixels), HASH_BITS)  # (N, 64)
    median = np.median(low, axis=1, keepdims=True)
    return pack_bits(low > median)


def dhash_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """dHash of a (N, 8, 9) batch of grayscale pixels, as (N,) uint64."""
    pixels = _batch(pixels, (HASH_SIZE, HASH_SIZE + 1), "dhash_from_pixels")
    bits = pixels[:, :, 1:] > pixels[:, :, :-1]  # (N, 8, 8)
    return pack_bits(bits.reshape(len(pixels), HASH_BITS))


def _batch(pixels: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[1:] != shape:
        raise ValueError(f"{what} needs a (N, {shape[0]}, {shape[1]}) array of pixels; got shape "
                         f"{pixels.shape}")
    return pixels


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(N, 64) booleans to (N,) uint64, first bit most significant."""
    bits = np.asarray(bits, dtype=bool)
    if bits.ndim != 2 or bits.shape[1] != HASH_BITS:
        raise ValueError(f"pack_bits needs a (N, {HASH_BITS}) boolean array; got shape {bits.shape}")
    return np.packbits(bits, axis=1).view(">u8")[:, 0].astype(np.uint64)


def unpack_bits(hashes: np.ndarray) -> np.ndarray:
    """(N,) uint64 back to (N, 64) booleans; the inverse of :func:`pack_bits`."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    return np.unpackbits(hashes.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1).astype(bool)


def perceptual_hashes(images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """``(phash, dhash)`` of each image, each an (N,) uint64 array."""
    if not images:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    gray = [_gray(image) for image in images]
    return (phash_from_pixels(np.stack([phash_pixels(g) for g in gray])),
            dhash_from_pixels(np.stack([dhash_pixels(g) for g in gray])))


def hash_hex(value: int | np.integer) -> str:
    """The 16-digit hex form, the same as ``str()`` of the matching ``imagehash.ImageHash``."""
    return f"{int(value):016x}"
