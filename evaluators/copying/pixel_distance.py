"""Pixel distance between images: the tiled, normalised L2 distance of the extraction studies.

Carlini et al. ("Extracting Training Data from Diffusion Models", 2023) call a generated image a
copy when its L2 distance to a training image, normalised by the number of pixels, is small in
*every* tile: the distance is the largest of the per-tile distances, so that two images sharing a
large plain background but differing in the subject are far apart. Here both images are first
resized to ``side x side`` grayscale and standardised (mean 0, standard deviation 1), so that a
change of brightness or contrast, which copying survives, does not count as a difference. A colour
image is also compared on its HSV value channel (:func:`value_thumbnail`), which a turn of the hue
or a change of saturation leaves as it was.

Per tile, the distance is ``sqrt(mean((a - b) ** 2))`` over the tile's pixels of the standardised
images: 0 for identical images, about 1.4 for unrelated ones (``sqrt(2)`` when uncorrelated).

Noise, JPEG blocking and blur move every pixel a little, and standardisation turns "a little" into
a lot on a near-flat image or a 16 px digit. :func:`smoothed_distance` compares the two images at a
scale where those edits have no energy left: both Gaussian-smoothed (noise of sigma 8 grey levels
keeps about one), the training image also at two stronger blurs, the closest of which stands in for
a blur the copier applied, and standardised with a floor of :data:`NOISE_FLOOR` grey levels, so that
what noise survives the smoothing is not blown up to unit variance either. A training image that is
flat at that scale (its smoothed grey levels vary by less than :data:`FLAT_STD`: a pale sky, shapes
of one luminance) holds nothing to compare there, and is not compared smoothed at all: with the floor, any
two such images would look alike. What the smoothing leaves of strong noise on a faint picture still
counts, most in the noisiest tile; the generated image's own noise, estimated from its finest detail
(:func:`noise_level`), is taken out of the distance, as much as the noisiest tile would hold.

Brightness, contrast and gamma bend every grey level by one increasing curve, and a change of
brightness also clips the highlights or the shadows, which no standardisation undoes (a sky
brightened by 10 % turns half white and half pale). :func:`remapped_distance` compares the two
images after giving the generated one the training image's own grey levels, rank for rank
(histogram matching): any increasing curve, clipped or not, is undone, and what is left to differ
is where the light and dark parts of the picture lie.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

# Standard deviation (0..255 scale) below which an image counts as flat: its faint noise is not
# blown up to unit variance, so two near-blank images stay close instead of random.
MIN_STD = 2.0
# The smoothed comparison (0..255 scale and pixels of the comparison thumbnail): both images are
# smoothed by SMOOTH_SIGMA; the training image also as if the copier had blurred it by each of
# EDIT_BLURS first (Gaussian blurs add in quadrature). NOISE_FLOOR is the standard deviation below
# which a smoothed image counts as flat. Chosen on digits and generated shapes: the copies under
# noise (sigma 3 and 8), JPEG (q50, q70) and blur (radius 1) of both fall within a distance of 0.2
# of their training image, and no distinct image of either comes closer than 0.27.
SMOOTH_SIGMA = 1.5
EDIT_BLURS = (0.0, 1.3, 2.5)
NOISE_FLOOR = 4.0
# A training image whose smoothed grey levels vary by less than this is flat at that scale.
FLAT_STD = MIN_STD
# The smoothed comparison takes out of each tile's mean squared difference this many times what the
# smoothing leaves of the query's own noise (its mean over the picture): a tile of 8 x 8 pixels holds
# some two independent samples of noise smoothed by SMOOTH_SIGMA, and the largest of 16 such tiles,
# the one that counts, about three times the mean (3.4 for the largest of 16 exponential draws).
# Chosen on generated textures: with noise of sigma 8, 0.92 of copies came within 0.2 of their
# source taking out the mean once, 0.97 three times; no distinct image of digits, shapes or textures,
# noisy (sigma 3 and 8) or not, came within 0.2 of a training image either way.
NOISE_TILE_FACTOR = 3.0
# Histogram matching leaves out a query's black or white pixels when that level holds at least
# CLIPPED_SHARE of its pixels (a clipped highlight, not a black line) and all of them at most
# MAX_CLIPPED of the picture (the rest still holds most of it).
CLIPPED_SHARE = 0.02
MAX_CLIPPED = 0.5
# The grain (:func:`grain_agreement`): detail finer than GRAIN_SIGMA pixels of the thumbnail. It is
# a fingerprint only where it is spread over the picture as a texture is (sensor noise, compression
# grain, sky): MIN_GRAIN_SPREAD is the least share of the pixels its energy fills (the participation
# ratio; white noise fills 1/3, the edges of a drawing 0.01 to 0.14 on generated shapes and text).
GRAIN_SIGMA = 1.5
MIN_GRAIN_SPREAD = 0.2
# ... and only on a faint picture (grey levels spread under FAINT_STD): elsewhere the picture itself
# tells copies apart, and the fine detail of digits and drawings (strokes, edges) lines up with a
# look-alike's well past chance.
FAINT_STD = 8.0
# A faint picture's light, block by block (:func:`block_levels`): the mean grey level of each of
# LEVEL_BLOCKS x LEVEL_BLOCKS blocks of the thumbnail, on the 0..255 scale, not standardised: where
# a pale sky is lighter, and by how much, is what JPEG, light noise, a flip or a blur leave of it.
LEVEL_BLOCKS = 8
# The grain of a picture is correlated with itself over about GRAIN_LAGS pixels each way (what the
# high-pass of GRAIN_SIGMA leaves): the error of a correlation counts the lags up to there.
GRAIN_LAGS = 3
# A generated image's grain is compared without its outliers: pixels whose grain passes
# GRAIN_OUTLIER times its robust deviation (the median absolute grain over 0.6745), and their
# neighbours. A caption, logo or bar laid over a faint picture has edges a hundred times its grain,
# which would swamp the correlation; noise and a curve of the grey levels leave none.
GRAIN_OUTLIER = 6.0


def thumbnail(image: Image.Image, side: int) -> np.ndarray:
    """``image`` as a (side, side) uint8 grayscale array (Lanczos, aspect ratio not kept)."""
    gray = image if image.mode == "L" else image.convert("L")
    return np.asarray(gray.resize((side, side), Image.Resampling.LANCZOS))


def colour_thumbnail(image: Image.Image, side: int) -> np.ndarray:
    """``image`` as a (side, side, 3) uint8 RGB array (Lanczos, aspect ratio not kept)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.asarray(rgb.resize((side, side), Image.Resampling.LANCZOS))


