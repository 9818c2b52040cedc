"""Geometric verification of image copies: small rotations, crops and shifts undone by search.

A copier who crops a training image to 70 % of its area and scales it back, turns it by a few
degrees or moves it by a few pixels changes every bit of its perceptual hash and every pixel of a
plain comparison. Two pieces find such copies:

1. **Window descriptors** (the candidate stage). Each training image is described by its whole
   frame and by nine windows of ``WINDOW_SCALE`` of its side (a 3 x 3 grid of positions), each an
   ``8 x 8`` grid of mean grey levels, standardised. A crop of any position keeping at least 70 %
   of the area lies within a few thumbnail pixels of one of these windows, and a rotation by 10
   degrees moves an 8 x 8 grid by well under a cell, so the generated image's own descriptor is
   close to its source's window: the nearest windows by cosine similarity (one matrix product for
   all items) give the candidates. The generated image is also described by its centre window
   (``CENTRE_SCALE`` of the side), compared with each training image's: the corners that a turn
   fills with black, or a frame covers, lie outside it. And by the whole frame's grid without a
   block of rows or columns (:func:`band_descriptors`): a band across a copy leaves it unchanged.
2. **Alignment** (the verification). For a candidate pair, the training image is turned by each of
   ``ROTATIONS`` and enlarged by each of ``SCALES`` about its centre, and for each of these the
   shift that best aligns it with the generated image is found by masked normalised
   cross-correlation, computed for all shifts at once with FFTs. At the best alignment, the tiled
   pixel distance (:mod:`~aigc_audit.evaluators.copying.pixel_distance`, the measure the hash stage
   confirms with) is computed on the part of the generated image the training image covers. The
   search runs at half the side; there, sharp edges half a pixel apart correlate less than a wrong
   enlargement does, so the best few hypotheses (and always the plain shift) get their shift
   again at full side, and the one with the smallest pixel distance is kept. Its
   threshold is the evaluator's ``max_aligned_distance``, a little above the hash stage's: the
   search brings distinct images closer too, and resampling keeps true copies off zero. Turns are
   turns of the pictures in their own proportions (``aspect``), not of their square thumbnails.
   An overlay (:func:`overlay_box`, :func:`band_box`) is left out of the distance and named.

The alignment names the transformation (rotation, scale, shift) and the matched region: the box of
the training image that the generated image shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import fft as sp_fft
from scipy import ndimage, sparse

from aigc_audit.evaluators.copying.pixel_distance import MIN_STD

# Side of the grey images aligned; the pixel check after alignment uses ``ALIGN_SIDE // 2``.
ALIGN_SIDE = 64
# Turns (degrees, counter-clockwise) and enlargements tried: a crop keeping 70 % of the area and
# scaled back is an enlargement by 1 / sqrt(0.7) = 1.195; 5 degree steps leave at most 2.5 degrees
# unmatched, under 1.5 px at the corners of the aligned image.
ROTATIONS = (-10.0, -5.0, 0.0, 5.0, 10.0)
SCALES = (1.0, 1.1, 1.2)
# The second, finer search around the best of the grid: half its steps; and the last, around the
# closest at full side: a quarter.
REFINE_DEGREES, REFINE_SCALE = 2.5, 0.05
FINEST_DEGREES, FINEST_SCALE = 1.25, 0.025
# ... looked at up to this pixel distance: twice the evaluator's default max_aligned_distance, as
# far as a closer enlargement brought sharp text (0.70 to 0.29); distinct images mostly lie beyond.
FINEST_UNTIL = 1.2
# Coarse hypotheses refined, and refined ones measured at full side (the best by correlation).
REFINED, MEASURED = 2, 3
# Rounds of the quarter-step search, each from the closest the round before found, at most a step
# of the finer search from where they began.
FINEST_ROUNDS = 3
# Largest shift searched, in aligned pixels (a crop of 70 % at a corner moves the centre by 6 px).
MAX_SHIFT = 10
# A crop window's side as a share of the image's side (sqrt(0.7) = 0.84).
WINDOW_SCALE = 0.84
# The centre window compared between a generated image and a training image: inside the corners a
# turn by 10 degrees fills (at most 17 % of the side in from each corner along an edge).
CENTRE_SCALE = 0.7
DESCRIPTOR_GRID = 8
# Retrieval past a band: the frame's grid without BAND_CELLS consecutive rows (or columns) of cells
# from each of BAND_STARTS. A band of up to 20 % of the side (1.6 cells) lies wholly inside one of
# these: [0, 4), [2, 6) or [4, 8).
BAND_CELLS = 4
BAND_STARTS = (0, 2, 4)
# The retrievals' similarities per block of training images: 8 MB, read back for the maximum over
# windows (or bands left out) while still in cache (15 % faster than blocks of 128 MB on this
# project's machines by window, 40 % past a band).
_SIMILARITIES_PER_BLOCK = 1 << 21
# Generated images per block of a retrieval (their best similarities: 100 MB at 100,000 training
# images).
_QUERIES_PER_BLOCK = 256
# Training images SortedBands finds its directions from (at most about this many).
_DIRECTION_SAMPLE = 10_000
# Generated images searched together by nearest_past_band_above: those adjacent by projection, so
# that the training images near one are near all.
_ABOVE_PER_BLOCK = 8
# Training images described per summed-area table (8 MiB of int64 at 32 px).
_DESCRIBED_PER_BLOCK = 1024
# Overlays (captions, logos, bands) are looked for when the distance is above this, and left out
# when they cover at most MAX_OVERLAY of the picture (the bounding box of the disagreement).
OVERLAY_FROM = 0.2
MAX_OVERLAY = 0.3
# ... and only when the rest holds at least this share of the training image's edges (a bar over a
# fifth of a drawn digit, through its middle, hides about half of them).
MIN_STRUCTURE_KEPT = 0.4
# ... or when the rest is textured: at least this share of its tiles not one flat colour (a tile is
# flat when its spread is under FLAT_TILE of the rest's).
MIN_TEXTURED, FLAT_TILE = 0.9, 0.1
# ... or, for a bar laid over the picture, at least MIN_STRUCTURE_OCCLUDED of them: a band across the
# whole width or height in which at least OCCLUDER_SHARE of the generated image's pixels lie within
# OCCLUDER_LEVELS grey levels of their median (a solid bar, a caption's ground), and OCCLUDER_EDGE of
# those on the lines beside it do not (it has an edge: not a drawing's ground), when the rest is
# then as close as a plain copy (OVERLAY_FROM). A bar through the middle of a drawing hides most of
# its edges; a look-alike with so little left to compare comes closer too, but not that close. (0.15
# before the match was also checked in colour: a bar of a fifth of the picture over the shapes of a
# drawing left 8 % of its edges, 0.0 from its source; at 0.05 no distinct image more was flagged.)
# A caption on a picture made half size is no flat bar (its letters fill its ground), but leaving it
# out brings the distance down as a foreign overlay's does (FOREIGN_OVERLAY times or more): that,
# for a strip along an edge holding marks on a ground of its own (:func:`marked`: not a drawing's
# plain ground where a look-alike lacks a box, nor a band of noise), stands for the bar's flatness,
# when no smaller region was left out first (a taller band than the caption brings look-alikes
# closer too).
MIN_STRUCTURE_OCCLUDED, OCCLUDER_SHARE, OCCLUDER_LEVELS, OCCLUDER_EDGE = 0.05, 0.6, 8.0, 0.5
# A band across the whole width or height (a caption strip, a bar) of at most this share of the side
# is also looked for: its bounding box is the full side, so the compact search above cannot name it
# when the band touches what lies beside it.
MAX_BAND = 0.25
# A line of the band disagrees by at least this mean squared standardised difference (a root mean
# square of half a standard deviation, as the compact search's pixels); lines at the band's ends that
# agree are given back.
BAND_LINE_OFF = 0.25
# The grey-level line of the overlay search is refitted only on a half whose spread is at least this
# share of the whole's.
MIN_SPREAD_KEPT = 1e-6
# An overlay is foreign to the picture (a caption, a logo, a bar drawn over it) when the distance
# with it in is at least this many times the distance without it. On digits and shapes, the copies
# under a caption, logo or band that the lead over the next-closest missed kept 3.1 to 10 times;
# distinct images of those kinds, whose best region to leave out is where they differ most, 1.0 to
# 3.3, and the demo's VAE and GAN samples up to 4.3, none of these within 0.25 of a training image
# (the VAE's "1" that came within 0.18 of a training "1", 1.6).
FOREIGN_OVERLAY = 3.0
# The aligned training image must cover at least this share of the generated image.
MIN_OVERLAP = 0.6
# An alignment whose region compared (less any overlay) spreads less than this many grey levels, of
# a training image that spreads at least twice MIN_STD, shares only a flat part of it: any plain
# ground of that colour comes as close (0.0, both standardised flat), and so does a crop of the
# copy that moved its shapes out of the frame.
FLAT_SHARED = MIN_STD / 2
# Turns are searched in the generated image's own proportions, width over height within these.
MAX_ASPECT = 4.0


@dataclass(frozen=True)
class Alignment:
    """How the training image maps onto the generated one, and how close they are then."""

    rotation: float            # degrees, counter-clockwise, of the training image
    scale: float               # enlargement of the training image
    shift: tuple[float, float]  # (dx, dy) in aligned pixels (of ALIGN_SIDE)
    box: tuple[float, float, float, float]  # matched region of the training image, as shares
    correlation: float         # normalised cross-correlation over the overlap
    distance: float            # tiled pixel distance over the overlap (less any overlay)
    overlay: tuple[float, float, float, float] | None = None  # region left out, shares of the sample
    # The distance over the whole shared region, the overlay included (= distance without one).
    whole_distance: float | None = None
    # The spread (standard deviation, grey levels) of the training image over the region compared.
    shared_spread: float | None = None


# -- window descriptors ------------------------------------------------------------------------

def _summed_area(images: np.ndarray) -> np.ndarray:
    """(N, S+1, S+1) summed-area tables of (N, S, S) uint8 images, in exact integers: built once
    and read for every window. 32-bit sums hold any side up to 2,900 px (255 S^2 < 2^31), with
    half the memory traffic of 64-bit ones (two fifths of the training set's descriptors' time)."""
    n, side, _ = images.shape
    table = np.zeros((n, side + 1, side + 1), np.int32)
    inner = table[:, 1:, 1:]
    np.cumsum(images, axis=1, dtype=np.int32, out=inner)
    np.cumsum(inner, axis=2, out=inner)
    return table


def _block_means(table: np.ndarray, top: float, left: float, size: float) -> np.ndarray:
    """(N, G*G) means of a G x G grid over the square window (top, left, size), the same for every
    image, from the images' summed-area tables (:func:`_summed_area`): the table read at the grid's
    corners, then one difference per cell."""
    n, side = table.shape[0], table.shape[1] - 1
    edges = np.arange(DESCRIPTOR_GRID + 1) * size / DESCRIPTOR_GRID
    ys = np.clip(np.rint(top + edges), 0, side).astype(np.int64)    # (G+1,)
    xs = np.clip(np.rint(left + edges), 0, side).astype(np.int64)
    corners = table[:, ys][:, :, xs]                                # (N, G+1, G+1)
    sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
    area = np.maximum(np.diff(ys)[:, None] * np.diff(xs)[None, :], 1)
    return (sums / area).reshape(n, -1)


def _unit(descriptors: np.ndarray) -> np.ndarray:
    centred = descriptors - descriptors.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(centred, axis=-1, keepdims=True)
    return (centred / np.maximum(norm, MIN_STD)).astype(np.float32)


def frame_descriptors(thumbnails: np.ndarray) -> np.ndarray:
    """(N, G*G) unit descriptors of the whole of each (N, S, S) thumbnail."""
    return _frame(_summed_area(thumbnails))


def _frame(table: np.ndarray) -> np.ndarray:
    return _unit(_block_means(table, 0.0, 0.0, float(table.shape[1] - 1)))


def _centre(table: np.ndarray) -> np.ndarray:
    side = table.shape[1] - 1
    size = CENTRE_SCALE * side
    return _unit(_block_means(table, (side - size) / 2, (side - size) / 2, size))


def query_descriptors(thumbnails: np.ndarray) -> np.ndarray:
    """(N, 2, G*G) unit descriptors of a generated image: its whole frame, and its centre window
    of ``CENTRE_SCALE`` of the side, which a turn's filled corners or a border's frame leave
    untouched."""
    table = _summed_area(thumbnails)
    return np.stack([_frame(table), _centre(table)], axis=1)


def turned_thumbnails(thumbnails: np.ndarray, aspects: Sequence[float],
                      degrees: Sequence[float]) -> np.ndarray:
    """(N * len(degrees), S, S): each of ``thumbnails`` (N, S, S) turned by each of ``degrees``
    about its centre in its picture's own proportions (``aspects``, width over height), what falls
    outside black: a generated image turned back, so that its centre window meets its source's.
    The thumbnails of one proportion are turned together, one sparse matrix per turn (as
    :func:`_warp` samples them)."""
    n, side = len(thumbnails), thumbnails.shape[1]
    out = np.zeros((n, len(degrees), side, side))
    proportions = np.clip(np.asarray(aspects, np.float64), 1 / MAX_ASPECT, MAX_ASPECT)
    for aspect in np.unique(proportions):
        which = np.flatnonzero(proportions == aspect)
        columns = np.asarray(thumbnails[which], np.float64).reshape(len(which), -1).T  # (S*S, n)
        for j, turn in enumerate(degrees):
            matrix, inside = _bilinear(side, float(turn), 1.0, float(aspect))
            out[which, j] = (matrix @ columns).T.reshape(len(which), side, side) * inside
    return out.reshape(-1, side, side)


def window_descriptors(thumbnails: np.ndarray) -> np.ndarray:
    """(N, 11, G*G) unit descriptors: the whole frame, the 3 x 3 grid of crop windows, and the
    centre window that a query's own centre window meets. Computed a block of images at a time
    from one summed-area table each, so memory stays flat for a large training set."""
    n, side = thumbnails.shape[:2]
    size = WINDOW_SCALE * side
    out = np.empty((n, 11, DESCRIPTOR_GRID * DESCRIPTOR_GRID), np.float32)
    for start in range(0, n, _DESCRIBED_PER_BLOCK):
        table = _summed_area(thumbnails[start:start + _DESCRIBED_PER_BLOCK])
        views = [_frame(table)]
        for top in (0.0, (side - size) / 2, side - size):
            for left in (0.0, (side - size) / 2, side - size):
                views.append(_unit(_block_means(table, top, left, size)))
        views.append(_centre(table))
        out[start:start + len(table)] = np.stack(views, axis=1)
    return out


def band_descriptors(thumbnails: np.ndarray) -> np.ndarray:
    """(N, 2 * len(BAND_STARTS), G * (G - BAND_CELLS)) unit descriptors of the whole of each
    (N, S, S) thumbnail, each without one block of ``BAND_CELLS`` rows or columns of the grid: a
    band across a copy changes a fifth of the grid's cells, enough to push its source far down the
    whole frame's ranking, and nothing of the variant that leaves it out."""
    n, side = thumbnails.shape[:2]
    out = np.empty((n, 2 * len(BAND_STARTS), DESCRIPTOR_GRID * (DESCRIPTOR_GRID - BAND_CELLS)), np.float32)
    for start in range(0, n, _DESCRIBED_PER_BLOCK):
        table = _summed_area(thumbnails[start:start + _DESCRIBED_PER_BLOCK])
        grid = _block_means(table, 0.0, 0.0, float(side))
        grid = grid.reshape(len(table), DESCRIPTOR_GRID, DESCRIPTOR_GRID)
        views = []
        for first in BAND_STARTS:
            left_out = np.arange(first, first + BAND_CELLS)
            views.append(_unit(np.delete(grid, left_out, axis=1).reshape(len(table), -1)))  # horizontal band
            views.append(_unit(np.delete(grid, left_out, axis=2).reshape(len(table), -1)))  # vertical band
        out[start:start + len(table)] = np.stack(views, axis=1)
    return out


