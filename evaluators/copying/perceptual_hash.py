"""Perceptual hashes of images, packed into unsigned 64-bit integers.

pHash and dHash exactly as ``imagehash.phash`` and ``imagehash.dhash`` compute them with their
default sizes (the same grayscale conversion, the same Lanczos resize, the same DCT, the same
median), so that a packed value equals ``int(str(imagehash.phash(image)), 16)`` bit for bit.

:func:`perceptual_hashes` works in batches of images of one size. Small images are pasted into
one tall image and read out at once, and resized by Pillow's own two-pass convolution (its Lanczos
coefficients in 22-bit fixed point, rounding and clipping after each pass) written as two matrix
products over the stack, in the pass order the installed Pillow uses for that pair of sizes
(:func:`pass_order`): one product for both hashes' horizontal pass, one for each vertical pass with
the images laid side by side, in steps small enough for the cache, on one BLAS thread. Images over
128x128 pixels, where a dense product does several times the work of Pillow's banded convolution,
are resized by Pillow one by one. The DCT, median and packing run once per step. Converting and
resizing image by image costs more than the rest of ``imagehash`` together, which is why batching
only the DCT did not beat a per-image loop; for large colour images Pillow's conversion to gray
and its resize, which a loop does too, remain most of the time.

Bit order is imagehash's: the 8x8 bit matrix read row by row, first bit most significant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

HASH_SIZE = 8
HASH_BITS = HASH_SIZE * HASH_SIZE
# imagehash.phash's default highfreq_factor=4: the DCT runs on a 32x32 image.
PHASH_SIDE = HASH_SIZE * 4
# imagehash's ANTIALIAS on every Pillow it supports today.
RESAMPLE = Image.Resampling.LANCZOS
# Pillow's fixed point for 8-bit resampling (Resample.c: PRECISION_BITS = 32 - 8 - 2).
_PRECISION_BITS = 22
# Pixels per batch of one size: bounds the float64 products to a few hundred MiB.
_BATCH_PIXELS = 1 << 24
# Resized pixels per step within a batch: the float64 products (512 KiB) stay in the cache, which
# makes the rounding and the DCT twice as fast as over the whole batch at once.
_STEP_CELLS = 1 << 16
# Images up to this many pixels are read out together (see _gray_stack).
_PASTE_PIXELS = 64 * 64
# Images up to this many pixels are resized by matrix products; larger ones by Pillow, one by one.
_MATMUL_PIXELS = 128 * 128


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
    # Same calls as imagehash, on axes 1 and 2 of the batch instead of 0 and 1 of one image. The
    # second transform runs on the 8 rows that are kept only: each row is transformed on its own,
    # so the values are the same to the last bit, for a quarter of the work.
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1)[:, :HASH_SIZE, :], axis=2)
    low = dct[:, :, :HASH_SIZE].reshape(len(pixels), HASH_BITS)  # (N, 64)
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


def _lanczos(x: np.ndarray) -> np.ndarray:
    """Pillow's Lanczos window (a = 3): sinc(x) * sinc(x / 3) on [-3, 3), else 0."""
    def sinc(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(v == 0.0, 1.0, np.sin(v * math.pi) / (v * math.pi))
    return np.where((x >= -3.0) & (x < 3.0), sinc(x) * sinc(x / 3.0), 0.0)


@lru_cache(maxsize=256)
def resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """The ``(in_size, out_size)`` float64 matrix of Pillow's integer Lanczos coefficients for one
    axis (``precompute_coeffs`` and ``normalize_coeffs_8bpc`` in Pillow's Resample.c)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for out in range(out_size):
        center = (out + 0.5) * scale
        # C's (int) truncates toward zero; a negative start is clamped to 0 either way.
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        # Multiplied by the reciprocal, as Pillow does: dividing rounds differently.
        w = _lanczos((np.arange(lo, hi) - center + 0.5) * (1.0 / filterscale))
        total = w.sum()
        if total != 0.0:
            w = w / total
        fixed = w * (1 << _PRECISION_BITS)
        weights[out, lo:hi] = np.where(w < 0, np.trunc(fixed - 0.5), np.trunc(fixed + 0.5))
    weights = weights.T.copy()
    weights.flags.writeable = False
    return weights


def _round_clip(sums: np.ndarray) -> np.ndarray:
    # Pillow: start from half a unit, shift right by the precision, clip to 0..255. The sums are
    # integers below 2**32 and exact in float64, and dividing by a power of two is exact too.
    sums += float(1 << (_PRECISION_BITS - 1))
    sums *= 1.0 / (1 << _PRECISION_BITS)
    np.floor(sums, out=sums)
    np.clip(sums, 0, 255, out=sums)
    return sums.astype(np.uint8)


def _horizontal(pixels: np.ndarray, width: int) -> np.ndarray:
    if pixels.shape[2] == width:  # Pillow skips a pass whose size does not change
        return pixels
    n, rows, columns = pixels.shape
    # One (n * H, W) x (W, width) product: a 3-D operand would be multiplied image by image.
    flat = pixels.reshape(n * rows, columns).astype(np.float64)
    return _round_clip(flat @ resize_weights(columns, width)).reshape(n, rows, width)


def _vertical(pixels: np.ndarray, height: int) -> np.ndarray:
    if pixels.shape[1] == height:
        return pixels
    n, rows, columns = pixels.shape
    # One (height, H) x (H, n * W) product, the stack laid side by side.
    flat = pixels.transpose(1, 0, 2).reshape(rows, n * columns).astype(np.float64)
    out = _round_clip(resize_weights(rows, height).T @ flat)  # (height, n * W)
    return out.reshape(height, n, columns).transpose(1, 0, 2)


@lru_cache(maxsize=1024)
def pass_order(in_size: tuple[int, int], out_size: tuple[int, int]) -> str | None:
    """Which pass the installed Pillow runs first for this resize: "horizontal", "vertical", or
    None when neither order reproduces it (then the caller resizes through Pillow itself).

    The passes round to 8 bits in between, so their order changes pixels, and Pillow chooses it
    by a rule of its own (13.0 runs the vertical pass first when that is cheaper). Asking Pillow
    once per pair of sizes, on random pixels, follows whatever rule the installed version has."""
    (width, height), (out_w, out_h) = in_size, out_size
    probe = np.random.default_rng(width * 7919 + height).integers(0, 256, (1, height, width), np.uint8)
    truth = np.asarray(Image.fromarray(probe[0]).resize(out_size, RESAMPLE))
    if np.array_equal(_vertical(_horizontal(probe, out_w), out_h)[0], truth):
        return "horizontal"
    if np.array_equal(_horizontal(_vertical(probe, out_h), out_w)[0], truth):
        return "vertical"
    return None


def resize_gray(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``Image.resize(size, LANCZOS)`` of every image of an (N, H, W) uint8 grayscale stack,
    bit for bit, as two matrix products; ``size`` is (width, height) as in Pillow."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"resize_gray needs an (N, H, W) uint8 array; got {pixels.dtype} {pixels.shape}")
    width, height = size
    order = pass_order((pixels.shape[2], pixels.shape[1]), (width, height))
    if order == "horizontal":
        return _vertical(_horizontal(pixels, width), height)
    if order == "vertical":
        return _horizontal(_vertical(pixels, height), width)
    return np.stack([np.asarray(Image.fromarray(p).resize(size, RESAMPLE)) for p in pixels])


def _gray_stack(images: Sequence[Image.Image]) -> np.ndarray:
    """(N, H, W) uint8 of images of one size, as ``convert("L")`` gives them. Pillow's own
    conversion per image costs no more than reading out the colour pixels would."""
    if images[0].size[0] * images[0].size[1] <= _PASTE_PIXELS:
        # Small images: pasted under one another into one tall image, read out once; reading
        # each image out on its own costs more than hashing it.
        width, height = images[0].size
        canvas = Image.new("L", (width, height * len(images)))
        for index, image in enumerate(images):
            canvas.paste(_gray(image), (0, index * height))
        return np.asarray(canvas).reshape(len(images), height, width)
    return np.stack([np.asarray(_gray(image)) for image in images])


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController  # scikit-learn's dependency; found once, when first used

    return ThreadpoolController()


def perceptual_hashes(images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """``(phash, dhash)`` of each image, each an (N,) uint64 array, computed in batches of
    images of one size and mode."""
    phash = np.zeros(len(images), np.uint64)
    dhash = np.zeros(len(images), np.uint64)
    groups: dict[tuple[str, tuple[int, int]], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault((image.mode, image.size), []).append(index)
    # The products are small: on more than one BLAS thread, starting and waiting for the threads
    # costs more than the arithmetic (13x slower for 128 px images on a busy two-core machine).
    with _blas_controller().limit(limits=1, user_api="blas"):
        _hash_groups(images, groups, phash, dhash)
    return phash, dhash


def _hash_groups(images: Sequence[Image.Image], groups: dict[tuple[str, tuple[int, int]], list[int]],
                 phash: np.ndarray, dhash: np.ndarray) -> None:
    for (_, (width, height)), members in groups.items():
        step = max(1, _BATCH_PIXELS // (width * height))
        for start in range(0, len(members), step):
            chosen = members[start:start + step]
            p_size, d_size = (PHASH_SIDE, PHASH_SIDE), (HASH_SIZE + 1, HASH_SIZE)
            if width * height > _MATMUL_PIXELS:
                # Large images: Pillow's banded convolution does a fraction of a dense product's
                # work, so they are resized one by one; the DCT and the rest stay batched.
                grays = [_gray(images[i]) for i in chosen]
                p_pixels = np.stack([np.asarray(g.resize(p_size, RESAMPLE)) for g in grays])
                d_pixels = np.stack([np.asarray(g.resize(d_size, RESAMPLE)) for g in grays])
                phash[chosen], dhash[chosen] = phash_from_pixels(p_pixels), dhash_from_pixels(d_pixels)
                continue
            gray = _gray_stack([images[i] for i in chosen])
            one_pass = (pass_order((width, height), p_size) == pass_order((width, height), d_size)
                        == "horizontal" and width not in (p_size[0], d_size[0]))
            step = max(1, _STEP_CELLS // (max(height, PHASH_SIDE) * (p_size[0] + d_size[0])))
            for at in range(0, len(chosen), step):
                part, rows = gray[at:at + step], chosen[at:at + step]
                if one_pass:
                    # One horizontal pass for both sizes: the pHash columns, then the dHash columns.
                    weights = np.concatenate([resize_weights(width, p_size[0]),
                                              resize_weights(width, d_size[0])], axis=1)
                    flat = part.reshape(-1, width).astype(np.float64)
                    both = _round_clip(flat @ weights).reshape(len(part), height, -1)  # (n, H, 32 + 9)
                    p_pixels = _vertical(both[:, :, :p_size[0]], p_size[1])
                    d_pixels = _vertical(both[:, :, p_size[0]:], d_size[1])
                else:
                    p_pixels, d_pixels = resize_gray(part, p_size), resize_gray(part, d_size)
                phash[rows] = phash_from_pixels(p_pixels)
                dhash[rows] = dhash_from_pixels(d_pixels)


def hash_hex(value: int | np.integer) -> str:
    """The 16-digit hex form, the same as ``str()`` of the matching ``imagehash.ImageHash``."""
    return f"{int(value):016x}"