def value_thumbnail(image: Image.Image, side: int) -> np.ndarray:
    """``image``'s HSV value channel (the largest of R, G and B) as a (side, side) uint8 array.
    Turning the hue or scaling the saturation leaves it as it was, and a gamma on each channel
    changes it by the same curve: a colour-jittered copy stays close here when its grey levels,
    weighted by colour, do not. For a grey image it is the grey level itself."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    # The channel first, then the resize: the largest of resized channels blurs edges differently.
    value = Image.fromarray(np.asarray(rgb).max(axis=2))
    return np.asarray(value.resize((side, side), Image.Resampling.LANCZOS))


def standardise(thumbnails: np.ndarray, floor: float = MIN_STD) -> np.ndarray:
    """(N, S, S) pixels to float64 with mean 0 and standard deviation 1 per image; an image whose
    standard deviation is below ``floor`` is divided by ``floor`` instead."""
    array = np.asarray(thumbnails, dtype=np.float64)
    mean = array.mean(axis=(1, 2), keepdims=True)
    std = array.std(axis=(1, 2), keepdims=True)
    return (array - mean) / np.maximum(std, floor)


@lru_cache(maxsize=32)
def _blur_matrix(side: int, sigma: float) -> np.ndarray:
    """(side, side) matrix ``G`` with ``G @ row`` the row smoothed by a Gaussian of ``sigma``
    (kernel to 3 sigma, the edge pixel repeated beyond the border), read-only."""
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma * sigma))
    taps /= taps.sum()
    matrix = np.zeros((side, side))
    for offset, weight in zip(range(-radius, radius + 1), taps):
        # Output pixel i takes input pixel i + offset, clipped to the image: the repeated edge.
        np.add.at(matrix, (np.arange(side), np.clip(np.arange(side) + offset, 0, side - 1)), weight)
    matrix.setflags(write=False)
    return matrix


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W) images smoothed by a Gaussian of ``sigma`` pixels (separable, kernel to 3 sigma,
    edges repeated), as float64; ``sigma`` 0 returns them unchanged."""
    array = np.asarray(images, dtype=np.float64)
    if sigma <= 0:
        return array
    rows, columns = _blur_matrix(array.shape[1], float(sigma)), _blur_matrix(array.shape[2], float(sigma))
    # Two small products per image, stacked: each a (side x side) product, too small for a
    # threaded BLAS to split (six times faster than einsum's own loops on 32 px).
    return np.matmul(np.matmul(rows, array), columns.T)


