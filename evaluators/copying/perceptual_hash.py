"""Perceptual hashes of images, packed into unsigned 64-bit integers.

pHash and dHash exactly as ``imagehash.phash`` and ``imagehash.dhash`` compute them with their
default sizes (the same grayscale conversion, the same Lanczos resize, the same DCT, the same
median), so that a packed value equals ``int(str(imagehash.phash(image)), 16)`` bit for bit.

:func:`perceptual_hashes` works in steps of a few dozen images of one size, with no work per
image in Python but Pillow's conversion to gray (paid by a loop too, twice) and a copy of its
pixels into one wide image, read out at once with the images side by side, (H, N, W). On that
layout every stage is one matrix product over the whole step, in float64, on one BLAS thread:

- the resize is Pillow's own two-pass convolution (its Lanczos coefficients in 22-bit fixed point,
  rounded and clipped after each pass) in the pass order the installed Pillow uses for that pair
  of sizes (:func:`pass_order`); each pass is cut into bands of outputs that skip the zero
  weights, which beats Pillow's own convolution at every size tried (16 to 1024 px). Images over
  _MATMUL_PIXELS, whose float64 copy would be large, are resized by Pillow one by one;
- the DCT is a product with the first 8 rows of the DCT-II matrix on each side, the median a sort
  of the 64 coefficients; the few images whose median is too close to a coefficient to be sure
  of the rounding (flat ones) take scipy's DCT as imagehash does, so every bit stays imagehash's.

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
# Pixels per batch of images resized by Pillow: bounds the stacks to a few MiB.
_BATCH_PIXELS = 1 << 24
# Resized pixels per step: the float64 products (512 KiB) stay in the cache, which makes the
# rounding and the DCT twice as fast as over a whole batch at once.
_STEP_CELLS = 1 << 16
# Outputs per band of a resize product (see _bands).
_BAND = 8
# Below this distance from its median, a coefficient of the DCT by matrix products is too close
# to call: the image is hashed again with scipy's DCT (see _phash_side_by_side).
_TIE_MARGIN = 2.0 ** -12
# Images up to this many pixels are resized by matrix products (a 32 MiB float64 copy of one);
# larger ones by Pillow, one by one.
_MATMUL_PIXELS = 2048 * 2048


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
    pixels = _batch(pixels, (PHASH_SIDE, PHASH_SIDE), "phash_from_pixels")
    return _phash_side_by_side(pixels.transpose(1, 0, 2).astype(np.float64))


def dhash_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """dHash of a (N, 8, 9) batch of grayscale pixels, as (N,) uint64."""
    pixels = _batch(pixels, (HASH_SIZE, HASH_SIZE + 1), "dhash_from_pixels")
    return _dhash_side_by_side(pixels.transpose(1, 0, 2))


def _batch(pixels: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[1:] != shape:
        raise ValueError(f"{what} needs a (N, {shape[0]}, {shape[1]}) array of pixels; got shape "
                         f"{pixels.shape}")
    return pixels


@lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """The first 8 rows of the unnormalised DCT-II matrix (scipy's ``dct`` with ``norm=None``):
    ``2 cos(pi k (2n + 1) / 64)``, shape (8, 32)."""
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    n = np.arange(PHASH_SIDE, dtype=np.float64)[None, :]
    rows = 2.0 * np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * PHASH_SIDE))
    rows.flags.writeable = False
    return rows


def _phash_side_by_side(pixels: np.ndarray) -> np.ndarray:
    """pHash of (32, N, 32) float64 pixels, the N images side by side (image i is ``[:, i, :]``).

    The DCT is two matrix products over the whole stack (8 of the 32 frequencies, on both axes).
    They round differently from scipy's FFT-based DCT that imagehash calls, by under 1e-9 on
    coefficients of up to 1e6, which can only change a bit whose coefficient lies that close to
    the median: an image with any coefficient within _TIE_MARGIN of its median (a flat image, a
    symmetric one, where imagehash's own rounding noise decides the bit) is hashed again with
    scipy's DCT exactly as imagehash does."""
    n = pixels.shape[1]
    rows = _dct_rows()
    columns = rows @ pixels.reshape(PHASH_SIDE, n * PHASH_SIDE)  # (8, N * 32): DCT down each column
    low = columns.reshape(HASH_SIZE * n, PHASH_SIDE) @ rows.T  # (8 * N, 8): then along each row
    low = low.reshape(HASH_SIZE, n, HASH_SIZE).transpose(1, 0, 2).reshape(n, HASH_BITS)
    # The median of 64 values is the mean of the 32nd and 33rd; a sort of 64 is cheaper than
    # np.median's partition. No coefficient is within _TIE_MARGIN of the median unless these two are.
    ranked = np.sort(low, axis=1)
    below, above = ranked[:, HASH_BITS // 2 - 1], ranked[:, HASH_BITS // 2]
    near = above - below < 2 * _TIE_MARGIN
    bits = low > ((below + above) / 2)[:, None]
    if near.any():
        bits[near] = _scipy_phash_bits(pixels[:, near, :].transpose(1, 0, 2))
    return pack_bits(bits)


def _scipy_phash_bits(pixels: np.ndarray) -> np.ndarray:
    """imagehash's own computation for (M, 32, 32) pixels, as (M, 64) booleans."""
    import scipy.fftpack  # imagehash's DCT; imported here, as every CLI call builds the registry

    # Same calls as imagehash, on axes 1 and 2 of the batch instead of 0 and 1 of one image. The
    # second transform runs on the 8 rows that are kept only: each row is transformed on its own,
    # so the values are the same to the last bit, for a quarter of the work.
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1)[:, :HASH_SIZE, :], axis=2)
    low = dct[:, :, :HASH_SIZE].reshape(len(pixels), HASH_BITS)
    return low > np.median(low, axis=1, keepdims=True)


def _dhash_side_by_side(pixels: np.ndarray) -> np.ndarray:
    """dHash of (8, N, 9) pixels side by side (any real dtype)."""
    bits = pixels[:, :, 1:] > pixels[:, :, :-1]  # (8, N, 8)
    return pack_bits(bits.transpose(1, 0, 2).reshape(pixels.shape[1], HASH_BITS))


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


@lru_cache(maxsize=256)
def _scaled_weights(in_size: int, out_size: int) -> np.ndarray:
    # Pillow's coefficients over 2**22: a power of two, so every product and sum stays exact in
    # float64 (sums below 2**31 units of 2**-22) and comes out in pixel units, ready to round.
    weights = resize_weights(in_size, out_size) * (1.0 / (1 << _PRECISION_BITS))
    weights.flags.writeable = False
    return weights


def _round_clip(values: np.ndarray) -> np.ndarray:
    # Pillow adds half a unit, shifts right by the precision (a floor) and clips to 0..255; on
    # exact multiples of 2**-22 the same is a floor of value + 0.5. In place, kept in float64 for
    # the next product.
    values += 0.5
    np.floor(values, out=values)
    return np.clip(values, 0.0, 255.0, out=values)


@lru_cache(maxsize=256)
def _bands(in_size: int, out_size: int) -> tuple[tuple[int, int, int, int, np.ndarray], ...]:
    """The scaled weights cut into bands of _BAND outputs, each with the span of inputs that its
    outputs read, ``(first input, end, first output, end, weights)``; one band when cutting saves
    too little. Each output reads about 6 x scale inputs of the whole width, so on a large image
    the bands skip most of a dense product's multiplications by zero."""
    weights = _scaled_weights(in_size, out_size)
    bands = []
    for first in range(0, out_size, _BAND):
        block = weights[:, first:first + _BAND]
        used = np.flatnonzero(block.any(axis=1))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        bands.append((lo, hi, first, first + block.shape[1], np.ascontiguousarray(block[lo:hi])))
    if sum((hi - lo) * (end - first) for lo, hi, first, end, _ in bands) > 0.6 * in_size * out_size:
        return ((0, in_size, 0, out_size, weights),)
    return tuple(bands)


def _horizontal(pixels: np.ndarray, width: int) -> np.ndarray:
    """Pillow's horizontal pass over (H, N, W) pixels side by side: (H * N, W) x (W, width)
    products, one per band of outputs."""
    rows, n, columns = pixels.shape
    if columns == width:  # Pillow skips a pass whose size does not change
        return pixels
    flat = pixels.reshape(rows * n, columns)
    bands = _bands(columns, width)
    if len(bands) == 1:
        out = flat @ bands[0][4]
    else:
        out = np.empty((rows * n, width))
        for lo, hi, first, end, weights in bands:
            np.matmul(flat[:, lo:hi], weights, out=out[:, first:end])
    return _round_clip(out).reshape(rows, n, width)


def _vertical(pixels: np.ndarray, height: int) -> np.ndarray:
    """Pillow's vertical pass over (H, N, W) pixels side by side: (height, H) x (H, N * W)
    products, one per band of output rows, which leave them side by side."""
    rows, n, columns = pixels.shape
    if rows == height:
        return pixels
    flat = pixels.reshape(rows, n * columns)
    bands = _bands(rows, height)
    if len(bands) == 1:
        out = bands[0][4].T @ flat
    else:
        out = np.empty((height, n * columns))
        for lo, hi, first, end, weights in bands:
            np.matmul(weights.T, flat[lo:hi], out=out[first:end])
    return _round_clip(out).reshape(height, n, columns)


def _resize(pixels: np.ndarray, size: tuple[int, int], order: str) -> np.ndarray:
    """(H, N, W) float64 pixels side by side to (height, N, width), passes in ``order``."""
    width, height = size
    if order == "horizontal":
        return _vertical(_horizontal(pixels, width), height)
    return _horizontal(_vertical(pixels, height), width)


@lru_cache(maxsize=1024)
def pass_order(in_size: tuple[int, int], out_size: tuple[int, int]) -> str | None:
    """Which pass the installed Pillow runs first for this resize: "horizontal", "vertical", or
    None when neither order reproduces it (then the caller resizes through Pillow itself).

    The passes round to 8 bits in between, so their order changes pixels, and Pillow chooses it
    by a rule of its own (13.0 runs the vertical pass first when that is cheaper). Asking Pillow
    once per pair of sizes, on random pixels, follows whatever rule the installed version has."""
    width, height = in_size
    probe = np.random.default_rng(width * 7919 + height).integers(0, 256, (height, width), np.uint8)
    truth = np.asarray(Image.fromarray(probe).resize(out_size, RESAMPLE))
    for order in ("horizontal", "vertical"):
        if np.array_equal(_resize(probe[:, None, :].astype(np.float64), out_size, order)[:, 0, :], truth):
            return order
    return None


def resize_gray(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``Image.resize(size, LANCZOS)`` of every image of an (N, H, W) uint8 grayscale stack,
    bit for bit, as two matrix products; ``size`` is (width, height) as in Pillow."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"resize_gray needs an (N, H, W) uint8 array; got {pixels.dtype} {pixels.shape}")
    order = pass_order((pixels.shape[2], pixels.shape[1]), size)
    if order is None:
        return np.stack([np.asarray(Image.fromarray(p).resize(size, RESAMPLE)) for p in pixels])
    side_by_side = pixels.transpose(1, 0, 2).astype(np.float64)
    return _resize(side_by_side, size, order).transpose(1, 0, 2).astype(np.uint8)


def _side_by_side(images: Sequence[Image.Image]) -> np.ndarray:
    """(H, N, W) uint8: images of one size as ``convert("L")`` gives them, pasted side by side
    into one wide image and read out at once (reading each image out on its own costs more than
    hashing it)."""
    width, height = images[0].size
    canvas = Image.new("L", (width * len(images), height))
    target = canvas.im
    for index, image in enumerate(images):
        image.load()
        # Pillow's core calls that Image.convert and Image.paste end with, less their checks of
        # the arguments, which cost several times the work on a small image. For RGB, convert's
        # pixels are the core conversion's (the rest of it is about palettes and transparency);
        # other modes take the whole of convert.
        if image.mode == "L":
            gray = image.im
        elif image.mode == "RGB":
            gray = image.im.convert("L")
        else:
            gray = image.convert("L").im
        target.paste(gray, (index * width, 0, (index + 1) * width, height))
    return np.asarray(canvas).reshape(height, len(images), width)


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController  # scikit-learn's dependency; found once, when first used

    return ThreadpoolController()


def perceptual_hashes(images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """``(phash, dhash)`` of each image, each an (N,) uint64 array, computed in batches of
    images of one size."""
    phash = np.zeros(len(images), np.uint64)
    dhash = np.zeros(len(images), np.uint64)
    groups: dict[tuple[int, int], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(image.size, []).append(index)
    # The products are small: on more than one BLAS thread, starting and waiting for the threads
    # costs more than the arithmetic (13x slower for 128 px images on a busy two-core machine).
    with _blas_controller().limit(limits=1, user_api="blas"):
        for size, members in groups.items():
            _hash_group(images, size, members, phash, dhash)
    return phash, dhash


def _hash_group(images: Sequence[Image.Image], size: tuple[int, int], members: list[int],
                phash: np.ndarray, dhash: np.ndarray) -> None:
    p_size, d_size = (PHASH_SIDE, PHASH_SIDE), (HASH_SIZE + 1, HASH_SIZE)
    width, height = size
    p_order, d_order = pass_order(size, p_size), pass_order(size, d_size)
    if width * height > _MATMUL_PIXELS or p_order is None or d_order is None:
        # Very large images: a float64 copy would not fit the cache nor be small, so Pillow
        # resizes them one by one; the DCT and the rest stay batched.
        step = max(1, _BATCH_PIXELS // (width * height))
        for at in range(0, len(members), step):
            chosen = members[at:at + step]
            grays = [_gray(images[i]) for i in chosen]
            p_pixels = np.stack([np.asarray(g.resize(p_size, RESAMPLE)) for g in grays])
            d_pixels = np.stack([np.asarray(g.resize(d_size, RESAMPLE)) for g in grays])
            phash[chosen], dhash[chosen] = phash_from_pixels(p_pixels), dhash_from_pixels(d_pixels)
        return
    # Steps of a few dozen small images: the float64 products stay in the cache.
    step = max(1, _STEP_CELLS // (max(height, PHASH_SIDE) * (p_size[0] + d_size[0])))
    for at in range(0, len(members), step):
        chosen = members[at:at + step]
        gray = _side_by_side([images[i] for i in chosen]).astype(np.float64)  # (H, n, W)
        phash[chosen] = _phash_side_by_side(_resize(gray, p_size, p_order))
        dhash[chosen] = _dhash_side_by_side(_resize(gray, d_size, d_order))


def hash_hex(value: int | np.integer) -> str:
    """The 16-digit hex form, the same as ``str()`` of the matching ``imagehash.ImageHash``."""
    return f"{int(value):016x}"