def nearest_past_band(queries: np.ndarray, references: np.ndarray, k: int,
                      chunk: int | None = None) -> np.ndarray:
    """(Q, k') indices of the references most similar to each query by :func:`band_descriptors`
    (``queries`` (Q, V, D), ``references`` (R, V, D)), the best variant counting, each variant
    compared with the same variant only; most similar first (k' = min(k, references))."""
    n_ref, n_var = references.shape[0], references.shape[1]
    k = min(k, n_ref)
    out = np.empty((len(queries), k), np.int64)
    chunk = chunk or _QUERIES_PER_BLOCK
    for start in range(0, len(queries), chunk):
        part = np.ascontiguousarray(queries[start:start + chunk].transpose(1, 0, 2))    # (V, q, D)
        # As in nearest_by_window: a block of training images at a time, variant-major, so the
        # best over variants is read back while still in cache (40 % faster than whole rows).
        step = max(1, _SIMILARITIES_PER_BLOCK // (n_var * part.shape[1]))
        best = np.empty((part.shape[1], n_ref), np.float32)
        for at in range(0, n_ref, step):
            block = np.ascontiguousarray(references[at:at + step].transpose(1, 2, 0))  # (V, D, r)
            best[:, at:at + block.shape[2]] = np.matmul(part, block).max(axis=0)
        out[start:start + chunk] = most_similar(best, k)
    return out


# Training images per block of the top-k search (most_similar): the k most similar lie in the k
# blocks whose most similar are most similar.
_TOP_BLOCK = 64


def most_similar(similarity: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) columns of the ``k`` largest values of each row of ``similarity`` (Q, R), largest
    first; ties broken arbitrarily. Each of the k largest lies in a block of ``_TOP_BLOCK``
    columns whose own largest is among the k largest blocks' largest, so only those blocks (and
    the columns past the last whole block) are partitioned: six times faster than partitioning
    every column at 100,000 training images (the largest of each block is one contiguous pass)."""
    q, n = similarity.shape
    if k == 0:
        return np.zeros((q, 0), np.int64)
    whole = n // _TOP_BLOCK * _TOP_BLOCK
    if whole // _TOP_BLOCK <= k:
        columns = np.broadcast_to(np.arange(n), (q, n))
    else:
        block_best = similarity[:, :whole].reshape(q, -1, _TOP_BLOCK).max(axis=2)
        blocks = np.argpartition(-block_best, k - 1, axis=1)[:, :k]
        columns = (blocks[:, :, None] * _TOP_BLOCK + np.arange(_TOP_BLOCK)).reshape(q, -1)
        if whole < n:
            columns = np.concatenate([columns, np.broadcast_to(np.arange(whole, n), (q, n - whole))], axis=1)
    values = np.take_along_axis(similarity, columns, axis=1)
    top = np.argpartition(-values, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1)
    return np.take_along_axis(np.take_along_axis(columns, top, axis=1), order, axis=1)


@dataclass(frozen=True)
class SortedBands:
    """Training images' :func:`band_descriptors`, each variant sorted by its projection on its own
    first principal direction, for :func:`nearest_past_band_above`. Two unit descriptors at least
    ``s`` similar (cosine) lie within ``sqrt(2 - 2 s)`` of each other, and so do their projections
    on any unit direction: only the training images whose projection lies that near the query's
    need their similarity computed: at ``s = 0.995``, 12 to 13 % of 100,000 drawings per band left out."""

    directions: np.ndarray   # (V, D) unit
    order: np.ndarray        # (V, R) training rows by projection
    projections: np.ndarray  # (V, R) ascending
    bands: np.ndarray        # (V, R, D) in that order

    @classmethod
    def of(cls, references: np.ndarray) -> SortedBands:
        """From (R, V, D) band descriptors."""
        by_variant = np.ascontiguousarray(references.transpose(1, 0, 2))             # (V, R, D)
        directions = np.empty(by_variant.shape[::2], np.float32)
        # Any unit direction keeps the search exact; the first principal one of a sample of the
        # training images spreads them most.
        for v, descriptors in enumerate(by_variant[:, ::max(1, len(references) // _DIRECTION_SAMPLE)]):
            centred = descriptors - descriptors.mean(axis=0)
            directions[v] = np.linalg.eigh(centred.T @ centred)[1][:, -1]  # the largest eigenvalue's
        projections = np.einsum("vrd,vd->vr", by_variant, directions)
        order = np.argsort(projections, axis=1, kind="stable")
        return cls(directions, order, np.take_along_axis(projections, order, axis=1),
                   np.stack([d[o] for d, o in zip(by_variant, order)]))


def nearest_past_band_above(queries: np.ndarray, references: SortedBands, at_least: float) -> np.ndarray:
    """(Q,) the training row :func:`nearest_past_band` finds for each query (``queries`` (Q, V, D))
    where its similarity is at least ``at_least``, and -1 where it is not: the same rows (but for a
    tie: two training images as similar), from the training images that can come that close
    (:class:`SortedBands`) only."""
    radius = np.sqrt(max(0.0, 2.0 - 2.0 * at_least)) + 1e-4  # and float32's rounding
    best = np.full(len(queries), -np.inf, np.float32)
    rows = np.full(len(queries), -1, np.int64)
    for v in range(len(references.directions)):
        variant = np.ascontiguousarray(queries[:, v])                                # (Q, D)
        projected = variant @ references.directions[v]
        by_projection = np.argsort(projected, kind="stable")
        for at in range(0, len(queries), _ABOVE_PER_BLOCK):
            block = by_projection[at:at + _ABOVE_PER_BLOCK]
            low, high = np.searchsorted(references.projections[v],
                                        (projected[block[0]] - radius, projected[block[-1]] + radius))
            if low == high:
                continue
            similarity = variant[block] @ references.bands[v, low:high].T                # (b, n)
            nearest = similarity.argmax(axis=1)
            value = similarity[np.arange(len(block)), nearest]
            better = (value >= at_least) & (value > best[block])
            best[block[better]] = value[better]
            rows[block[better]] = references.order[v, low + nearest[better]]
    return rows


def nearest_by_window(queries: np.ndarray, windows: np.ndarray, k: int,
                      chunk: int | None = None) -> np.ndarray:
    """(Q, k') indices of the references whose best window is most similar to one of each
    query's descriptors ((Q, D) or (Q, V, D)), most similar first (k' = min(k, references))."""
    n_ref, n_windows = windows.shape[:2]
    k = min(k, n_ref)
    queries = queries.reshape(len(queries), -1, queries.shape[-1])                 # (Q, V, D)
    out = np.empty((len(queries), k), np.int64)
    # A block of queries against a block of training images at a time: the training images'
    # windows are read from memory once per block of queries (not once per few queries), and
    # each product stays near 8 MB.
    chunk = chunk or _QUERIES_PER_BLOCK
    for start in range(0, len(queries), chunk):
        part = queries[start:start + chunk]
        rows = part.reshape(-1, part.shape[-1])                                     # (q*V, D)
        step = max(1, _SIMILARITIES_PER_BLOCK // (len(rows) * n_windows))
        best = np.empty((len(part), n_ref), np.float32)
        for at in range(0, n_ref, step):
            block = windows[at:at + step]
            # Window-major, so the best over windows is an elementwise maximum of contiguous rows.
            flat = np.ascontiguousarray(block.transpose(1, 0, 2)).reshape(-1, block.shape[-1])
            similarity = (rows @ flat.T).reshape(len(part), -1, n_windows, len(block))
            best[:, at:at + len(block)] = similarity.max(axis=2).max(axis=1)    # (q, r)
        out[start:start + chunk] = most_similar(best, k)
    return out


# -- alignment ---------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _centred_grid(side: int) -> np.ndarray:
    """(2, side, side) row and column coordinates about the centre: built once per side, read-only."""
    grid = np.mgrid[0:side, 0:side].astype(np.float64) - (side - 1) / 2
    grid.flags.writeable = False
    return grid


def _source_coordinates(xx: np.ndarray, yy: np.ndarray, degrees: float, scale: float,
                        aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Where points of the generated image's square frame (about its centre, already moved back by
    the shift) come from in the training image's, relative to its centre. The turn is a turn of
    the pictures as they are (``aspect``: width over height), not of the square thumbnails: a
    96 x 64 picture turned by 5 degrees and squeezed into a square is sheared, not turned."""
    turn = np.deg2rad(-degrees)  # counter-clockwise as shown: y points down
    cos, sin = np.cos(turn), np.sin(turn)
    # Into units of the picture's height, turned and enlarged there, and back into the square.
    wide = xx * aspect
    return (cos * wide + sin * yy) / (scale * aspect), (-sin * wide + cos * yy) / scale