def noise_level(images: np.ndarray) -> np.ndarray:
    """(N,) the standard deviation, in grey levels, of white noise in each of (N, H, W) images,
    estimated from their finest detail (Immerkaer's 3x3 kernel, the difference of two Laplacians,
    which a plane or a straight edge leaves at zero): the median of its absolute response over
    the image, so that the edges of a picture, a minority of its pixels, do not count as noise."""
    array = np.asarray(images, dtype=np.float64)
    if array.shape[1] < 3 or array.shape[2] < 3:
        return np.zeros(len(array))
    centre = array[:, 1:-1, 1:-1]
    edges = array[:, :-2, 1:-1] + array[:, 2:, 1:-1] + array[:, 1:-1, :-2] + array[:, 1:-1, 2:]
    corners = array[:, :-2, :-2] + array[:, :-2, 2:] + array[:, 2:, :-2] + array[:, 2:, 2:]
    response = 4.0 * centre - 2.0 * edges + corners
    # The kernel's weights square to 36: its response to white noise of sigma s has deviation 6 s,
    # and the median of its absolute value is 0.6745 times that.
    return np.median(np.abs(response).reshape(len(array), -1), axis=1) / (0.6745 * 6.0)


def smoothed_distance(queries: np.ndarray, references: np.ndarray, tiles: int,
                      mask: np.ndarray | None = None) -> np.ndarray:
    """(Q, C) tiled distances of (Q, S, S) and (C, S, S) thumbnails (grey levels, not standardised)
    compared smoothed (see the module's note): the query smoothed by :data:`SMOOTH_SIGMA`, each
    reference by that and by each stronger blur of :data:`EDIT_BLURS`, the closest counting; inf
    for a reference that is flat when smoothed. What the smoothing leaves of the query's own noise
    (:func:`noise_level`, :data:`NOISE_TILE_FACTOR` times) is taken out of every tile's mean squared
    difference: a copy under strong noise on a faint picture keeps that much from its source, a
    distinct picture keeps it on top of what differs."""
    smoothed_query = gaussian_blur(queries, SMOOTH_SIGMA)
    query = standardise(smoothed_query, NOISE_FLOOR)
    smoothed = gaussian_blur(references, SMOOTH_SIGMA)
    blurs = [float(np.hypot(SMOOTH_SIGMA, extra)) for extra in EDIT_BLURS]
    distance = np.min([tiled_distance(query, standardise(gaussian_blur(references, sigma), NOISE_FLOOR),
                                      tiles, mask) for sigma in blurs], axis=0)
    # White noise of sigma s keeps s times the root of the summed squared weights of the blur.
    side = np.asarray(queries).shape[1]
    kept = noise_level(queries) * float((_blur_matrix(side, SMOOTH_SIGMA)[side // 2] ** 2).sum())
    share = NOISE_TILE_FACTOR * (kept / np.maximum(smoothed_query.std(axis=(1, 2)), NOISE_FLOOR)) ** 2
    distance = np.sqrt(np.maximum(distance ** 2 - share[:, None], 0.0))
    distance[:, smoothed.std(axis=(1, 2)) < FLAT_STD] = np.inf
    return distance


def _level_middles(queries: np.ndarray) -> np.ndarray:
    """(Q, 256): for each query and grey level, the number of its pixels below the middle of that
    level's run (a level shared by many pixels, as a clipped highlight, sits at the middle)."""
    queries = np.asarray(queries)
    if queries.dtype != np.uint8:
        raise ValueError(f"histogram matching needs uint8 thumbnails; got {queries.dtype}")
    counts = np.stack([np.bincount(q.ravel(), minlength=256) for q in queries]).astype(np.float64)
    return np.cumsum(counts, axis=1) - counts / 2.0


def match_histogram(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(Q, S, S) uint8 thumbnails with each grey level replaced by ``reference``'s grey level at
    the same quantile, as float64: each result has ``reference``'s histogram, and any increasing
    curve applied to a query before is undone."""
    queries = np.asarray(queries)
    return _matched(queries, _level_middles(queries), np.sort(np.asarray(reference, np.float64).ravel()))


def _matched(queries: np.ndarray, middles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    table = np.interp(middles - 0.5, np.arange(levels.size), levels)  # (Q, 256) level -> reference's
    flat = queries.reshape(len(queries), -1).astype(np.intp)
    return np.take_along_axis(table, flat, axis=1).reshape(queries.shape)


def _matching_tables(middles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(Q, C, 256): what :func:`_matched` looks each grey level up in, for every query (its
    :func:`_level_middles`) and every reference (its sorted (C, P) grey levels) at once, to the
    last bit: ``np.interp``'s own rule on a grid of unit steps (the level below, plus the step to
    the next times the fraction; the end levels beyond the ends), with no loop over references."""
    x = middles - 0.5                                                   # (Q, 256)
    last = levels.shape[1] - 1
    below = np.clip(np.floor(x), 0, max(last - 1, 0)).astype(np.intp)  # (Q, 256)
    low = levels[:, below]                                              # (C, Q, 256)
    high = levels[:, np.minimum(below + 1, last)]
    table = (high - low) * (x - below) + low
    table = np.where(x == below, low, table)
    table = np.where(x < 0, levels[:, :1, None], np.where(x >= last, levels[:, -1:, None], table))
    return table.transpose(1, 0, 2)


def _remapped_squares(queries: np.ndarray, references: np.ndarray,
                      mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared differences (Q, C, S, S), in grey levels, of each query matched in histogram to each
    reference; the (Q, S, S) 0/1 weights of the pixels compared (``mask``, less each query's
    clipped pixels: see :func:`remapped_distance`); and (Q,) whether each query was clipped on more
    than :data:`MAX_CLIPPED` of the picture (nothing then is left out)."""
    queries, references = np.asarray(queries), np.asarray(references)
    n_q, side = len(queries), queries.shape[-1]
    middles = _level_middles(queries)
    reference = references.astype(np.float64)
    tables = _matching_tables(middles, np.sort(reference.reshape(len(reference), -1), axis=1))
    flat = queries.reshape(n_q, 1, -1).astype(np.intp)
    # (Q, C, S, S)
    matched = np.take_along_axis(tables, flat, axis=2).reshape(n_q, len(reference), side, side)
    kept = np.ones((n_q, side, side)) if mask is None else np.broadcast_to(mask, (n_q, side, side)).copy()
    pixels = side * side
    overclipped = np.zeros(n_q, bool)
    for q in range(n_q):
        clipped = np.zeros((side, side), bool)
        # middles[q, 0] is half the black pixels; pixels - middles[q, 255] half the white ones.
        for level, count in ((0, 2 * middles[q, 0]), (255, 2 * (pixels - middles[q, 255]))):
            if count >= CLIPPED_SHARE * pixels:
                clipped |= queries[q] == level
        overclipped[q] = clipped.mean() > MAX_CLIPPED
        if clipped.any() and not overclipped[q]:
            kept[q][clipped] = 0.0
    return (matched - reference[None]) ** 2, kept, overclipped


def remapped_distance(queries: np.ndarray, references: np.ndarray, tiles: int,
                      mask: np.ndarray | None = None) -> np.ndarray:
    """(Q, C) tiled distances of (Q, S, S) and (C, S, S) uint8 thumbnails after each query is
    given each reference's grey levels (:func:`match_histogram`): both then share the reference's
    mean and standard deviation (at least :data:`MIN_STD`), by which both are standardised.

    A query's pixels at black or white, when that level holds at least :data:`CLIPPED_SHARE` of
    them and all such pixels no more than :data:`MAX_CLIPPED` of the picture, are left out: a
    brightened highlight clipped to white says only that it was light, not how light. inf for a
    reference flat to within :data:`FLAT_STD`."""
    squares, kept, _ = _remapped_squares(queries, references, mask)
    n_q, n_c, side = squares.shape[0], squares.shape[1], squares.shape[-1]
    # The matched query has the reference's histogram: both are standardised by its spread.
    spread = np.asarray(references, np.float64).std(axis=(1, 2))
    weights = np.repeat(kept[:, None], n_c, axis=1).reshape(-1, side, side)
    distance = _tiled_mean_root((squares / np.maximum(spread, MIN_STD)[None, :, None, None] ** 2)
                                .reshape(-1, side, side), weights, tiles).reshape(n_q, n_c)
    # A flat reference lends any query its one grey level: every picture would match it.
    distance[:, spread < FLAT_STD] = np.inf
    return distance


def remapped_colour_distance(query: np.ndarray, references: np.ndarray, tiles: int,
                             mask: np.ndarray | None = None) -> np.ndarray:
    """(C,) tiled distances of an (S, S, 3) uint8 colour thumbnail and (C, S, S, 3) ones, each of R,
    G and B matched in histogram on its own (as :func:`remapped_distance`, clipped pixels left out
    per channel): the pooled squared differences over the pooled variance of the reference's
    channels (at least :data:`MIN_STD` squared). A change of brightness clips each channel where it
    saturates, which bends the grey levels by no single curve; each channel it bends by one. A
    channel clipped on more than :data:`MAX_CLIPPED` of the picture holds too little and is left out;
    inf when all three are, and for a reference flat in the channels compared."""
    query, references = np.asarray(query), np.asarray(references)
    side = query.shape[0]
    total = np.zeros((len(references), side, side))
    weight = np.zeros((len(references), side, side))
    variance = np.zeros(len(references))
    channels = 0
    for channel in range(3):
        squares, kept, overclipped = _remapped_squares(query[None, :, :, channel], references[..., channel],
                                                       mask)
        if overclipped[0]:
            continue
        channels += 1
        total += squares[0] * kept[0]
        weight += kept[0]
        variance += references[..., channel].astype(np.float64).var(axis=(1, 2))
    if not channels:
        return np.full(len(references), np.inf)
    variance /= channels
    pooled = total / np.maximum(weight, 1.0) / np.maximum(variance, MIN_STD ** 2)[:, None, None]
    distance = _tiled_mean_root(pooled, (weight > 0).astype(np.float64), tiles)
    # Flat in every channel compared: it would lend any query its colour (see remapped_distance).
    distance[variance < FLAT_STD ** 2] = np.inf
    return distance


def _grain(thumbnails: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(N, S*S) the detail of (N, S, S) thumbnails finer than :data:`GRAIN_SIGMA`, 0 off ``mask``,
    mean 0 over the rest."""
    array = np.asarray(thumbnails, dtype=np.float64)
    fine = array - gaussian_blur(array, GRAIN_SIGMA)
    weights = np.ones(array.shape[1:]) if mask is None else np.asarray(mask, np.float64)
    kept = weights.sum()
    fine = fine * weights
    fine -= (fine.sum(axis=(1, 2), keepdims=True) / max(kept, 1.0)) * weights
    return fine.reshape(len(array), -1)


def grain_spread(thumbnails: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N,) the share of the pixels (on ``mask``) the grain's energy fills: its participation ratio
    ``(sum g^2)^2 / (n sum g^4)``; 1/3 for white noise, near 0 for a few sharp edges, 0 for none."""
    return _spread_of(_grain(thumbnails, mask), mask)


def _spread_of(fine: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    squares = fine * fine
    n = fine.shape[1] if mask is None else max(float(np.asarray(mask).sum()), 1.0)
    fourth = (squares * squares).sum(axis=1)
    # Under a hundredth of a grey level (RMS), what is left is the blur's rounding: no grain.
    grained = squares.sum(axis=1) > n * 1e-4
    return np.where(grained, squares.sum(axis=1) ** 2 / (n * np.maximum(fourth, 1e-300)), 0.0)


def _without_outliers(fine: np.ndarray, side: int) -> np.ndarray:
    """(N, S*S) grains with each one's outliers (:data:`GRAIN_OUTLIER`) and their 8 neighbours set
    to 0, the rest given mean 0 again (what is left beside an edge is biased to one side of it)."""
    size = np.abs(fine)
    deviation = np.median(size, axis=1, keepdims=True) / 0.6745
    out = (size > GRAIN_OUTLIER * deviation).reshape(-1, side, side)
    grown = np.pad(out, ((0, 0), (1, 1), (1, 1)))
    near = np.zeros_like(out)
    for dy in range(3):
        for dx in range(3):
            near |= grown[:, dy:dy + side, dx:dx + side]
    kept = ~near.reshape(len(fine), -1) & (fine != 0)  # off the mask, the grain is 0 already
    mean = (fine * kept).sum(axis=1, keepdims=True) / np.maximum(kept.sum(axis=1, keepdims=True), 1)
    return np.where(kept, fine - mean, 0.0)


def _grain_autocorrelation(fine: np.ndarray, side: int) -> np.ndarray:
    """(N, L) each of (N, S*S) grains' autocorrelation at the lags within :data:`GRAIN_LAGS` pixels
    each way, over its value at lag 0 (0 for an image with no grain)."""
    padded = np.fft.rfft2(fine.reshape(-1, side, side), s=(2 * side, 2 * side))
    full = np.fft.irfft2(padded.real ** 2 + padded.imag ** 2, s=(2 * side, 2 * side))
    lags = np.r_[0:GRAIN_LAGS + 1, 2 * side - GRAIN_LAGS:2 * side]
    window = full[:, lags][:, :, lags].reshape(len(fine), -1)
    return np.divide(window, window[:, :1], out=np.zeros_like(window), where=window[:, :1] > 0)


def grain_agreement(queries: np.ndarray, references: np.ndarray,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(Q, C) correlation of the grain of (Q, S, S) and (C, S, S) grey thumbnails (the query's
    outliers left out: :data:`GRAIN_OUTLIER`), and how many standard errors it stands from 0 were
    the two grains unrelated: the error of a correlation of two independent fields, each correlated
    with itself over a few pixels (Bartlett's), ``sqrt(sum over lags of rho_q rho_r / n)``, never
    below ``sqrt(1 / n)``. A copy keeps its source's grain through a curve of the grey levels, a
    change of colour, light noise or re-encoding; what tells two faint pictures (a pale sky, fog)
    apart is there and nowhere else. Both are -inf where the reference is not faint
    (:data:`FAINT_STD`) or its grain is not spread as a texture is (:data:`MIN_GRAIN_SPREAD`: the
    edges of a drawing line up with a look-alike's)."""
    references = np.asarray(references)
    correlation = np.full((len(queries), len(references)), -np.inf)
    standard = correlation.copy()
    # Most training images are not faint: they are left out before any grain is taken.
    faint = np.flatnonzero(references.reshape(len(references), -1).std(axis=1) < FAINT_STD)
    if not len(faint) or not len(queries):
        return correlation, standard
    r = _grain(references[faint], mask)
    textured = _spread_of(r, mask) >= MIN_GRAIN_SPREAD
    faint, r = faint[textured], r[textured]
    if not len(faint):
        return correlation, standard
    side = references.shape[1]
    q = _without_outliers(_grain(queries, mask), side)
    n = side * side if mask is None else max(float(np.asarray(mask).sum()), 1.0)
    norms = np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(r, axis=1)[None, :]
    products = q @ r.T
    found = np.divide(products, norms, out=np.zeros_like(products), where=norms > 0)
    # Never less than two grains without any correlation of their own would have (1 / n): an
    # estimate below it rests on side lobes of the two autocorrelations cancelling.
    variance = np.maximum(_grain_autocorrelation(q, side) @ _grain_autocorrelation(r, side).T, 1.0) / n
    correlation[:, faint] = found
    standard[:, faint] = found / np.sqrt(variance)
    return correlation, standard


def _tiled_mean_root(squares: np.ndarray, weights: np.ndarray, tiles: int) -> np.ndarray:
    """(N,) the largest over tiles of the root of the weighted mean of (N, S, S) squared differences
    (0/1 weights); a tile with no pixel left counts as 0."""
    side = squares.shape[1]
    if tiles < 1 or side % tiles:
        raise ValueError(f"tiles must divide the image side {side}; got {tiles}")
    w = _tile_rows(np.ascontiguousarray(weights), tiles)  # (T, N, P)
    summed = np.einsum("tnp,tnp->tn", w, _tile_rows(np.ascontiguousarray(squares), tiles))
    return np.sqrt(summed / np.maximum(w.sum(axis=2), 1.0)).max(axis=0)


def paired_tiled_distance(a: np.ndarray, b: np.ndarray, tiles: int,
                          mask: np.ndarray | None = None) -> np.ndarray:
    """(N,) tiled distances of standardised (N, S, S) images ``a[i]`` and ``b[i]``, pair by pair:
    the diagonal of :func:`tiled_distance`, without the rest of the matrix. ``mask``: (S, S) for
    all pairs or (N, S, S) one for each, 0/1; a tile with no pixel left counts as distance 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n, side = a.shape[0], a.shape[1]
    weights = np.broadcast_to(np.ones((side, side)) if mask is None else np.asarray(mask, np.float64),
                              (n, side, side))
    return _tiled_mean_root((a - b) ** 2, weights, tiles)


def _tile_rows(images: np.ndarray, tiles: int) -> np.ndarray:
    """(N, S, S) to (tiles*tiles, N, tile_pixels): one row of pixels per image and tile."""
    n, side, _ = images.shape
    t = side // tiles
    return (images.reshape(n, tiles, t, tiles, t).transpose(1, 3, 0, 2, 4)
            .reshape(tiles * tiles, n, t * t))


def border_mask(side: int, margin_x: int, margin_y: int) -> np.ndarray:
    """(side, side) weights: 0 on a border band of the given widths, 1 inside."""
    mask = np.ones((side, side))
    if margin_x:
        mask[:, :margin_x] = mask[:, side - margin_x:] = 0.0
    if margin_y:
        mask[:margin_y, :] = mask[side - margin_y:, :] = 0.0
    return mask


def tiled_distance(queries: np.ndarray, references: np.ndarray, tiles: int,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """(Q, C) matrix of distances between standardised (Q, S, S) and (C, S, S) images: the
    largest over the ``tiles x tiles`` grid of the per-tile root-mean-square difference.

    ``mask`` (S, S) of 0/1 leaves pixels out (a border that a shift moved out of the image); a
    tile with no pixel left counts as distance 0."""
    queries, references = np.asarray(queries, np.float64), np.asarray(references, np.float64)
    if queries.ndim != 3 or references.ndim != 3 or queries.shape[1:] != references.shape[1:] \
            or queries.shape[1] != queries.shape[2]:
        raise ValueError(f"tiled_distance needs (Q, S, S) and (C, S, S) arrays of the same square "
                         f"size; got {queries.shape} and {references.shape}")
    side = queries.shape[1]
    if tiles < 1 or side % tiles:
        raise ValueError(f"tiles must divide the image side {side}; got {tiles}")
    if mask is None:
        mask = np.ones((side, side))
    m = _tile_rows(np.asarray(mask, np.float64)[None], tiles)[:, 0, :]  # (T, P)
    q, r = _tile_rows(queries, tiles) * m[:, None, :], _tile_rows(references, tiles)  # (T, Q, P), (T, C, P)
    # |m(q - r)|^2 = |mq|^2 + m.r^2 - 2 mq.r for all tiles at once (m is 0/1). einsum's own loops,
    # not BLAS: these products are small, and a threaded BLAS stalls on them when cores are busy.
    squared = (np.einsum("tqp,tqp->tq", q, q)[:, :, None] + np.einsum("tp,tcp->tc", m, r * r)[:, None, :]
               - 2.0 * np.einsum("tqp,tcp->tqc", q, r))  # (T, Q, C)
    pixels = np.maximum(m.sum(axis=1), 1.0)[:, None, None]
    per_tile = np.sqrt(np.maximum(squared, 0.0) / pixels)
    return per_tile.max(axis=0)


def _cells(thumbnails: np.ndarray, blocks: int) -> np.ndarray:
    """(N, blocks, cell, blocks, cell) float64 view of (N, S, S) thumbnails cut into blocks."""
    array = np.asarray(thumbnails, np.float64)
    n, side = len(array), array.shape[1]
    if blocks < 1 or side % blocks:
        raise ValueError(f"blocks must divide the thumbnail side {side}; got {blocks}")
    cell = side // blocks
    return array.reshape(n, blocks, cell, blocks, cell)


def block_levels(thumbnails: np.ndarray, blocks: int = LEVEL_BLOCKS) -> np.ndarray:
    """(N, blocks * blocks) float64: the mean grey level (0..255) of each block of (N, S, S)
    thumbnails cut into ``blocks`` x ``blocks``; S must be a multiple of ``blocks``."""
    return _cells(thumbnails, blocks).mean(axis=(2, 4)).reshape(len(thumbnails), blocks * blocks)


def block_spread(thumbnails: np.ndarray, blocks: int = LEVEL_BLOCKS) -> np.ndarray:
    """(N, blocks * blocks) the standard deviation of the grey levels within each block of (N, S, S)
    thumbnails: the detail the block levels average away."""
    return _cells(thumbnails, blocks).std(axis=(2, 4)).reshape(len(thumbnails), blocks * blocks)


def known_blocks(known: np.ndarray, blocks: int = LEVEL_BLOCKS) -> np.ndarray:
    """(N, blocks * blocks) bool: the blocks of (N, S, S) thumbnails whose every pixel ``known``
    marks (a turned image's corners, brought in from outside its frame, are not)."""
    return _cells(known, blocks).all(axis=(2, 4)).reshape(len(known), blocks * blocks)


def level_distance(queries: np.ndarray, references: np.ndarray,
                   known: np.ndarray | None = None) -> np.ndarray:
    """(Q, C) root mean square difference, in grey levels, of (Q, B) and (C, B) block levels
    (:func:`block_levels`); ``known`` (Q, B) bool: the blocks of each query compared (all when
    None; a query with none is infinitely far)."""
    q, r = np.asarray(queries, np.float64), np.asarray(references, np.float64)
    # Expanded, as one product: a faint set of 100,000 training images stays one matrix multiply.
    if known is None:
        squares = (q * q).sum(axis=1)[:, None] + (r * r).sum(axis=1)[None, :] - 2.0 * (q @ r.T)
        return np.sqrt(np.maximum(squares, 0.0) / max(q.shape[1], 1))
    m = np.asarray(known, np.float64)
    # Queries share a few masks (a turn's, for every picture of one shape): each masked sum of the
    # references' squares is made once.
    masks, which = np.unique(m, axis=0, return_inverse=True)
    squares = ((m * q * q).sum(axis=1)[:, None] + (masks @ (r * r).T)[which.ravel()]
               - 2.0 * ((m * q) @ r.T))
    counted = m.sum(axis=1)[:, None]
    return np.where(counted > 0, np.sqrt(np.maximum(squares, 0.0) / np.maximum(counted, 1.0)), np.inf)