def _warp(reference: np.ndarray, degrees: float, scale: float,
          shift: tuple[float, float] = (0.0, 0.0), aspect: float = 1.0,
          order: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The training image turned by ``degrees`` and enlarged by ``scale`` about its centre, then
    moved by ``shift`` (may be fractional), in the generated image's frame; and the mask of the
    pixels it covers. ``aspect``: the pictures' width over their height. ``order`` 3 samples with
    cubic splines, as image tools resample a crop or a turn (bicubic): what is judged is measured so,
    as bilinear sampling (``order`` 1) softens grain a pixel across that theirs keeps, and left such
    crops 0.2 to 0.3 from their sources, where cubic leaves 0.05 to 0.1. Hypotheses are compared
    with each other on bilinear samples, as :func:`_warped_many` makes them for the searches, at a
    third of the cost."""
    # The grid's hypotheses (no shift) recur for every training image: their sampling is cached.
    sampling = _sampling if shift == (0.0, 0.0) else _sampling.__wrapped__
    y, x, inside = sampling(reference.shape[0], float(degrees), float(scale), *map(float, shift),
                            float(aspect))
    return ndimage.map_coordinates(reference, [y, x], order=order, mode="nearest") * inside, inside


@lru_cache(maxsize=256)
def _sampling(side: int, degrees: float, scale: float, dx: float, dy: float,
              aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel of the generated image's frame comes from in the training image under a
    turn, enlargement and shift, and the mask of those inside it: the same for every training
    image, so the grid hypotheses (no shift) are built once per run and aspect (read-only)."""
    centre = (side - 1) / 2
    yy, xx = _centred_grid(side)
    x, y = _source_coordinates(xx - dx, yy - dy, degrees, scale, aspect)
    x, y = x + centre, y + centre
    inside = ((x >= 0) & (x <= side - 1) & (y >= 0) & (y <= side - 1)).astype(np.float64)
    for array in (x, y, inside):
        array.flags.writeable = False
    return y, x, inside


def _warped(reference: np.ndarray, hypotheses: list[tuple[float, float]],
            aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The training image under every (degrees, scale) hypothesis, with the masks: (H, S, S) each."""
    return _warped_many(reference[None], hypotheses, aspect)


def _warped_many(references: np.ndarray, hypotheses: list[tuple[float, float]],
                 aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Each of (C, S, S) training images under every (degrees, scale) hypothesis: (C * H, S, S)
    images, candidate-major, and their masks. The bilinear sampling of a hypothesis is the same
    for every image: one sparse matrix, applied to all images at once (as :func:`_warp`)."""
    n, side = references.shape[:2]
    columns = references.reshape(n, -1).T                                    # (S*S, C)
    images = np.empty((n, len(hypotheses), side, side))
    masks = np.empty((len(hypotheses), side, side))
    for h, (degrees, scale) in enumerate(hypotheses):
        matrix, inside = _bilinear(side, float(degrees), float(scale), float(aspect))
        images[:, h] = (matrix @ columns).T.reshape(n, side, side) * inside
        masks[h] = inside
    return images.reshape(-1, side, side), np.tile(masks, (n, 1, 1))


@lru_cache(maxsize=256)
def _bilinear(side: int, degrees: float, scale: float,
              aspect: float = 1.0) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The (S*S, S*S) sparse matrix of bilinear interpolation that turns and enlarges an (S, S)
    image about its centre (edges repeated, as ``map_coordinates(mode="nearest")``), and the mask
    of the pixels inside it."""
    y, x, inside = _sampling(side, degrees, scale, 0.0, 0.0, aspect)
    y0, x0 = np.floor(y), np.floor(x)
    fy, fx = (y - y0).ravel(), (x - x0).ravel()
    rows = np.arange(side * side)
    weights, indices = [], []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy = np.clip(y0.ravel().astype(np.int64) + dy, 0, side - 1)
            xx = np.clip(x0.ravel().astype(np.int64) + dx, 0, side - 1)
            weights.append(wy * wx)
            indices.append(yy * side + xx)
    matrix = sparse.csr_matrix((np.concatenate(weights), (np.tile(rows, 4), np.concatenate(indices))),
                               shape=(side * side, side * side))
    return matrix, inside


def _best_shifts(query: np.ndarray, images: np.ndarray,
                 masks: np.ndarray) -> list[tuple[float, float, float]]:
    """For each hypothesis, (dx, dy, correlation) maximising the masked normalised
    cross-correlation of the query with the shifted warped image, over shifts of up to
    ``MAX_SHIFT`` (in units of ``ALIGN_SIDE``, scaled to the query's side). Each sum the
    correlation needs is a cross-correlation: those with the query's frame are sums over
    rectangles (of the shifted image, or of the query under a mask that covers the whole frame:
    :func:`_frame_sums`), the others are made by FFT (zero-padded: no wrap-around)."""
    side = query.shape[0]
    limit = MAX_SHIFT * side // ALIGN_SIDE
    # Only the shifts searched, and one more each way for the parabola: shift u at u + limit + 1.
    shifts = np.arange(-limit - 1, limit + 2)
    # Zero-padded to at least side + limit + 1: the shifts searched (and their neighbours) never
    # wrap around; a length FFTs like.
    pad = sp_fft.next_fast_len(side + limit + 2, real=True)
    n_h = len(images)
    # Many hypotheses share a mask (an enlargement hides a small turn's corners): the sums that
    # depend on the mask only are computed once per distinct mask.
    keys = [bits.tobytes() for bits in np.packbits(masks.reshape(n_h, -1) > 0.5, axis=1)]
    number: dict[bytes, int] = {}
    for key in keys:
        number.setdefault(key, len(number))
    of_mask = np.array([number[key] for key in keys])
    distinct = masks[[keys.index(key) for key in number]]
    partial = np.flatnonzero(~(distinct > 0.5).all(axis=(1, 2)))
    n_p = len(partial)
    # The query's sums under a partial mask and its products with the images by FFT: every
    # spectrum in one forward call, of arrays zero-padded in place (not by the FFT's own copy);
    # every correlation in one inverse call.
    padded = np.zeros((2 + n_p + n_h, pad, pad))
    padded[0, :side, :side] = query
    padded[1, :side, :side] = query * query
    padded[2:2 + n_p, :side, :side] = distinct[partial]
    padded[2 + n_p:, :side, :side] = images
    spectra = sp_fft.rfft2(padded)
    # sum_x a(x) b(x - u), for every u, is irfft(A * conj(B)) at u, and irfft(conj(A) * B) at -u:
    # the conjugate taken of the query's two spectra, not of every image's.
    f_q, f_qq = np.conj(spectra[0]), np.conj(spectra[1])
    products = np.empty((2 * n_p + n_h, *spectra.shape[1:]), spectra.dtype)
    np.multiply(f_q, spectra[2:2 + n_p], out=products[:n_p])
    np.multiply(f_qq, spectra[2:2 + n_p], out=products[n_p:2 * n_p])
    np.multiply(f_q, spectra[2 + n_p:], out=products[2 * n_p:])
    sums = _inverse_around(products, pad, -shifts % pad)
    # The sums with the query's frame: of the query over the rectangle of it a whole-frame mask
    # covers, of the masks (their overlap with the frame) and of the images over the rectangle of
    # each that lands inside it.
    windows = _frame_windows(side, limit)
    framed = _frame_sums(np.concatenate([distinct, images, images * images]), windows)
    overlap, sum_w, sum_ww = framed[:len(distinct)][of_mask], framed[len(distinct):-n_h], framed[-n_h:]
    by_mask = _frame_sums(np.stack([query, query * query]), windows[::-1])
    sum_q, sum_qq = by_mask[:, None].repeat(len(distinct), axis=1)
    sum_q[partial], sum_qq[partial] = sums[:n_p], sums[n_p:2 * n_p]
    sum_q, sum_qq, sum_qw = sum_q[of_mask], sum_qq[of_mask], sums[2 * n_p:]
    n = np.maximum(overlap, 1e-9)
    covariance = sum_qw - sum_q * sum_w / n
    variance = (sum_qq - sum_q ** 2 / n) * (sum_ww - sum_w ** 2 / n)
    ncc = covariance / np.sqrt(np.maximum(variance, (MIN_STD ** 2 * n) ** 2))
    ncc[overlap < MIN_OVERLAP * side * side] = -1.0
    # A flat image correlates 0 at every shift: its peak would lie wherever rounding puts it.
    # Correlations within 1e-9 of each other count as equal, and of those the smallest shift wins.
    ranked = np.round(ncc[:, 1:-1, 1:-1], 9) - _shift_penalty(limit)
    a, b = np.unravel_index(ranked.reshape(n_h, -1).argmax(axis=1), ranked.shape[1:])
    h = np.arange(n_h)
    # The peak to a fraction of a pixel, from a parabola through it and its two neighbours:
    # sharp edges half a pixel apart would otherwise count as a difference.
    peak = ncc[h, a + 1, b + 1]
    fy = _vertex(ncc[h, a, b + 1], peak, ncc[h, a + 2, b + 1])
    fx = _vertex(ncc[h, a + 1, b], peak, ncc[h, a + 1, b + 2])
    return [(int(b[i]) - limit + float(fx[i]), int(a[i]) - limit + float(fy[i]), float(peak[i]))
            for i in range(n_h)]


@lru_cache(maxsize=8)
def _shift_penalty(limit: int) -> np.ndarray:
    """(L, L) a tie-break for the shifts from ``-limit`` to ``limit``: 1e-12 times the squared
    length of each, under half of 1e-9 at any of them. Read-only."""
    shifts = np.arange(-limit, limit + 1)
    penalty = 1e-12 * (shifts[:, None] ** 2 + shifts[None, :] ** 2).astype(np.float64)
    penalty.flags.writeable = False
    return penalty


@lru_cache(maxsize=8)
def _frame_windows(side: int, limit: int) -> np.ndarray:
    """(L, S) 0/1 rows: for each shift ``u`` from ``-limit - 1`` to ``limit + 1``, the lines of an
    (S, S) image that stay inside the frame when it is moved by ``u`` (``[-u, S - u)`` within
    ``[0, S)``). Reversed, the lines of the frame that a shifted whole image covers. Read-only."""
    lines = np.arange(side)
    shifts = np.arange(-limit - 1, limit + 2)[:, None]
    windows = ((lines >= -shifts) & (lines < side - shifts)).astype(np.float64)
    windows.flags.writeable = False
    return windows


def _frame_sums(images: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """``sum_x frame(x) a(x - u)`` for each (S, S) image ``a`` and every shift ``u`` (rows, then
    columns) of :func:`_frame_windows`: the sum of the image over the rectangle of it that lands
    inside the frame: ``windows @ a @ windows.T``. (N, L, L)."""
    n, side = images.shape[:2]
    # Columns first, all images in one product: (N * S, S) @ (S, L); then rows, image by image.
    columns = (images.reshape(n * side, side) @ windows.T).reshape(n, side, -1)
    return np.matmul(windows, columns)


def _inverse_around(spectra: np.ndarray, pad: int, around: np.ndarray) -> np.ndarray:
    """``irfft2(spectra, s=(pad, pad))[:, around][:, :, around]`` to the last bit: irfft2's own
    passes (the columns' inverse unscaled, then the rows', scaled once by 1 / pad^2), with only
    the rows in ``around`` carried into the second (a third of them at the full side: about a
    third of the inverse's work saved)."""
    rows = sp_fft.ifft(spectra, axis=1, norm="forward")[:, around]
    return sp_fft.irfft(rows, n=pad, axis=2, norm="forward")[:, :, around] * (1.0 / (pad * pad))


def _vertex(before: np.ndarray, peak: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The offset, within half a pixel, of the vertex of the parabola through each peak and its
    two neighbours; 0 where it is no maximum (flat within rounding: a flat image's correlations
    are 0 plus noise, whose parabola would put its vertex anywhere) or a neighbour lies outside the
    overlap."""
    curvature = before - 2 * peak + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.clip(0.5 * (before - after) / curvature, -0.5, 0.5)
    return np.where((curvature > -1e-9) | (np.minimum(before, after) < -0.5), 0.0, offset)


def masked_tiled_distance(query: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                          tiles: int) -> float:
    """The tiled pixel distance of two aligned (S, S) grey images over ``mask`` (1 where both are
    picture), each standardised over the mask; tiles less than a quarter covered are left out."""
    covered = mask > 0.5
    if not covered.any():
        return float("inf")

    def standard(a: np.ndarray) -> np.ndarray:
        mean, std = _mean_std(a[covered])
        return (a - mean) / max(std, MIN_STD)

    difference = (standard(query) - standard(reference)) ** 2
    side = query.shape[0]
    t = side // tiles
    # The tiles wholly covered (most of them) all at once: each row of ``cells`` is one tile's
    # pixels in the order a tile's own mean sums them, so every mean is the same to the last bit.
    cells = _tile_cells(difference, tiles, t)
    counts = _tile_cells(covered, tiles, t).sum(axis=1)
    full = counts == t * t
    worst = float(np.sqrt(cells[full].sum(axis=1) / (t * t)).max()) if full.any() else 0.0
    for tile in np.flatnonzero(~full & (counts >= 0.25 * t * t)):
        row, column = divmod(int(tile), tiles)
        cell = (slice(row * t, (row + 1) * t), slice(column * t, (column + 1) * t))
        worst = max(worst, float(np.sqrt(_mean(difference[cell][covered[cell]]))))
    return worst


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """``values.mean()`` and ``values.std()`` of a 1-D float64 array, to the last bit (numpy's own
    steps: the sum over the count, then the root of the mean squared deviation), the mean summed
    once instead of twice, without numpy's generic reduction machinery (most of their cost on a
    few hundred pixels)."""
    mean, variance = _mean_var(values)
    return mean, float(np.sqrt(variance))


def _mean_var(values: np.ndarray) -> tuple[float, float]:
    """``values.mean()`` and ``values.var()`` of a 1-D float64 array, to the last bit, as
    :func:`_mean_std`."""
    n = values.size
    mean = np.add.reduce(values) / n
    deviation = values - mean
    return float(mean), float(np.add.reduce(deviation * deviation) / n)


def _mean(values: np.ndarray) -> float:
    """``values.mean()`` of a 1-D float64 array, to the last bit, as :func:`_mean_std`."""
    return float(np.add.reduce(values) / values.size)


def _tile_cells(image: np.ndarray, tiles: int, t: int) -> np.ndarray:
    """(tiles * tiles, t * t): the pixels of each ``t x t`` tile of ``image`` as one contiguous row,
    row by row within the tile, tiles in row-major order."""
    grid = image[:tiles * t, :tiles * t].reshape(tiles, t, tiles, t).swapaxes(1, 2)
    return np.ascontiguousarray(grid).reshape(tiles * tiles, t * t)


def _halve(array: np.ndarray) -> np.ndarray:
    """The mean of each 2 x 2 block, to the last bit as ``reshape(...).mean(axis=(1, 3))`` sums them
    (each row's pair, then the two pairs), five times faster on the alignment's 64 px images."""
    array = np.asarray(array, np.float64)
    return ((array[0::2, 0::2] + array[0::2, 1::2]) + (array[1::2, 0::2] + array[1::2, 1::2])) / 4


def _coarse() -> list[tuple[float, float]]:
    return [(degrees, scale) for degrees in ROTATIONS for scale in SCALES]


def coarse_search(query: np.ndarray, reference: np.ndarray,
                  aspect: float = 1.0) -> list[tuple[float, float, float]]:
    """The first, coarse step of :func:`align`: for each (rotation, scale) of the grid, the best
    shift at half the side and its correlation. Its best correlation ranks candidate training
    images cheaply before the full alignment of the most promising."""
    return coarse_search_many(query, [reference], aspect)[0]


def coarse_search_many(query: np.ndarray, references: list[np.ndarray],
                       aspect: float = 1.0) -> list[list[tuple[float, float, float]]]:
    """:func:`coarse_search` of ``query`` against each of ``references``, in one batch: the
    masks of the grid are the same for every training image, so their sums with the query and
    every spectrum are computed once, in one forward and one inverse FFT call."""
    if not references:
        return []
    coarse = _coarse()
    small_query = _halve(np.asarray(query, np.float64))
    found = _best_shifts(small_query, *_warped_many(
        np.stack([_halve(np.asarray(reference, np.float64)) for reference in references]), coarse, aspect))
    return [found[i * len(coarse):(i + 1) * len(coarse)] for i in range(len(references))]


def align(query: np.ndarray, reference: np.ndarray, tiles: int = 4,
          coarse_peaks: list[tuple[float, float, float]] | None = None, aspect: float = 1.0,
          colour: np.ndarray | None = None) -> Alignment:
    """Best rotation, enlargement and shift of ``reference`` onto ``query`` (both (S, S) grey,
    ``S = ALIGN_SIDE``), and the tiled pixel distance there (at half the side, as the hash stage
    compares at 32 px). ``coarse_peaks``: :func:`coarse_search` of the pair, when already made.
    ``aspect``: the generated image's width over its height, as it was before its thumbnail was
    squeezed into a square (turns are searched in that frame). ``colour``: the generated image as
    (S, S, 3) :func:`colour_planes`, when read so, for the overlay look (:func:`occluder`)."""
    aspect = float(np.clip(aspect, 1 / MAX_ASPECT, MAX_ASPECT))
    small_colour = None if colour is None else _halve(colour)
    query, reference = np.asarray(query, np.float64), np.asarray(reference, np.float64)
    # The coarse search and the distances run at half the side (a quarter of the work).
    small_query = _halve(query)
    coarse = _coarse()
    peaks = coarse_peaks if coarse_peaks is not None else coarse_search(query, reference, aspect)
    # Then halfway between the grid's steps around the best two, where a crop's enlargement of 1.12
    # or a turn of 7 degrees is matched more closely.
    fine = list(dict.fromkeys(
        (round(coarse[h][0] + d, 6), round(coarse[h][1] + s, 6))
        for h in np.argsort([-c for _, _, c in peaks])[:REFINED]
        for d in (-REFINE_DEGREES, 0.0, REFINE_DEGREES) for s in (-REFINE_SCALE, 0.0, REFINE_SCALE)))
    # Each gets its shift and correlation at full side. At half the side, sharp edges half a small
    # pixel apart correlate less than a wrong enlargement does, and a faint line a pixel wide,
    # blurred to half its contrast, correlates about as well at 1.0 as at 1.2: for a drawing of
    # thin lines cropped to 70 %, 1.05, 1.0 and 0.95 came first there (0.85 to 0.88), and the walk
    # below could not reach the crop's 1.195 from them; at full side 1.15 came first (0.955). The
    # best few are measured, and the closest of them by pixel distance is kept. A plain shift (no
    # turn, no enlargement) is always among them: the commonest edit of all.
    shifted = list(dict.fromkeys([*fine, (0.0, 1.0)]))
    peaks = _best_shifts(query, *_warped(reference, shifted, aspect))
    ranked = dict.fromkeys([*np.argsort([-c for _, _, c in peaks[:len(fine)]])[:MEASURED].tolist(),
                            shifted.index((0.0, 1.0))])
    best, shifts = [shifted[h] for h in ranked], [peaks[h] for h in ranked]
    looked = [_looked(small_query, reference, *hypothesis, *shift[:2], tiles, aspect, order=1)
              for hypothesis, shift in zip(best, shifts)]
    distances = [whole for _, _, whole in looked]
    pick = int(np.argmin(distances))
    walked = [pick]
    if OVERLAY_FROM < distances[pick] <= FINEST_UNTIL:
        # Sharp edges (text) need the enlargement closer than the fine step: a crop keeping 85 % of
        # the area is an enlargement of 1.085, and 1.05 or 1.1 leaves letters a pixel apart at the
        # edges, three times as far as 1.075 does. A quarter step each way of the closest turn and
        # enlargement, measured at full side, when the closest is not already as close as a copy
        # and not so far that a quarter step could not bring it near; again from each step that
        # came closer (up to FINEST_ROUNDS), so that a turn picked a grid step off is walked back.
        start = best[pick]
        for _ in range(FINEST_ROUNDS):
            degrees, scale = best[pick]
            finest = [hypothesis for d, s in ((0.0, -FINEST_SCALE), (0.0, FINEST_SCALE),
                                              (-FINEST_DEGREES, 0.0), (FINEST_DEGREES, 0.0))
                      if (hypothesis := (round(degrees + d, 6), round(scale + s, 6))) not in best
                      and abs(hypothesis[0] - start[0]) <= REFINE_DEGREES + 1e-9
                      and abs(hypothesis[1] - start[1]) <= REFINE_SCALE + 1e-9]
            if not finest:
                break
            best, shifts = best + finest, shifts + _best_shifts(query, *_warped(reference, finest, aspect))
            looked += [_looked(small_query, reference, *hypothesis, *shift[:2], tiles, aspect, order=1)
                       for hypothesis, shift in zip(finest, shifts[-len(finest):])]
            pick = int(np.argmin([whole for _, _, whole in looked]))
            if pick == walked[-1]:
                break
            walked.append(pick)
        if looked[pick][2] > OVERLAY_FROM:
            # Fine grain and points of light a pixel across are half a pixel off at the edges when
            # the enlargement is a quarter step off (a star field cropped to 70 %: 0.47 and 0.74 at
            # 1.175 and 1.2, 0.13 at the crop's 1.185): an eighth step each way of the closest,
            # at its shift (an eighth step about the centre moves it by a twentieth of a pixel).
            degrees, scale = best[pick]
            dx, dy = shifts[pick][:2]
            eighth = [hypothesis for d, s in ((0.0, -FINEST_SCALE / 2), (0.0, FINEST_SCALE / 2),
                                              (-FINEST_DEGREES / 2, 0.0), (FINEST_DEGREES / 2, 0.0))
                      if (hypothesis := (round(degrees + d, 6), round(scale + s, 6))) not in best]
            for hypothesis in eighth:
                step, correlation = _looked_unsearched(query, small_query, reference, *hypothesis, dx, dy,
                                                       tiles, aspect)
                best, shifts, looked = best + [hypothesis], shifts + [(dx, dy, correlation)], looked + [step]
            closest = int(np.argmin([whole for _, _, whole in looked]))
            if closest != pick:
                pick = closest
                walked.append(pick)
    # Each step of the walk judged again as the caller sees it, on cubic samples, any overlay left
    # out, the first on a tie: with a caption in, the caption dominates the distance, and a step
    # that shrinks its disagreement may leave the rest farther.
    found, pick = min(((_measured(query, reference, *best[step], *shifts[step], tiles, aspect=aspect,
                                  small_query=small_query,
                                  small_colour=small_colour), step) for step in walked),
                      key=lambda measured: measured[0].distance)
    if ((found.distance > OVERLAY_FROM or len(walked) > 1)
            and (*best[pick], *shifts[pick][:2]) != (0.0, 1.0, 0.0, 0.0)):
        # A large overlay (a dark caption band) can pull the correlation's peak away from the
        # true alignment, and the walk above further: the image as it is gets its own look.
        as_is = _measured(query, reference, 0.0, 1.0, 0.0, 0.0, found.correlation, tiles, aspect=aspect,
                          small_query=small_query, small_colour=small_colour)
        if as_is.distance < found.distance:
            return as_is
    return found


def _at_half(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A training image warped onto the generated image's frame (:func:`_warp`), at half the side,
    and the cells it wholly covers there (so a black rotated corner never counts)."""
    return _halve(image), _halve(mask) >= 0.999


def _compared(small_query: np.ndarray, image: np.ndarray, mask: np.ndarray,
              tiles: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A warped training image (:func:`_warp`) and its mask at half the side (:func:`_at_half`), with
    its pixel distance from ``small_query`` (the generated image at half the side) over the whole
    shared region."""
    small_image, covered = _at_half(image, mask)
    return small_image, covered, masked_tiled_distance(small_query, small_image, covered, tiles)


def _looked(small_query: np.ndarray, reference: np.ndarray, degrees: float, scale: float, dx: float,
            dy: float, tiles: int, aspect: float, order: int = 3) -> tuple[np.ndarray, np.ndarray, float]:
    """One transformation's :func:`_compared`, sampled with ``order`` (see :func:`_warp`): what
    :func:`_measured` starts from, and (bilinear) how the hypotheses of :func:`align` are compared
    with each other."""
    return _compared(small_query, *_warp(reference, degrees, scale, (dx, dy), aspect, order), tiles)


def _looked_unsearched(query: np.ndarray, small_query: np.ndarray, reference: np.ndarray, degrees: float,
                       scale: float, dx: float, dy: float, tiles: int,
                       aspect: float) -> tuple[tuple[np.ndarray, np.ndarray, float], float]:
    """:func:`_looked` (bilinear) of a transformation whose shift was not searched, with the
    normalised cross-correlation at full side over the pixels it covers, as :func:`_best_shifts`
    reports it for those that were."""
    image, mask = _warp(reference, degrees, scale, (dx, dy), aspect, order=1)
    covered = mask > 0.5
    a, b = query[covered] - _mean(query[covered]), image[covered] - _mean(image[covered])
    correlation = float(np.dot(a, b) / max(np.sqrt(np.dot(a, a) * np.dot(b, b)), 1e-12))
    return _compared(small_query, image, mask, tiles), correlation


def _measured(query: np.ndarray, reference: np.ndarray, degrees: float, scale: float, dx: float,
              dy: float, correlation: float, tiles: int, *, overlays: bool = True,
              aspect: float = 1.0, small_query: np.ndarray | None = None,
              small_colour: np.ndarray | None = None) -> Alignment:
    """The :class:`Alignment` for one transformation: its pixel distance (on cubic samples), less an
    overlay when leaving one out brings the images closer (looked for only with ``overlays``).
    ``small_query``: ``query`` at half the side, when the caller has it; ``small_colour``: the
    generated image's :func:`colour_planes` at half the side, when read so (for :func:`occluder`)."""
    small_query = _halve(query) if small_query is None else small_query
    small_image, covered, whole = _looked(small_query, reference, degrees, scale, dx, dy, tiles, aspect)
    distance = whole
    overlay, compared = None, covered
    if overlays and distance > OVERLAY_FROM:
        # A caption, logo or band over the copy: the one compact region where the two disagree, or
        # the band across the picture that leaves the rest closest, left out when it is small
        # enough, and named; of the two, the one that brings the rest closer.
        side = small_query.shape[0]
        # A bar that only colour shows (see occluder) is taken only over the training image as it
        # lies: the grey search placed the band where the training image disagrees, not where the
        # bar is, and a free shift can move any part of a drawing under the bar, leaving a small
        # square to match another's (a tan drawing's disc under a lime bar: two of eight others
        # shifted so came within 0.06, where the copies' own came to 0.003 or less).
        unmoved = small_colour is not None and (degrees, scale) == (0.0, 1.0) and max(abs(dx), abs(dy)) <= 1
        for find in (overlay_box, band_box):
            box = find(small_query, small_image, covered)
            if box is None:
                continue
            left, top, right, bottom = (round(v * side) for v in box)
            kept = covered.copy()
            kept[top:bottom, left:right] = False
            without = masked_tiled_distance(small_query, small_image, kept, tiles)
            # What is left must hold much of the training image's structure: text on a plain
            # background, its text left out, would match any plain background.
            structure = structure_share(small_image, kept, covered)
            if without < distance and (structure >= MIN_STRUCTURE_KEPT
                                       or textured_share(small_image, kept, tiles) >= MIN_TEXTURED
                                       or structure >= MIN_STRUCTURE_OCCLUDED and without <= OVERLAY_FROM
                                       and (occluder(small_query, (left, top, right, bottom))
                                            or unmoved and occluder(small_query, (left, top, right, bottom),
                                                                    small_colour)
                                            or overlay is None and whole >= FOREIGN_OVERLAY * without
                                            and marked(small_query, (left, top, right, bottom)))):
                distance, overlay, compared = without, box, kept
    spread = _mean_std(small_image[compared])[1] if compared.any() else 0.0
    return Alignment(degrees, scale, (round(dx, 2), round(dy, 2)),
                     _matched_box(degrees, scale, dx, dy, query.shape[0], aspect), round(correlation, 6),
                     distance, overlay, whole, spread)


def foreign_overlay(found: Alignment) -> bool:
    """Whether ``found`` left out an overlay foreign to the picture: one whose leaving-out brought
    the distance down at least :data:`FOREIGN_OVERLAY` times. A caption or logo drawn over a copy
    disagrees with its source as unrelated pictures do while the rest agrees; a distinct image of
    the kind disagrees a little everywhere, and leaving out where it disagrees most gains little."""
    if found.overlay is None or found.whole_distance is None:
        return False
    return found.whole_distance >= FOREIGN_OVERLAY * found.distance


def shares_only_flat(reference: np.ndarray, found: Alignment) -> bool:
    """Whether ``found`` compares only a flat part of ``reference`` (the training image, (S, S) grey):
    its region compared, at half the side less any overlay, spreads less than ``FLAT_SHARED`` grey
    levels (the spread :func:`_measured` kept; an alignment without one is not judged) while the
    whole image spreads at least twice ``MIN_STD``."""
    return (found.shared_spread is not None and found.shared_spread < FLAT_SHARED
            and _mean_std(_halve(reference).ravel())[1] >= 2 * MIN_STD)


def distance_without(query: np.ndarray, reference: np.ndarray, found: Alignment,
                     region: tuple[float, ...], tiles: int = 4, aspect: float = 1.0) -> float:
    """The tiled pixel distance of ``reference`` aligned onto ``query`` as ``found`` has it, with
    ``region`` (left, top, right, bottom, shares of the side) left out: another training image
    measured with a copy's overlay left out, as the copy was."""
    image, mask = _warp(np.asarray(reference, np.float64), found.rotation, found.scale, found.shift, aspect)
    small_query, small_image = _halve(np.asarray(query, np.float64)), _halve(image)
    kept = _halve(mask) >= 0.999
    side = small_query.shape[0]
    left, top, right, bottom = (round(v * side) for v in region)
    kept[top:bottom, left:right] = False
    return masked_tiled_distance(small_query, small_image, kept, tiles)


def occluder(image: np.ndarray, box: tuple[int, int, int, int], colour: np.ndarray | None = None) -> bool:
    """Whether ``box`` (left, top, right, bottom, pixels of ``image``) is a bar laid over the
    picture: across its whole width or height, nearly one grey level (at least ``OCCLUDER_SHARE``
    of its pixels within ``OCCLUDER_LEVELS`` of their median), and edged: at least
    ``OCCLUDER_EDGE`` of the pixels on the lines just beside it, inside the picture, off that grey.
    The plain ground of a drawing, where a look-alike lacks a shape its training image has, is
    as flat, but runs on past the band.

    ``colour``: the same picture as (S, S, C) planes (:func:`colour_planes`, grey first), when it
    can be read so; then the bar is one colour (within ``OCCLUDER_LEVELS`` in every plane) and its
    edge a change of colour (off it in any plane): a green bar over a tan ground of the same grey
    has an edge that its grey levels do not show."""
    left, top, right, bottom = box
    side = image.shape[0]
    planes = image[..., None] if colour is None else colour
    if (top, bottom) == (0, side):
        lines, beside = planes.transpose(1, 0, 2), (left - 1, right)  # columns
    elif (left, right) == (0, side):
        lines, beside = planes, (top - 1, bottom)
    else:
        return False
    values = planes[top:bottom, left:right].reshape(-1, planes.shape[-1])
    edge = [lines[i] for i in beside if 0 <= i < side]
    if not len(values) or not edge:
        return False
    bar = np.array([_median(values[:, c]) for c in range(planes.shape[-1])])
    off = np.abs(values - bar).max(axis=1)
    off_edge = np.abs(np.concatenate(edge) - bar).max(axis=1)
    return (float((off <= OCCLUDER_LEVELS).mean()) >= OCCLUDER_SHARE
            and float((off_edge > OCCLUDER_LEVELS).mean()) >= OCCLUDER_EDGE)


def colour_planes(image: np.ndarray) -> np.ndarray:
    """An (S, S, 3) RGB uint8 thumbnail as (S, S, 3) float planes of YCbCr, as PIL converts it (and
    as :mod:`~aigc_audit.evaluators.copying.aligned_agreement` reads colour): its grey level, the
    same as ``L``, and its blue and red differences, each spanning 255 levels as the grey level does,
    so ``OCCLUDER_LEVELS`` means as much in each."""
    return np.asarray(Image.fromarray(np.asarray(image, np.uint8)).convert("YCbCr"), np.float64)


def marked(image: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether ``box`` (left, top, right, bottom, pixels of ``image``) is a strip along an edge,
    across the whole width or height, that holds marks on a ground of its own, as a caption does:
    its grey levels spread past ``OCCLUDER_LEVELS`` (a drawing's plain ground is one grey), and one
    of its lines is a bar's line (:func:`occluder`: nearly one grey, and off it on the lines just
    beside the band: the ground around the letters, where a textured band or the picture's own
    plain ground running into the band has no such line)."""
    left, top, right, bottom = box
    side = image.shape[0]
    if (left, right) == (0, side):
        lines, first, stop = image, top, bottom
    elif (top, bottom) == (0, side):
        lines, first, stop = image.T, left, right
    else:
        return False
    if first > 0 and stop < side:  # a caption strip runs along an edge; a band through text is text
        return False
    values = lines[first:stop]
    beside = [lines[i] for i in (first - 1, stop) if 0 <= i < side]
    if not values.size or not beside or _mean_std(values.ravel())[1] <= OCCLUDER_LEVELS:
        return False
    edge = np.concatenate(beside)
    for line in values:
        grey = _median(line)
        if (float((np.abs(line - grey) <= OCCLUDER_LEVELS).mean()) >= OCCLUDER_SHARE
                and float((np.abs(edge - grey) > OCCLUDER_LEVELS).mean()) >= OCCLUDER_EDGE):
            return True
    return False


def textured_share(image: np.ndarray, kept: np.ndarray, tiles: int) -> float:
    """The share of the tiles of ``kept`` (those at least a quarter kept, as the distance counts
    them) over which ``image`` is not one flat colour: its spread there at least ``FLAT_TILE`` of
    its spread over all of ``kept``. A textured picture (a photograph) keeps most of its tiles
    textured wherever an overlay lies; text or a shape on a plain ground does not."""
    spread = _mean_std(image[kept])[1] if kept.any() else 0.0
    if spread < MIN_STD:
        return 0.0
    t = image.shape[0] // tiles
    counted = textured = 0
    for row in range(tiles):
        for column in range(tiles):
            cell = (slice(row * t, (row + 1) * t), slice(column * t, (column + 1) * t))
            inside = kept[cell]
            if inside.sum() >= 0.25 * t * t:
                counted += 1
                textured += _mean_std(image[cell][inside])[1] >= FLAT_TILE * spread
    return textured / counted if counted else 0.0


def structure_share(image: np.ndarray, kept: np.ndarray, covered: np.ndarray) -> float:
    """The share of ``image``'s structure over ``covered`` that ``kept`` holds: the smaller of its
    share of the edges (gradient magnitude, two pixels in from the border of ``kept``, so that an
    edge of something left out does not count) and its share of the standard deviation."""
    rows, columns = np.gradient(image)
    magnitude = np.hypot(rows, columns)
    inner = ndimage.binary_erosion(kept, iterations=2, border_value=1)
    total = float(magnitude[covered].sum())
    spread = _mean_std(image[covered])[1]
    if total <= 0 or spread < MIN_STD:
        return 0.0
    return min(float(magnitude[inner].sum()) / total, _mean_std(image[kept])[1] / spread)


def overlay_box(query: np.ndarray, reference: np.ndarray, covered: np.ndarray) -> tuple[float, ...] | None:
    """The box (left, top, right, bottom, as shares of the side) of the one compact region where the
    aligned images disagree, when it covers at most ``MAX_OVERLAY`` of the picture; else None.

    The reference is first mapped onto the query's grey levels by a least-squares line fitted on
    the half of the pixels that agree best (a brightness or contrast change is not a disagreement); pixels off
    that line by more than half the query's standard deviation disagree; the largest connected
    group of them, closed over small gaps (the letters of a caption), gives the box. A distinct
    image disagrees all over, so its largest group is either too big or leaves the rest far."""
    values_q, values_r = query[covered], reference[covered]
    if values_q.size < 16:
        return None
    mean_q, std_q = _mean_std(values_q)
    if std_q < MIN_STD:
        return None
    keep = np.ones(values_q.size, bool)
    slope, intercept = 0.0, mean_q
    spread_r = _mean_var(values_r)[1]
    for _ in range(4):  # refit on the best-agreeing half: a dark band must not tilt the line
        kept_r, kept_q = values_r[keep], values_q[keep]
        mean_r, spread = _mean_var(kept_r)
        if spread <= 1e-9 or spread < MIN_SPREAD_KEPT * spread_r:
            # The half that agrees best is one flat background: it cannot fix a slope, so the
            # line fitted before stands (else every pixel off the background would disagree).
            break
        mean_q = _mean(kept_q)
        covariance = _mean((kept_r - mean_r) * (kept_q - mean_q))
        slope = float(covariance / spread)
        intercept = mean_q - slope * mean_r
        residual = np.abs(values_q - (slope * values_r + intercept))
        keep = residual <= _median(residual)
    residual = np.abs(values_q - (slope * values_r + intercept))
    off = np.zeros_like(covered)
    off[covered] = residual > 0.5 * std_q
    # Closed over a copy of the edges, so a band along the border keeps its border pixels.
    padded = np.pad(off, 2, mode="edge")
    off = ndimage.binary_closing(padded, structure=np.ones((3, 3)), iterations=2)[2:-2, 2:-2] & covered
    labels, count = ndimage.label(off)
    if count == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    rows, columns = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    side = query.shape[0]
    # One pixel of margin: the overlay's edge is blurred by the resizing.
    top, bottom = max(rows.min() - 1, 0), min(rows.max() + 2, side)
    left, right = max(columns.min() - 1, 0), min(columns.max() + 2, side)
    if (bottom - top) * (right - left) > MAX_OVERLAY * side * side:
        return None
    return tuple(round(float(v) / side, 4) for v in (left, top, right, bottom))


def _median(values: np.ndarray) -> float:
    """``np.quantile(values, 0.5)`` to the last bit (its linear rule, the upper value less half the
    gap), from one partition instead of its general machinery: the overlay search asks it four
    times per alignment it looks at."""
    n = values.size
    low = (n - 1) // 2
    high = min(low + 1, n - 1)
    part = np.partition(values, [low, high])
    a, b = part[low], part[high]
    return float(b - (b - a) * 0.5) if n % 2 == 0 else float(a + (b - a) * 0.0)


def band_box(query: np.ndarray, reference: np.ndarray, covered: np.ndarray) -> tuple[float, ...] | None:
    """The box (left, top, right, bottom, as shares of the side) of the band across the whole width
    or height, of at most ``MAX_BAND`` of the side, whose leaving-out correlates the rest of the two
    aligned images best; its end lines that agree given back; None when no line of it disagrees.

    Every position of both directions is tried at once from running sums over the lines: the
    standardised squared difference of the rest is 2 - 2 x its correlation, so the band to leave out
    is the one that maximises the correlation of the rest. A band over a copy leaves a near-perfect
    rest; the same search on a distinct image leaves it far, which the caller's distance shows."""
    side = query.shape[0]
    width = max(1, int(MAX_BAND * side))
    best: tuple[float, int, int] | None = None  # (correlation, axis, start)
    weight = covered.astype(np.float64)
    for axis in (0, 1):  # 0: lines are rows (a horizontal band); 1: columns
        q, r, m = (a if axis == 0 else a.T for a in (query, reference, weight))
        lines = np.stack([m, q * m, r * m, q * q * m, r * r * m, q * r * m]).sum(axis=2)  # (6, side)
        running = np.concatenate([np.zeros((6, 1)), lines.cumsum(axis=1)], axis=1)
        rest = running[:, -1:] - (running[:, width:] - running[:, :-width])   # (6, side - width + 1)
        n, sq, sr, sqq, srr, sqr = rest
        n = np.maximum(n, 1.0)
        var_q, var_r = sqq / n - (sq / n) ** 2, srr / n - (sr / n) ** 2
        corr = (sqr / n - sq * sr / n ** 2) / np.sqrt(np.maximum(var_q * var_r, MIN_STD ** 4))
        corr[rest[0] < MIN_OVERLAP * covered.sum()] = -1.0
        start = int(np.argmax(corr))
        if best is None or corr[start] > best[0]:
            best = (float(corr[start]), axis, start)
    if best is None or best[0] <= 0:
        return None
    _, axis, start = best
    q, r, kept = (a if axis == 0 else a.T for a in (query, reference, covered.copy()))
    kept[start:start + width] = False
    if not kept.any():
        return None

    def standard(a: np.ndarray) -> np.ndarray:
        mean, std = _mean_std(a[kept])
        return (a - mean) / max(std, MIN_STD)

    lines = ((standard(q) - standard(r)) ** 2)[start:start + width].mean(axis=1)
    off = np.nonzero(lines > BAND_LINE_OFF)[0]
    if off.size == 0:
        return None
    # One line of margin each way: the band's edge is blurred by the resizing.
    low, high = max(start + off[0] - 1, 0), min(start + off[-1] + 2, side)
    box = (0, low, side, high) if axis == 0 else (low, 0, high, side)
    return tuple(round(float(v) / side, 4) for v in box)


def _matched_box(degrees: float, scale: float, dx: float, dy: float, side: int,
                 aspect: float = 1.0) -> tuple[float, ...]:
    """The box (left, top, right, bottom, as shares of the training image's sides) that the
    generated image's frame shows, clipped to the image: the frame's corners mapped back."""
    centre = (side - 1) / 2
    corners = np.array([[0, 0], [side - 1, 0], [0, side - 1], [side - 1, side - 1]], np.float64)
    rx, ry = _source_coordinates(corners[:, 0] - dx - centre, corners[:, 1] - dy - centre, degrees, scale,
                                 aspect)
    rx, ry = rx + centre, ry + centre
    clip = np.clip([rx.min(), ry.min(), rx.max(), ry.max()], 0, side - 1) / (side - 1)
    return tuple(round(float(v), 4) for v in clip)


def onto_sample(reference: Image.Image, size: tuple[int, int], rotation: float, scale: float,
                shift: tuple[int, int]) -> Image.Image:
    """``reference`` turned, enlarged and moved as an :class:`Alignment` found it, in the frame of a
    generated image of ``size`` (shift in its pixels): what the reviewer compares it with. The
    evaluator turns in the generated image's own proportions, so the turn is one of its pixels."""
    width, height = size
    sx, sy = width / ALIGN_SIDE, height / ALIGN_SIDE
    centre = ALIGN_SIDE / 2
    turn = np.deg2rad(-rotation)
    cos, sin = np.cos(turn) / scale, np.sin(turn) / scale
    aspect = float(np.clip(width / height, 1 / MAX_ASPECT, MAX_ASPECT))
    # Output pixel (x, y) -> aligned units u, v about the centre -> training image, as in _warp
    # (with its aspect: a plain turn in pixels when the aspect is the image's own).
    du, dv = shift[0] / sx + centre, shift[1] / sy + centre
    a, b = cos, sin * sx / (sy * aspect)
    d, e = -sin * aspect * sy / sx, cos
    c0 = -a * sx * du - b * sy * dv + sx * centre
    f0 = -d * sx * du - e * sy * dv + sy * centre
    resized = reference.resize(size, Image.Resampling.LANCZOS)
    return resized.transform(size, Image.Transform.AFFINE, (a, b, c0, d, e, f0),
                             resample=Image.Resampling.BILINEAR)
