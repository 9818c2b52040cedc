"""Image near-duplicates: which generated images copy a training image, and which one.

Three stages, as in copy detection on image datasets:

1. **Hash candidates.** pHash and dHash (64 bits each, identical to ``imagehash``) of every
   training image; an exact Hamming-radius search (``image_hamming_search``) finds, for every
   generated image, the training images within ``phash_radius`` of its pHash or ``dhash_radius``
   of its dHash (dHash is the second opinion: either hash within its radius makes a candidate).
2. **Pixel confirmation.** 64-bit hashes of small images collide easily (two different "3"s share
   most of their hash), so a candidate is a copy only when the tiled pixel distance
   (``image_pixel_distance``: both images at ``pixel_size`` grayscale, standardised, the largest
   RMS difference over ``tiles x tiles`` tiles) is at most ``max_pixel_distance`` as well. A
   candidate the grey levels do not confirm gets a second look on the HSV value channel (a change
   of colour), then the generated image's grey levels and then each of its colour channels given
   the training image's, rank for rank (brightness, contrast, gamma, clipped or not:
   ``remapped_distance``, ``remapped_colour_distance``), and last both images smoothed (noise,
   JPEG, blur: ``smoothed_distance``); the last three count only when the match is also closer
   than at least half the training images are to their own nearest neighbour. The nearest
   training image by pHash and by dHash get every look even outside the radius (a faint
   picture's hashes are noise, and a turned hue moves the grey levels they are taken on), on that
   same condition. So do, when nothing confirmed an image and the alignment stage runs, the
   ``_WINDOW_NEAREST`` (3) training images nearest to it by window descriptor (a standardised
   grid of mean grey levels, which noise and a change of brightness hardly move while they
   scatter a faint picture's hashes), on that condition and one more: a lead of ``ALIGN_RATIO``
   over the next-closest of the three. A faint generated image still unconfirmed is compared by
   its **block levels** (8 x 8 mean grey levels, not standardised: where a pale sky is lighter,
   which JPEG leaves when it takes the grain) with every faint training image, in each
   orientation, on all blocks or on the four fifths that agree best (an overlay, for a training
   image with a photograph's grain): a copy within ``MAX_LEVEL_DISTANCE`` grey levels,
   ``LEVEL_LEAD`` times nearer than any other faint training image, its colours agreeing. Each
   match states its confidence: the share of (sampled) training images whose nearest other
   training image lies farther than the match.

A one-pixel shift moves every hash bit of a small image, so for images no larger than
``SHIFT_SEARCH_FACTOR`` times the comparison size the generated image is also hashed and compared
shifted by up to ``max_shift`` pixels in each direction, and the best alignment counts; the border
band that a shift moves in or out of the picture is left out of the pixel check. Larger images need
no such search: a one-pixel shift there is a fraction of a thumbnail pixel.

The defaults are calibrated on scikit-learn's digits at 16 px: copies under each of these edits
stay below a pixel distance of 0.17; 95% of distinct digits of the same class lie above 0.34 and all
but one above 0.22 (the exception, at 0.18, is a pair of near-identical "1"s in the dataset itself);
samples of the built-in VAE and GAN stay above 0.3.

3. **Alignment** (``alignment``, on by default). An image the first two stages did not confirm is
   compared with the training images nearest by window descriptor (also with its middle turned
   back 7.5 degrees either way, as it is, flipped or turned by half) and by hash after undoing a
   turn of up to 10 degrees, a crop
   keeping 70 % of the area or more, and a shift
   (:mod:`~aigc_audit.evaluators.copying.image_alignment`); every candidate gets the coarse
   search, and the best two by its correlation, with the first candidate of each retrieval,
   the full alignment. It is a copy when the pixel distance over the shared region is at most
   ``max_aligned_distance`` *and* at most half the next-closest training image's: the search
   brings distinct images of a common kind (two "1"s) closer too, but a copy stands out from
   every other training image while a look-alike does not (a lead of 1.5 suffices over the whole
   region when the match is closer than any sampled training image comes to its own nearest other:
   its confidence, measured the same way). An overlay (caption, logo, band) is
   left out when the rest holds most of the picture; what remains must then be within
   ``max_pixel_distance``. An alignment that compares only a flat part of a training image with
   structure (``shares_only_flat``: any plain ground comes 0.0 close there) is no candidate. Last,
   the match is checked in colour (:mod:`~aigc_audit.evaluators.copying.aligned_agreement`): the
   grey levels are standardised, so flat drawings of one layout in other colours align as copies
   do; a match whose colours no change of brightness, contrast, saturation and small turn of hue
   maps onto the training image's is dropped, and named in the evidence (``dropped_match``). So is
   a match by hash whose training image is one flat grey (its grey thumbnail spreads under
   ``FLAT_STD``): the grey levels showed nothing to match, and a mint ground with a pink box of the
   same grey is one flat grey too; the other hash candidates of one flat grey, as close, are then
   checked in colour for its place, and the one whose colours agree as a copy's not recoloured,
   with the least turn of hue, is the match. A look-alike of other colours aligned closer than a
   source as close as a plain copy neither takes its match nor counts as a near rival
   (``_by_colour``).

   Last of all, a faint generated image that nothing confirmed is compared by its block levels
   again, turned back by up to 10 degrees (``_LEVEL_TURNS``) as it is, flipped or turned by half,
   on the blocks the turn leaves whole (a copy's filled corners left out), at a lead of
   ``TURNED_LEVEL_LEAD``: a pale sky turned a little and re-noised has no grain to align on, and
   keeps its light block by block.

The items are independent, and so are the images read: with many of them, every stage that goes
item by item (reading and hashing, the hash search, the pixel check, the window retrieval, the
alignment) is spread over forked worker processes (one per core by default, ``workers`` to
choose; :func:`_spread`), which inherit the training set's hashes and thumbnails at the fork and
send back what they found, so the findings do not depend on how many there are.

Every item also gets the distance to its nearest training image by hash, in or out of the radius,
so that the distance distribution says how close the release comes even when nothing is flagged.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from scipy import ndimage

from aigc_audit.errors import ConfigError, ItemError
from aigc_audit.evaluators.base import (
    PER_ITEM_COUNT,
    PER_ITEM_SHARE,
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Note,
    Param,
    Track,
    info,
    no_progress,
)
from aigc_audit.evaluators.copying.aligned_agreement import Agreement, aligned_agreement
from aigc_audit.evaluators.copying.hamming_search import (
    AUTO_MIN_REFERENCES,
    MultiIndexHashing,
    RadiusMatches,
    hamming_distance,
    radius_search,
)
from aigc_audit.evaluators.copying.image_alignment import (
    _QUERIES_PER_BLOCK,
    ALIGN_SIDE,
    MAX_SHIFT,
    ROTATIONS,
    SCALES,
    WINDOW_SCALE,
    Alignment,
    SortedBands,
    align,
    band_descriptors,
    coarse_search_many,
    colour_planes,
    distance_without,
    foreign_overlay,
    frame_descriptors,
    nearest_by_window,
    nearest_past_band,
    nearest_past_band_above,
    query_descriptors,
    shares_only_flat,
    turned_thumbnails,
    window_descriptors,
)
from aigc_audit.evaluators.copying.perceptual_hash import (
    HASH_BITS,
    HASH_SIZE,
    PHASH_SIDE,
    dhash_from_pixels,
    dhash_pixels,
    hash_hex,
    phash_from_pixels,
    phash_pixels,
    resize_gray,
)
from aigc_audit.evaluators.copying.pixel_distance import (
    FAINT_STD,
    FLAT_STD,
    LEVEL_BLOCKS,
    MIN_GRAIN_SPREAD,
    block_levels,
    block_spread,
    border_mask,
    colour_thumbnail,
    grain_agreement,
    grain_spread,
    known_blocks,
    level_distance,
    paired_tiled_distance,
    remapped_colour_distance,
    remapped_distance,
    smoothed_distance,
    standardise,
    thumbnail,
    tiled_distance,
    value_thumbnail,
)
from aigc_audit.evaluators.evidence import (
    BLOCKS_LEFT_OUT,
    COLOUR_AGREEMENT,
    COMPARED_ON,
    CONFIDENCE,
    COVERED_REGION,
    DHASH,
    DHASH_DISTANCE,
    DROPPED_MATCH,
    GRAIN_AGREEMENT,
    HASH_CANDIDATES,
    HASH_MATCH,
    HUE_TURNED_BACK,
    LEVEL_DISTANCE,
    MATCH_ID,
    MATCH_LICENSE,
    MATCH_METHOD,
    MATCH_SOURCE,
    MATCHED_REGION,
    NEXT_LEVEL_DISTANCE,
    NEXT_PIXEL_DISTANCE,
    ORIENTATION,
    PHASH,
    PHASH_DISTANCE,
    PIXEL_DISTANCE,
    ROTATION,
    SCALE,
    SHIFT,
)
from aigc_audit.images import open_image
from aigc_audit.sampleset import IMAGE, Item, SampleSet
from aigc_audit.threads import available_cores

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex

KEY_SHARE_FLAGGED = "share_flagged"
KEY_FLAGGED_COUNT = "flagged_count"
KEY_MIN_PIXEL_DISTANCE = "min_pixel_distance"
KEY_MEDIAN_PIXEL_DISTANCE = "median_pixel_distance"
KEY_UNREADABLE_REFERENCE = "unreadable_reference_count"

# Shift search only for images at most this many times the comparison size per side.
SHIFT_SEARCH_FACTOR = 8
# An alignment confirms a copy only when its distance is at most this share of the next-closest
# training image's (aligned the same way).
ALIGN_RATIO = 0.5
# With an overlay left out, the rest may be this many times the strict pixel threshold when it is
# also at most ALIGN_RATIO ** 2 of the next-closest training image's distance.
OVERLAY_SLACK = 1.5
# With a foreign overlay left out (image_alignment.foreign_overlay), the rest may be as far as the
# whole-region threshold when it is at most this share of the next-closest training image's
# distance, the overlay left out of theirs or not: a shape halved in size under its caption keeps
# 0.25 to 0.32 from its source, at 0.21 to 0.27 of the next-closest; the demo's VAE and GAN samples
# with a foreign overlay stay at 0.58 of theirs or more.
FOREIGN_LEAD = 0.4
# A match over the whole shared region closer to its source than every sampled training image
# comes to its own nearest other (its confidence 1.0) needs a smaller lead over the next-closest:
# this share of its distance, in place of ALIGN_RATIO. Where two training images of one kind align
# within 0.25 of each other (two "1"s), a copy turned by 10 degrees into black corners keeps 0.17
# from its source: closer than any two of them, but not twice as close as the next "1". Chosen on
# digits and shapes.
CONFIDENT_RATIO = 2 / 3
# The nearest training images by hash that are also aligned.
_HASH_NEAREST = 2
# The training images nearest by window descriptor (of the alignment stage's retrieval) that get
# the pixel check's looks when its hashes confirmed nothing.
_WINDOW_NEAREST = 3
# A copy turned and then captioned is found neither by its hashes (the caption moves them) nor past a
# band as it is: every generated image is also retrieved past a band turned back from each of the
# seven other orientations, and the nearest one, turned back, is fully aligned whatever its coarse
# correlation (the overlay lowers it) when it is at least this similar (cosine, the best over the
# bands left out), and otherwise not aligned at all. Such a copy that was not otherwise edited comes
# to 0.998 to 1.000; on seed 0 of the benchmark, the nearest to a distinct image of a kind did in 0.0
# to 3.0 % of them (text-flat's most). The retrieval reads only the training images that can come
# this close (nearest_past_band_above).
_BAND_TURN_SIMILAR = 0.995
# ... and more similar by this much than the generated image's nearest past a band as it is. Against
# 100,000 training drawings, the nearest to a distinct drawing turned back was at least 0.995 similar
# for 22 % of their two orientations, and also this much more similar than the nearest as it is for
# 2 %; a drawing turned and captioned or banded led by 0.0067 to 0.12. Of the orientations that pass,
# only the most similar is aligned: a symmetric drawing passes in several.
_BAND_TURN_LEAD = 0.005
# The training images nearest by window descriptor to a generated image mirrored left-right that are
# aligned onto it mirrored back: a mirrored copy's source, cropped to 70 % of its area, is the nearest
# for 0.90 to 1.00 of the benchmark's copies, and among the two nearest for 0.95 to 1.00.
_MIRROR_NEAREST = 2
# ... when the mirrored image's nearest window is about as similar (cosine) as its own nearest as it
# is, or more: within this much below. On seed 0 of the benchmark, a flipped copy's lead was -0.037
# at least (flipped and cropped to 70 or 85 % of the area, or not cropped), a copy cropped but not
# flipped -0.093 at most; 36 to 61 % of the distinct images of a kind come within it.
_MIRROR_MARGIN = 0.05
# Candidates fully aligned per item, the best by the coarse search's correlation: the copy and the
# closest others, whose distances the ratio test compares.
_FULLY_ALIGNED = 2
# The nearest by hash turned back from an orientation is fully aligned whatever its coarse correlation
# (a caption or band lowers that of the very image it covers) when turning the generated image back
# brings its nearest training image at least this many bits nearer (pHash plus dHash) than as it
# is. Chosen on seed 0 of the benchmark's flips and quarter turns with a crop, turn, caption or
# band: 0.90 of their unconfirmed copies lead by 4 bits or more, and 0.38 of 1,000 distinct
# drawings against 100,000 training drawings (each such alignment costs as much as a candidate's).
_TURNED_LEAD = 4
# A training image is brought down to a generated image's resolution before the alignment when the
# generated image is at most this share of its size (see reduced_size).
REDUCED_FROM = 0.8
# The confidence of such a match is measured among training images brought down by the same scale,
# rounded to a step of this.
SPACING_SCALE_STEP = 0.05
# Images are read and hashed this many at a time, so memory does not grow with the set.
_BATCH = 1024
# Images are read and hashed in worker processes in chunks of this many (a few dozen
# milliseconds each), and only when each worker gets at least this many (at some 0.2 ms an image
# of the training set, 10 ms and more for a generated one with its variants).
_DESCRIBED_PER_TASK = 64
# Query rows (hash variants of the generated images) per block of the hash search.
_HASHES_PER_TASK = 2048
_DESCRIBED_PER_WORKER = 256
# The alignment stage starts a worker process for at most every this many items (about 1.5 s of
# work at 0.1 s an item, against some 10 ms to fork one and send it its items).
_ITEMS_PER_WORKER = 16
_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 1.0)
# What a hash candidate's pixel distance was taken on: the grey levels as they are; the HSV value
# channel (a change of colour); both smoothed (noise, JPEG, blur); the generated image given the
# training image's grey levels, rank for rank (brightness, contrast, gamma, clipped or not), and
# each of its colour channels the training image's (a colour clipped channel by channel). Tried in
# the order grey, value, grey matched, colour matched, smoothed, until one confirms a candidate;
# then, on a faint picture, its fine grain (pixel_distance.grain_agreement).
GREY, VALUE, SMOOTHED, REMAPPED, COLOUR_REMAPPED, GRAIN, LEVELS = LOOKS = (
    "grey levels", "value channel", "smoothed grey levels", "grey levels matched in histogram",
    "colour channels matched in histogram", "fine grain", "block levels of a faint picture")
# A faint picture (a pale sky) holds little more than a gradient that every other one shares, and
# its grain; no look above tells two of them apart once noise or a curve of the grey levels moved
# it. Its grain does, when it agrees with the candidate's by at least this many standard errors:
# chosen on the generated textures (development kind), where no distinct texture came past 5.1 in
# 1.3 million pairs, all eight orientations, and 13 of 15 faint ones under noise of sigma 3 did.
MIN_GRAIN_AGREEMENT = 8.0
# JPEG takes a faint picture's grain away, and with it what the looks above read; where its light
# lies, block by block (pixel_distance.block_levels, grey levels not standardised), is left. A
# faint generated image whose block levels come within MAX_LEVEL_DISTANCE grey levels (RMS) of a
# faint training image's, in one of the eight orientations, is a copy of it when every other faint
# training image lies LEVEL_LEAD times as far. The distance was chosen on the generated textures
# (development kind): their copies under JPEG q50 came within 0.7, under JPEG q70, noise of sigma 3
# or a flip within 0.5, and no distinct texture nearer than 1.85 to a training one. The lead is
# what guards a set of tiles of one sky, which lie close to each other: a copy of a tile with a
# twin in the training set is left to the other looks. A training image whose block levels spread
# less than the distance holds nothing an edit leaves, and is not compared so.
MAX_LEVEL_DISTANCE = 0.7
LEVEL_LEAD = 3.0
# An overlay (a caption, a logo, a band) or the corners a small turn fills moves a few blocks far
# more than that: the look also compares the LEVEL_KEPT share of the blocks that agree best (a
# fifth left out, as the largest overlay covers), at the same distance and lead, every faint
# training image a rival on this measure too. Only onto a training image whose grain is spread as
# a photograph's is (pixel_distance.MIN_GRAIN_SPREAD) and whose blocks kept still spread at least
# MAX_LEVEL_DISTANCE: the ground of a drawing agrees wherever its shapes were left out. Measured
# against the _LEVEL_NEAREST faint training images nearest on all blocks (all of them, in a set
# holding no more; a rival past them goes unseen).
LEVEL_KEPT = 0.8
_LEVEL_NEAREST = 256
# A sky turned a little keeps its light where its corners were not filled: the look also turns each
# faint generated image back by these degrees and compares the blocks the turn leaves whole, none
# within _TURN_MARGIN pixels of what it brought in from outside the frame (the bilinear turn and
# the copier's own resampling smear the fill that far), when at least _LEVEL_MIN_KNOWN of them are.
# Chosen on the photographs of the benchmark, both seeds (so that kind is not held out from this
# look): their copies turned by 3 to 10 degrees, under noise of sigma 3, came within 0.3 to 0.9 of
# their sources turned back in these steps (steps of 5 left them up to 0.15 farther); the distinct
# faint tiles stayed 0.88 or farther.
_LEVEL_TURNS = (-10.0, -7.5, -5.0, -2.5, 2.5, 5.0, 7.5, 10.0)
_TURN_MARGIN = 2
_LEVEL_MIN_KNOWN = 0.5
# Turned back in 8 steps from 4 orientations, on half the blocks or more, every faint training image
# gets 32 tries to come near: a match so must lead every other twice as clearly as on all blocks, as
# a match only the alignment's retrieval turned back proposed must. The turned copies this look
# confirmed (both seeds, every kind) led by 8.2 or more; a distinct tile of the rocket's dark sky,
# its tower left out with the edge blocks, came 0.67 from a tile of the same sky, led by 3.5.
TURNED_LEVEL_LEAD = 2 * LEVEL_LEAD
# A match of one flat grey dropped for its colours: this many other flat-grey hash candidates are
# checked in colour for its place (each check reads both images again). Chosen among several, the
# one taken must agree as a copy whose colours were not changed: its hue turned by at most
# _TIED_HUE_TURN degrees, its chroma within _TIED_CHROMA_GAIN of the training image's (brightness
# and contrast of +-25 % scale it so); the check's own bounds, which forgive a hue jitter, took a
# distinct beige box for a copy of a red ground with a purple box (turned 42 degrees, a third as
# strong), one of the many tried by chance.
_FLAT_TRIED = 16
_TIED_HUE_TURN = 10.0
_TIED_CHROMA_GAIN = (0.7, 1.4)
# The level look's product of generated variants by faint training images, and its variants
# turned back, are taken in chunks of about this many entries.
_LEVEL_CHUNK = 1 << 22
# The confidence of a match is measured against this many training images (evenly spaced through
# the set), each compared with at most this many of its nearest training images by hash.
_SPACING_SAMPLE = 256
_SPACING_NEIGHBOURS = 64
# The smoothed look forgives what noise and blur do, the look matched in histogram any curve of the
# grey levels, and so both bring look-alikes closer too: they confirm a candidate only when the match
# is also closer than at least this share of training images are to their own nearest neighbour
# (compared the same way). Where training images crowd (a set of near-flat pictures), closeness
# says little and the look stays silent. The same holds for a candidate outside the hash radius
# (one of the nearest by hash) on the looks it gets (grey, matched in histogram, smoothed).
SMOOTHED_MIN_CONFIDENCE = 0.5
# What a match by alignment was compared on: the grey levels over the region the aligned images share
# (less any overlay left out).
ALIGNED_LOOK = "aligned grey levels"
# The confidence of a match by alignment is measured against this many training images (evenly
# spaced through the set), each aligned as a generated image is onto its nearest other training
# images (by window descriptor and past a band): each as costly as a generated image's alignment,
# 8 s in all for the demo's 1,797 digits on two shared cores, once per run (and once per stored
# index), spent only when the stage may confirm a copy.
_ALIGNED_SPACING_SAMPLE = 24
_LISTED_ERRORS = 5
# The edits each look other than the plain grey levels forgives, as the findings name them.
_LOOK_AFTER = {VALUE: "a change of colour", SMOOTHED: "noise, JPEG or blur",
               REMAPPED: "a change of brightness, contrast or gamma",
               COLOUR_REMAPPED: "a change of brightness, contrast or gamma",
               GRAIN: "noise, re-encoding or a change of light on a faint picture",
               LEVELS: "re-encoding, light noise or blur on a faint picture"}


@dataclass
class _Described:
    """Hashes and thumbnails of a set of images; row ``i`` of the flat arrays belongs to the
    readable item ``owner[i]`` under the shift ``shifts[i]``."""

    items: list[Item]             # readable items, in order
    errors: dict[str, str]        # unreadable item id -> reason
    phash: np.ndarray             # (R,) uint64
    dhash: np.ndarray             # (R,) uint64
    thumbnails: np.ndarray        # (R, S, S) uint8
    owner: np.ndarray             # (R,) int64 index into items
    shifts: np.ndarray            # (R, 2) int64 (dx, dy)
    orientations: np.ndarray      # (R,) int64 index into ORIENTATIONS
    margins: np.ndarray           # (len(items), 2) int64 thumbnail border (x, y) a shift can move
    # Generated images only: for the alignment stage, each image as it is at ALIGN_SIDE; and the
    # size of each (the proportions a turn keeps).
    aligned: list[np.ndarray] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    # Training images from a stored index: their colour thumbnails, made when it was built.
    colours: ColourThumbnails | None = None
    # Generated colour images only: the hashes of each with its hue turned back by each of
    # _HUE_TURNS (that share of the circle, ``recoloured_turn``), owned as the rows above. They only
    # bring hash candidates (within a radius); no look compares them.
    recoloured_phash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    recoloured_dhash: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    recoloured_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    recoloured_turn: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class ColourThumbnails:
    """The HSV value-channel and RGB thumbnails of training images (a row each, in the order of
    their grey thumbnails), which the pixel check's colour looks compare: a stored index makes them
    once, so that an audit does not decode its candidates again in colour (at 100,000 training
    images, most of the pixel check's time). Held in parts, as the index stores them (a part per
    chunk of images), rows numbered across the parts."""

    values: tuple[np.ndarray, ...]    # per part (R_k, S, S) uint8, value_thumbnail
    colours: tuple[np.ndarray, ...]   # per part (R_k, S, S, 3) uint8, colour_thumbnail
    readable: np.ndarray              # (R,) bool: False where the image could not be read in colour
    starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", np.cumsum([0, *(len(part) for part in self.values)]))

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Row ``row``'s value and colour thumbnails; None when it could not be read in colour."""
        if not self.readable[row]:
            return None
        part = int(np.searchsorted(self.starts, row, side="right")) - 1
        at = row - int(self.starts[part])
        return self.values[part][at], self.colours[part][at]


def colour_pair(item: Item, side: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``item``'s value and colour thumbnails at ``side`` px, as the colour looks compare them;
    None when it cannot be read."""
    try:
        image = open_image(item, mode="RGB")
    except ItemError:
        return None
    return value_thumbnail(image, side), colour_thumbnail(image, side)


def _colour_pairs(side: int, items: Iterable[Item]) -> list[tuple[np.ndarray, np.ndarray] | None]:
    return [colour_pair(item, side) for item in items]


def colour_thumbnails(items: Sequence[Item], side: int, *, workers: int | None = None,
                      track: Track = no_progress) -> ColourThumbnails:
    """:func:`colour_pair` of every item, in order (spread over worker processes when there are
    many), with an item that could not be read in colour marked so, its rows zero."""
    cores = workers if workers is not None else available_cores()
    pairs = _spread(_colour_pairs, list(items), min(cores, len(items) // _DESCRIBED_PER_WORKER), track,
                    "Colour thumbnails", context=side)
    values = np.zeros((len(pairs), side, side), np.uint8)
    colours = np.zeros((len(pairs), side, side, 3), np.uint8)
    for row, pair in enumerate(pairs):
        if pair is not None:
            values[row], colours[row] = pair
    return ColourThumbnails((values,), (colours,), np.array([pair is not None for pair in pairs], bool))


@dataclass(frozen=True)
class ReferenceHashes:
    """What the evaluator needs of training images, as a stored index keeps it: the pHash, dHash
    and ``pixel_size`` thumbnail of each readable image (in order), why each other one could not
    be read, and the readable ones' colour thumbnails (None: read when compared)."""

    readable: list[str]           # ids of the readable images, in order
    errors: dict[str, str]        # unreadable image id -> reason
    phash: np.ndarray             # (R,) uint64
    dhash: np.ndarray             # (R,) uint64
    thumbnails: np.ndarray        # (R, S, S) uint8
    colours: ColourThumbnails | None = None


def reference_hashes(items: Sequence[Item], *, pixel_size: int = 32,
                     track: Track = no_progress) -> ReferenceHashes:
    """Hashes and thumbnails of training images, exactly as an audit computes them without an
    index, and their colour thumbnails."""
    described = ImageNearDuplicate(pixel_size=pixel_size, alignment=False)._describe(
        list(items), shifts=False, track=track, what="reference images")
    return ReferenceHashes([item.id for item in described.items], described.errors, described.phash,
                           described.dhash, described.thumbnails,
                           colour_thumbnails(described.items, pixel_size, track=track))


def shifted_copies(image: Image.Image, offsets: Sequence[tuple[int, int]]) -> list[Image.Image]:
    """``image`` moved by each (dx, dy), the uncovered border filled by repeating the edge."""
    if list(offsets) == [(0, 0)]:
        return [image]
    array = np.asarray(image)
    k = max(max(abs(dx), abs(dy)) for dx, dy in offsets)
    padded = np.pad(array, ((k, k), (k, k)) + ((0, 0),) * (array.ndim - 2), mode="edge")
    height, width = array.shape[:2]
    return [image if (dx, dy) == (0, 0) else
            Image.fromarray(padded[k - dy:k - dy + height, k - dx:k - dx + width])
            for dx, dy in offsets]


# The eight orientations of a square (the identity first): a copier's first moves are a flip or a
# quarter turn. Each is the PIL transpose that undoes it on the generated image, by name.
ORIENTATIONS: dict[str, Image.Transpose | None] = {
    "as is": None,
    "flipped left-right": Image.Transpose.FLIP_LEFT_RIGHT,
    "flipped top-bottom": Image.Transpose.FLIP_TOP_BOTTOM,
    "rotated 180": Image.Transpose.ROTATE_180,
    "rotated 90": Image.Transpose.ROTATE_270,
    "rotated 270": Image.Transpose.ROTATE_90,
    "transposed": Image.Transpose.TRANSPOSE,
    "transversed": Image.Transpose.TRANSVERSE,
}
_ORIENTATION_NAMES = list(ORIENTATIONS)
_MIRRORED = _ORIENTATION_NAMES.index("flipped left-right")
# The variant "the picture inside its frame" is numbered after the orientations.
_FRAMED = "inside an added frame"
_VARIANT_NAMES = [*_ORIENTATION_NAMES, _FRAMED]
# The method of a match found by alignment (the hash stage's is HASHED).
HASHED, ALIGNED = "hash", "alignment"


def orient(image: Image.Image, orientation: str) -> Image.Image:
    """``image`` turned back from ``orientation`` (one of :data:`ORIENTATIONS`)."""
    op = ORIENTATIONS[orientation]
    return image if op is None else image.transpose(op)


def as_matched(image: Image.Image, variant: str, reference: Image.Image) -> Image.Image:
    """The generated ``image`` as the hash stage compared it with ``reference`` (its training image):
    turned back from the orientation ``variant`` names (:func:`orient`), or, for a picture
    :data:`inside an added frame <_FRAMED>`, the picture inside the frame; of the boxes
    :func:`frame_boxes` finds (in grey levels and in colour), the one whose picture, brought to the
    training image's size, differs least from it."""
    if variant != _FRAMED:
        return orient(image, variant)
    target = np.asarray(reference.convert("RGB"), np.float64)

    def difference(picture: Image.Image) -> float:
        resized = picture.convert("RGB").resize(reference.size, Image.Resampling.BILINEAR)
        return float(np.abs(np.asarray(resized, np.float64) - target).mean())

    pictures = [image.crop(box) for box in frame_boxes(image, image.convert("RGB"))]
    return min(pictures, key=difference) if pictures else image


# Where a point (x, y), as shares of the sides, of a generated image lies once it is turned back
# from each orientation (in ORIENTATIONS' order), and which orientation undoes each.
_POINT_TURNED_BACK = (lambda x, y: (x, y), lambda x, y: (1 - x, y), lambda x, y: (x, 1 - y),
                      lambda x, y: (1 - x, 1 - y), lambda x, y: (1 - y, x), lambda x, y: (y, 1 - x),
                      lambda x, y: (y, x), lambda x, y: (1 - y, 1 - x))
_INVERSE_ORIENTATION = (0, 1, 2, 3, 5, 4, 6, 7)


def _quarter_turned(orientation: int) -> bool:
    """Whether turning back from ``orientation`` swaps the width and the height."""
    return orientation >= 4


def turned_back(thumbnail: np.ndarray, orientation: int) -> np.ndarray:
    """A square thumbnail of a generated image turned back from ``orientation`` (an index into
    :data:`ORIENTATIONS`), as :func:`orient` turns the image."""
    op = ORIENTATIONS[_ORIENTATION_NAMES[orientation]]
    return thumbnail if op is None else np.asarray(Image.fromarray(thumbnail).transpose(op))


def box_between(box: Sequence[float], from_orientation: int, to_orientation: int) -> tuple[float, ...]:
    """``box`` (left, top, right, bottom, as shares) of a generated image turned back from
    ``from_orientation``, in the same image turned back from ``to_orientation`` instead."""
    undo = _POINT_TURNED_BACK[_INVERSE_ORIENTATION[from_orientation]]
    turn = _POINT_TURNED_BACK[to_orientation]
    corners = [turn(*undo(x, y)) for x, y in ((box[0], box[1]), (box[2], box[3]))]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return min(xs), min(ys), max(xs), max(ys)


# A frame is a run of rows or columns, from an edge inwards, within this many grey levels of the
# edge's own colour; it is trimmed when it is at least this share of the side, and at most so much
# (a copy keeps most of the picture).
_FRAME_TOLERANCE = 12
_FRAME_MIN, _FRAME_MAX = 0.03, 0.35
# A frame padded onto a losslessly stored picture is one exact colour: a run this close to it stops
# where a near-flat background of the picture within _FRAME_TOLERANCE of that colour begins. Such a
# frame counts from this many pixels: a 16 px digit's black ground runs a pixel or two in from its
# edges at every tolerance, and one more crop of it is one more chance for a look-alike.
_FRAME_EXACT, _FRAME_EXACT_WIDTH = 2, 2
# A frame found in colour within this many pixels, on every side, of one found before (in grey
# levels, or in colour at the other tolerance) is that frame again.
_FRAME_SAME = 2


def frame_box(image: Image.Image, tolerance: int = _FRAME_TOLERANCE,
              min_width: int = 1) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) inside a flat frame added around ``image`` (padding, a
    border, letterboxing), or None when it has none: each edge's run of rows or columns within
    ``tolerance`` grey levels of that edge's median colour, kept only where the run is a real
    frame (at least ``min_width`` pixels on some edge), not a thin line. An RGB ``image`` is read in
    colour: a run then stays within ``tolerance`` of that colour in each of R, G and B, and stops
    where the picture's ground begins though it has the frame's grey (a teal border around a
    ground of rose)."""
    pixels = np.asarray(image if image.mode == "RGB" else image.convert("L"), dtype=np.int16)
    pixels = pixels.reshape(*pixels.shape[:2], -1)                     # (height, width, channels)
    height, width = pixels.shape[:2]

    def run(lines: np.ndarray) -> int:  # lines: (n, length, channels), outermost first
        ordered = np.sort(lines[0], axis=0)
        middle = len(ordered) // 2  # the median, as np.median has it, at a tenth of its cost
        colour = (ordered[middle] + ordered[middle - (len(ordered) % 2 == 0)]) / 2
        # Line by line: most pictures have no frame, and the run ends at once.
        off = (n for n, line in enumerate(lines) if np.abs(line - colour).max() > tolerance)
        return next(off, len(lines))

    left, right = run(pixels.swapaxes(0, 1)), run(pixels.swapaxes(0, 1)[::-1])
    top, bottom = run(pixels), run(pixels[::-1])
    sides = [(left, width), (right, width), (top, height), (bottom, height)]
    if not any(n >= max(min_width, _FRAME_MIN * side) for n, side in sides):
        return None
    if any(n > _FRAME_MAX * side for n, side in sides):
        return None  # a flat background, not a frame: nothing to trim
    return left, top, width - right, height - bottom


def frame_boxes(image: Image.Image, colour: Image.Image | None = None) -> list[tuple[int, int, int, int]]:
    """The distinct boxes inside a frame added around ``image`` (grey levels): within
    :data:`_FRAME_TOLERANCE` of the frame's colour (a frame re-encoded as JPEG), and within
    :data:`_FRAME_EXACT` of it (a frame whose colour is close to the picture's own flat background,
    where the first runs on into the picture); then, given the same picture in ``colour`` (RGB),
    those of a frame of one colour (:func:`frame_box`) more than :data:`_FRAME_SAME` pixels off every
    box before on some side: a frame of the ground's grey in another colour runs on into the picture
    in grey levels, and a box a pixel off one found is the same frame (one more variant, one more
    chance for a look-alike)."""
    looks = [image.convert("L")] if colour is None else [image.convert("L"), colour.convert("RGB")]
    boxes: list[tuple[int, int, int, int]] = []
    for look in looks:
        for box in (frame_box(look), frame_box(look, _FRAME_EXACT, _FRAME_EXACT_WIDTH)):
            if box is not None and box not in boxes and (look is looks[0] or _added(box, look.size) and all(
                    max(abs(a - b) for a, b in zip(box, other)) > _FRAME_SAME for other in boxes)):
                boxes.append(box)
    return boxes


def _added(box: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    """Whether ``box`` within a picture of ``size`` (width, height) leaves a frame shaped as one
    added to a picture: all round, or on two opposite sides only (letterboxing), each at least
    :data:`_FRAME_EXACT_WIDTH` wide and at most twice as wide as the one opposite. A drawing's plain
    ground, run into from the edges, seldom is: 37 of 900 drawings of shapes had a box in colour
    that grey levels did not find, none of them so."""
    (left, top, right, bottom), (width, height) = box, size
    pairs = ((left, width - right), (top, height - bottom))

    def even(pair: tuple[int, int]) -> bool:
        return min(pair) >= _FRAME_EXACT_WIDTH and max(pair) <= 2 * min(pair)

    return (all(even(pair) for pair in pairs)
            or any(even(pair) and other == (0, 0) for pair, other in (pairs, pairs[::-1])))


# A copier's colour jitter turns the hue, and grey levels weigh R, G and B unequally: a saturated
# drawing's grey levels, and so its hashes, move far (a ground of orange and a shape of green, turned
# by 6 % of the circle, came 30 bits from their source by pHash, its look-alikes nearer). The hash
# stage also hashes each colour generated image with its hue turned back by each of these shares of
# the circle, in steps of 2.5 % up to the 10 % (36 degrees) of a common jitter. Each of the eight
# jittered copies the benchmark's seeds 0, 1, 4 and 5 missed (shapes and text-flat, turned by 4 to
# 9.4 %) came within the radius at one of these turns or more; steps of 5 % would have left out
# one (text-flat, turned 9.4 %). The value channel of HSV, which a turn of hue leaves as it is,
# then confirms them (VALUE). Those turned hues bring only candidates within the radius, not
# their nearest: eight more looks at each colour image would be eight more chances for a look-alike.
_HUE_TURNS = (-0.1, -0.075, -0.05, -0.025, 0.025, 0.05, 0.075, 0.1)


# A colour image larger than this on a side is brought down to it (a box filter) before its hues
# are turned: the turned hashes are of a 32 px picture, and a 1,024 px one turned eight times at
# full size took a hundred times as long as brought down first.
_HUE_SIDE = 2 * PHASH_SIDE
# Grey levels as Pillow's "L" weighs R, G and B.
_LUMA = np.array([0.299, 0.587, 0.114])


def hue_turned_greys(image: Image.Image, turns: Sequence[float]) -> np.ndarray:
    """(len(turns), H, W) uint8: the grey levels of ``image`` (RGB) with its HSV hue turned by each
    share of the circle in ``turns``, its saturation and value kept; the image first brought down
    to at most :data:`_HUE_SIDE` px a side."""
    if max(image.size) > _HUE_SIDE:
        reduced = max(image.size) / _HUE_SIDE
        image = image.resize((max(1, round(image.width / reduced)), max(1, round(image.height / reduced))),
                             Image.Resampling.BOX)
    rgb = np.asarray(image, np.float32)  # float32: 8-bit levels lose nothing, at half the cost
    top, low = rgb.max(axis=2), rgb.min(axis=2)
    spread = np.where(top > low, top - low, np.float32(1.0))
    red, green, blue = ((top[..., None] - rgb) / spread[..., None]).transpose(2, 0, 1)
    # HSV's hue in sixths of the circle, as colorsys has it.
    hue = np.where(rgb[..., 0] == top, blue - green, np.where(rgb[..., 1] == top, 2.0 + red - blue,
                                                                 4.0 + green - red))
    hue = hue[None] + 6 * np.asarray(turns, np.float32)[:, None, None]

    def wrapped(sixths: np.ndarray) -> np.ndarray:  # within one turn of [0, 6): cheaper than %
        return sixths + np.float32(6) * ((sixths < 0).astype(np.float32) - (sixths >= 6))

    hue = wrapped(hue)
    # Each channel back from the turned hue: the top less the spread times its share of the way down.
    down = np.zeros_like(hue)
    for weight, n in zip(_LUMA.astype(np.float32), np.array([5, 3, 1], np.float32)):
        k = wrapped(hue + n)
        down += weight * np.clip(np.minimum(k, 4 - k), 0, 1)
    return np.clip(np.rint(top - (top - low) * down), 0, 255).astype(np.uint8)  # the weights sum to 1


def _grey(image: Image.Image) -> bool:
    """Whether ``image`` (RGB) is grey: R, G and B equal everywhere."""
    pixels = np.asarray(image)
    return bool((pixels == pixels[..., :1]).all())


def shift_offsets(max_shift: int) -> list[tuple[int, int]]:
    """All (dx, dy) with both in ``[-max_shift, max_shift]``, the unshifted one first."""
    offsets = [(dx, dy) for dy in range(-max_shift, max_shift + 1)
               for dx in range(-max_shift, max_shift + 1)]
    offsets.remove((0, 0))
    return [(0, 0)] + offsets


def _quantile_note(distances: np.ndarray) -> Note:
    values = np.quantile(distances, _QUANTILES)
    parts = ", ".join(f"{label} {value:.3f}" for label, value in
                      zip(("min", "5%", "25%", "median", "75%", "max"), values))
    return info(f"pixel distance to the nearest checked training image over {len(distances)} item(s): "
                f"{parts}")


def confidence(distance: float, nearest_others: np.ndarray) -> float | None:
    """The share of training images whose nearest other training image (``nearest_others``, on the
    same measure) lies farther than ``distance``: 1.0 when a match is closer than any two training
    images are to each other; None when nothing was measured."""
    if not len(nearest_others):
        return None
    return round(float(np.mean(np.asarray(nearest_others) > distance)), 3)


def _stands_out(distances: np.ndarray, nearest_others: np.ndarray) -> np.ndarray:
    """Whether each match is closer than at least :data:`SMOOTHED_MIN_CONFIDENCE` of the training
    images are to their own nearest other one (``nearest_others``, on the same look); none does
    when nothing was measured."""
    if not len(nearest_others):
        return np.zeros(len(distances), bool)
    shares = (np.asarray(nearest_others)[None, :] > np.asarray(distances)[:, None]).mean(axis=1)
    return shares >= SMOOTHED_MIN_CONFIDENCE


def _spacing_note(spacing: dict[str, np.ndarray]) -> Note:
    grey = spacing.get(GREY, np.zeros(0))
    if not len(grey):
        return info("confidence: no two training images are hash neighbours, so how close distinct "
                    "training images come could not be measured; matches by hash state no confidence")
    return info(f"confidence of a match by hash: the share of {len(grey)} sampled training images whose "
                f"nearest other training image (among its hash neighbours) is farther; their pixel "
                f"distances: minimum {grey[0]:.3f}, median {float(np.median(grey)):.3f}")


def _aligned_spacing_note(spacing: np.ndarray, scale: float | None = None) -> Note:
    at = "" if scale is None else f" (the training images brought down to {scale:g} of their size)"
    if not len(spacing):
        return info(f"confidence of a match by alignment{at}: no training image could be aligned onto "
                    "another, so matches by alignment state no confidence")
    return info(f"confidence of a match by alignment{at}: the share of {len(spacing)} sampled training "
                f"images that, aligned as a generated image is onto their nearest other training images, "
                f"come out farther; their aligned distances: minimum {spacing[0]:.3f}, median "
                f"{float(np.median(spacing)):.3f}")


def _agreement(item: Item, match: Item, evidence: dict[str, Any]) -> Agreement:
    """:func:`aligned_agreement` of a match as its ``evidence`` states it (orientation or frame,
    turn, enlargement, shift, overlay), on both images read again in colour; a match whose images
    cannot be read so (changed since) keeps the grey levels' verdict, and says so."""
    try:
        reference = open_image(match, mode="RGB")
        sample = as_matched(open_image(item, mode="RGB"), evidence[ORIENTATION], reference)
    except ItemError as error:
        return Agreement(True, f"not judged in colour: {error.reason}")
    return aligned_agreement(sample, reference, evidence[ROTATION], evidence[SCALE], tuple(evidence[SHIFT]),
                             evidence[COVERED_REGION])


def _unmoved_agreement(item: Item, match: Item, orientation: str) -> Agreement:
    """:func:`_agreement` of a match by hash: the generated image turned back from ``orientation``
    (or its frame trimmed), with no turn, enlargement, shift or overlay."""
    return _agreement(item, match, {ORIENTATION: orientation, ROTATION: 0.0, SCALE: 1.0, SHIFT: (0, 0),
                                    COVERED_REGION: None})


def _hash_distances(queries: _Described, refs: _Described, rows: np.ndarray | slice,
                    r: int) -> tuple[int, int]:
    """The least pHash and dHash distances of the generated image's variants ``rows`` to training
    image ``r``."""
    return (int(hamming_distance(queries.phash[rows], refs.phash[[r]]).min()),
            int(hamming_distance(queries.dhash[rows], refs.dhash[[r]]).min()))


def _dropped(evidence: dict[str, Any]) -> dict[str, Any]:
    """What the evidence of an image not flagged keeps of a match its check in colour dropped."""
    return {key: evidence.get(key) for key in (MATCH_METHOD, MATCH_ID, PIXEL_DISTANCE, ROTATION, SCALE, SHIFT,
                                               ORIENTATION, COLOUR_AGREEMENT)}


def _check_flat_in_colour(results: dict[str, ItemResult], queries: _Described,
                          refs: _Described) -> dict[str, int]:
    """Each match by hash whose training image is one flat grey (its grey thumbnail spreads under
    ``FLAT_STD``), checked in colour as a match by alignment is, the generated image turned back or
    its frame trimmed as it was matched; one whose colours disagree is no longer flagged, and the
    match it was is named (``DROPPED_MATCH``). Results are replaced; those checked before are left.
    Returns the training image's row of each match dropped, by item id: the later stages look past
    it (one flat grey ties every generated image of that grey at 0.0, its own source too)."""
    row_of = {item.id: r for r, item in enumerate(refs.items)}
    first = np.searchsorted(refs.owner, np.arange(len(refs.items)))
    dropped: dict[str, int] = {}
    for item in queries.items:
        result = results.get(item.id)
        if (result is None or not result.flagged or result.evidence.get(MATCH_METHOD) != HASHED
                or COLOUR_AGREEMENT in result.evidence):
            continue
        r = row_of[result.evidence[MATCH_ID]]
        if float(refs.thumbnails[first[r]].std()) >= FLAT_STD:
            continue
        evidence = dict(result.evidence)
        evidence[COLOUR_AGREEMENT] = _unmoved_agreement(item, refs.items[r],
                                                        evidence.get(ORIENTATION, "as is")).to_evidence()
        if evidence[COLOUR_AGREEMENT]["agree"]:
            results[item.id] = replace(result, evidence=evidence)
        else:
            evidence[DROPPED_MATCH] = _dropped(evidence)
            results[item.id] = replace(result, flagged=False, evidence=evidence)
            dropped[item.id] = r
    return dropped


def _listed(errors: dict[str, str]) -> str:
    shown = "; ".join(f"{k} ({v})" for k, v in sorted(errors.items())[:_LISTED_ERRORS])
    more = f"; and {len(errors) - _LISTED_ERRORS} more" if len(errors) > _LISTED_ERRORS else ""
    return shown + more


def _confirmed(found: Alignment, runner_up: float, compared: bool, loose: float, strict: float,
               runner_up_without: float | None = None, confident: bool = False) -> bool:
    """Whether an alignment confirms a copy. A distinct image of a common kind (another "1") aligns
    almost as well with several training images; a copy aligns with its source far better than
    with any other (at most ``ALIGN_RATIO`` of the ``runner_up``'s distance). Then the distance over
    the whole shared region within ``loose`` confirms it; with nothing to compare against
    (``compared`` false), or with an overlay left out, what remains must be within ``strict``, as
    close as a plain copy, or within ``OVERLAY_SLACK`` times it when the lead is squared too. What
    remains must lead both the next-closest's own distance and ``runner_up_without``, the
    next-closest with the same overlay left out, when given: leaving a region out brings
    look-alikes closer, and a generated "1" under a small covered region, turned and enlarged onto
    a training "1", is no copy. A ``confident`` match (closer than every sampled training image
    comes to its own nearest other) over the whole shared region needs only a lead of
    ``CONFIDENT_RATIO``; with an overlay left out, never: a VAE's "1" under a small covered region
    came within 0.2 of a training "1" at 0.61 of the next-closest, closer than any two of them.

    An overlay foreign to the picture (:func:`foreign_overlay`: a caption or logo, not the part
    where a look-alike differs most) lets a copy be told apart on the rest alone: there it needs
    only ``ALIGN_RATIO`` of the next-closest with the same overlay left out (like with like) within
    ``strict``, or ``FOREIGN_LEAD`` of the next-closest either way within ``loose``."""
    whole = found.distance if found.whole_distance is None else found.whole_distance
    if compared and whole <= loose and whole <= (CONFIDENT_RATIO if confident else ALIGN_RATIO) * runner_up:
        return True
    if compared and runner_up_without is not None and foreign_overlay(found):
        if found.distance <= strict and found.distance <= ALIGN_RATIO * runner_up_without:
            return True
        if found.distance <= loose and found.distance <= FOREIGN_LEAD * min(runner_up, runner_up_without):
            return True
    if found.overlay is not None and runner_up_without is not None:
        runner_up = min(runner_up, runner_up_without)
    if (found.overlay is not None and compared and found.distance <= OVERLAY_SLACK * strict
            and found.distance <= ALIGN_RATIO ** 2 * runner_up):
        # An overlaid copy that was also resized keeps a little more than a plain copy's distance
        # outside its overlay; it is taken when it stands out from the next-closest twice as clearly.
        return True
    return found.distance <= strict and found.distance <= ALIGN_RATIO * runner_up


@dataclass(frozen=True)
class _AlignTask:
    """One generated image for the alignment stage: its grey image at ``ALIGN_SIDE`` and the
    training images to align onto it (row in the reference set, item), in retrieval order."""

    index: int                              # into the readable generated items
    query: np.ndarray                       # (ALIGN_SIDE, ALIGN_SIDE) uint8
    candidates: tuple[tuple[int, Item], ...]
    first: frozenset[int]                   # rows fully aligned whatever their coarse correlation
    aspect: float = 1.0                     # the generated image's width over its height
    size: tuple[int, int] | None = None     # the generated image's (width, height) in pixels
    # Candidates aligned onto the generated image turned back from an orientation (row, item,
    # index into ORIENTATIONS): the nearest by hash, in the orientation their hashes came nearest in;
    # and those of them fully aligned whatever their coarse correlation.
    turned: tuple[tuple[int, Item, int], ...] = ()
    turned_first: frozenset[tuple[int, int]] = frozenset()
    # Rows among ``turned`` (mirrored left-right) found only by the mirrored window retrieval.
    mirrored: frozenset[int] = frozenset()
    # The generated image itself, to judge candidates' colours (None: grey levels only), and the
    # distance within which the closest is judged (see :func:`_by_colour`).
    item: Item | None = None
    judged_within: float = 0.0


def _can_fork() -> bool:
    """Whether worker processes may be forked from this one: only where fork exists and this
    process runs a single thread (a service's or a dashboard's other threads may hold locks that a
    forked child would wait on forever). Forked workers need no importable ``__main__``, and
    start in milliseconds; elsewhere the stage runs in this process, with the same findings."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


# The stage a forked worker runs and the data it reads, inherited at the fork (never pickled: the
# training set's thumbnails, 100 MB at 100,000 images, stay shared copy-on-write).
_adopted: tuple[Callable[[Any, Iterable[Any]], list[Any]], Any] | None = None


def _adopt(work: Callable[[Any, Iterable[Any]], list[Any]], context: Any) -> None:
    global _adopted
    _adopted = (work, context)


def _run_adopted(batch: list[Any]) -> list[Any]:
    from threadpoolctl import threadpool_limits

    if _adopted is None:
        raise RuntimeError("an image check stage's worker ran outside a process started by _spread, so it "
                           "has no stage to run; start workers through _spread")
    work, context = _adopted
    # One BLAS thread per worker: the workers hold the other cores, and a second thread of each
    # spins for a core another holds (hashing 100,000 images on 2 cores took twice the CPU).
    with threadpool_limits(limits=1):
        return work(context, batch)


def _spread(work: Callable[[Any, Iterable[Any]], list[Any]], tasks: list[Any], workers: int, track: Track,
            label: str, *, context: Any, meanwhile: Callable[[], None] | None = None) -> list[Any]:
    """``work(context, tasks)``: one result per task, in order. With several ``workers`` (and
    fork allowed, :func:`_can_fork`), the tasks are cut into batches, several per worker so that a
    slow batch does not hold the others up, and run in forked processes that inherit ``context``;
    this process runs ``meanwhile`` (work of its own that does not need theirs) as they do. The
    tasks are independent, so the results are those of one process."""
    if workers > 1 and _can_fork():
        size = -(-len(tasks) // (4 * workers))
        batches = [tasks[at:at + size] for at in range(0, len(tasks), size)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_adopt, initargs=(work, context)) as pool:
            done = pool.map(_run_adopted, batches)
            if meanwhile is not None:
                meanwhile()
            return [outcome for batch in track(done, label, len(batches)) for outcome in batch]
    return work(context, track(tasks, label, len(tasks)))


@dataclass(frozen=True)
class _FaintLevels:
    """The faint training images the level look compares (:data:`MAX_LEVEL_DISTANCE`): their rows,
    their block levels, and how near each of a sample of them comes to its nearest other (sorted,
    the look's spacing)."""

    rows: np.ndarray      # (F,) int64 rows of the training set
    levels: np.ndarray    # (F, LEVEL_BLOCKS ** 2) float64
    textured: np.ndarray  # (F,) bool: grain spread as a photograph's (LEVEL_KEPT)
    spacing: np.ndarray   # (<= _SPACING_SAMPLE,) float64


def faint_levels(thumbnails: np.ndarray) -> _FaintLevels:
    """The training images among (N, S, S) grey ``thumbnails`` that the level look compares:
    faint (grey levels spread under ``FAINT_STD``) and with block levels spread at least
    :data:`MAX_LEVEL_DISTANCE`."""
    rows, levels, textured = [], [], []
    for start in range(0, len(thumbnails), _BATCH):
        chunk = np.asarray(thumbnails[start:start + _BATCH])
        faint = np.flatnonzero(chunk.reshape(len(chunk), -1).std(axis=1, dtype=np.float64) < FAINT_STD)
        blocks = block_levels(chunk[faint])
        spread = blocks.std(axis=1) >= MAX_LEVEL_DISTANCE
        rows.append(start + faint[spread])
        levels.append(blocks[spread])
        kept = chunk[faint[spread]]
        textured.append(grain_spread(kept) >= MIN_GRAIN_SPREAD if len(kept) else np.zeros(0, bool))
    rows_ = np.concatenate([*rows, np.zeros(0, np.int64)]).astype(np.int64)
    levels_ = np.concatenate(levels) if levels else np.zeros((0, LEVEL_BLOCKS ** 2))
    textured_ = np.concatenate([*textured, np.zeros(0, bool)])
    spacing = np.zeros(0)
    if len(rows_) > 1:
        sample = np.unique(np.linspace(0, len(rows_) - 1, min(len(rows_), _SPACING_SAMPLE)).round()
                           .astype(np.int64))
        distance = level_distance(levels_[sample], levels_)
        distance[np.arange(len(sample)), sample] = np.inf
        spacing = np.sort(distance.min(axis=1))
    return _FaintLevels(rows_, levels_, textured_, spacing)


@dataclass(frozen=True)
class _LevelMatch:
    """A faint training image the level look takes a generated image for a copy of."""

    index: int           # into _FaintLevels.rows
    variant: int         # the generated image's variant compared (of those given)
    distance: float      # grey levels, RMS over the blocks compared
    runner_up: float     # the next faint training image's, on the same blocks' measure
    left_out: int        # blocks left out (0: all compared)


def level_match(queries: np.ndarray, faint: _FaintLevels, distance: np.ndarray, known: np.ndarray,
                lead: float = LEVEL_LEAD) -> _LevelMatch | None:
    """The faint training image a generated image is a copy of by its block levels, or None:
    ``queries`` (V, B) are the block levels of its variants, ``known`` (V, B) the blocks each
    compares (a variant turned back a little leaves its corners out), ``distance`` (V, F) theirs to
    every faint training image on those blocks (:func:`pixel_distance.level_distance`). Compared
    so first, then, for the variants whose every block is known, on the :data:`LEVEL_KEPT` share
    of them that agree best; either way within :data:`MAX_LEVEL_DISTANCE` and ``lead`` times nearer
    than any other."""
    columns = np.arange(distance.shape[1])
    variant = distance.argmin(axis=0)
    best = distance[variant, columns]
    f = int(best.argmin())
    runner_up = float(np.delete(best, f).min(initial=np.inf))
    if best[f] <= MAX_LEVEL_DISTANCE and runner_up >= lead * best[f]:
        return _LevelMatch(f, int(variant[f]), float(best[f]), runner_up, int((~known[variant[f]]).sum()))
    whole = np.flatnonzero(known.all(axis=1))
    if not len(whole):
        return None
    near = np.argsort(best, kind="stable")[:_LEVEL_NEAREST]
    if not faint.textured[near].any():  # none to match on the blocks kept (most sets of drawings)
        return None
    references = faint.levels[near]
    squares = (queries[whole, None, :] - references[None, :, :]) ** 2  # (V, K, B)
    kept = max(1, int(round(LEVEL_KEPT * squares.shape[2])))
    order = np.argpartition(squares, kept - 1, axis=2)[:, :, :kept]
    trimmed = np.sqrt(np.take_along_axis(squares, order, axis=2).mean(axis=2))  # (V, K)
    spread = np.take_along_axis(np.broadcast_to(references[None], squares.shape), order, axis=2).std(axis=2)
    eligible = np.where((spread >= MAX_LEVEL_DISTANCE) & faint.textured[near][None, :], trimmed, np.inf)
    rivals = trimmed.min(axis=0)
    variant = eligible.argmin(axis=0)
    best = eligible[variant, np.arange(len(near))]
    k = int(best.argmin())
    runner_up = float(np.delete(rivals, k).min(initial=np.inf))
    if best[k] <= MAX_LEVEL_DISTANCE and runner_up >= lead * best[k]:
        return _LevelMatch(int(near[k]), int(whole[variant[k]]), float(best[k]), runner_up,
                           squares.shape[2] - kept)
    return None


def _turned_inside(thumbnails: np.ndarray, aspects: Sequence[float],
                   turns: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`turned_thumbnails`, and the mask of the pixels each keeps from inside its frame."""
    # What falls outside is black either way: a frame of ones turned the same way marks it.
    return (turned_thumbnails(thumbnails, aspects, turns),
            turned_thumbnails(np.ones(thumbnails.shape), aspects, turns) > 0.5)


def turned_levels(thumbnails: np.ndarray, aspects: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The block levels of (N, S, S) grey ``thumbnails`` turned back by each of
    :data:`_LEVEL_TURNS` in their pictures' proportions (``aspects``), and which blocks of each the
    turn leaves whole (:data:`_TURN_MARGIN`): (N * len(_LEVEL_TURNS), B) each, image-major."""
    levels = block_levels(turned_thumbnails(thumbnails, aspects, _LEVEL_TURNS))
    proportions = np.asarray(aspects, np.float64)
    known = np.zeros((len(thumbnails), len(_LEVEL_TURNS), LEVEL_BLOCKS ** 2), bool)
    for aspect in np.unique(proportions):
        # The same for every picture of these proportions.
        _, inside = _turned_inside(np.ones((1, *thumbnails.shape[1:])), [aspect], _LEVEL_TURNS)
        # The frame's edges too: turned back, a copy's own filled corners lie just past its
        # source's frame, all round it.
        inside = ndimage.binary_erosion(inside, np.ones((1, 3, 3), bool), _TURN_MARGIN, border_value=0)
        whole = known_blocks(inside)
        whole[whole.sum(axis=1) < _LEVEL_MIN_KNOWN * whole.shape[1]] = False
        known[proportions == aspect] = whole
    return levels, known.reshape(-1, LEVEL_BLOCKS ** 2)


@dataclass(frozen=True)
class _PixelCheck:
    """What the pixel check of every item reads: the generated images' variants (rows
    ``q_bounds[i]:q_bounds[i + 1]`` belong to item ``i``), the training images, and each item's
    hash candidates (``ref[bounds[i]:bounds[i + 1]]``, nearest by hash first)."""

    queries: _Described
    refs: _Described
    ref: np.ndarray                  # (P,) candidate rows in the training set, grouped by item
    bounds: np.ndarray               # (items + 1,) into ref
    q_bounds: np.ndarray             # (items + 1,) into the queries' variants
    hash_match: np.ndarray           # (P,) bool: within a hash radius
    nearest_as_is: np.ndarray        # (P,) bool: the nearest by pHash or dHash of the item as it is
    spacing: dict[str, np.ndarray]   # the training set's spacing per look (_reference_spacing)
    side: int
    tiles: int
    max_pixel_distance: float
    max_candidates: int
    # (P,) bool: within a hash radius only with the item's hue turned back (None: no such pair). As
    # the nearest by hash outside the radius, such a candidate is looked at, and counts only when
    # it stands out: eight turned hues are eight more chances for a look-alike to come within it.
    recoloured: np.ndarray | None = None
    # Whether a faint picture's grain may confirm a candidate: not in the window look, whose lead
    # over the runner-up compares distances on one look.
    grain: bool = True
    # Training image row -> its value and colour thumbnails (None: unreadable now), read and kept
    # by each process for all the batches it checks when no index stored them: the same
    # look-alikes are candidates of many items.
    colours: dict[int, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict)

    def colour_of(self, row: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Training image ``row``'s value and colour thumbnails (None: unreadable in colour)."""
        if self.refs.colours is not None:
            return self.refs.colours.of(row)
        if row not in self.colours:
            self.colours[row] = colour_pair(self.refs.items[row], self.side)
        return self.colours[row]


def _check_pixels(check: _PixelCheck, indices: Iterable[int]
                  ) -> list[tuple[int, float, bool, int, int, bool, float, float | None]]:
    """The pixel check of each item in ``indices``: the row of its reported candidate (into
    ``check.ref``), its pixel distance, whether that confirms a copy, the query variant it was
    compared as (row of ``check.queries``), the look (index into :data:`LOOKS`), whether the
    item had more candidates than were checked, the closest distance of any other checked
    candidate (inf: none), and, when the fine grain confirmed it, the grains' agreement in standard
    errors (else None). Module-level, so that a worker process can run it."""
    queries, refs, ref, spacing = check.queries, check.refs, check.ref, check.spacing
    out = []
    for index in indices:
        lo, hi = int(check.bounds[index]), int(check.bounds[index + 1])
        capped = hi - lo > check.max_candidates
        if capped:
            hi = lo + check.max_candidates
        rows = slice(check.q_bounds[index], check.q_bounds[index + 1])
        candidates = ref[lo:hi]
        mask = border_mask(check.side, *queries.margins[index])
        by_hash = check.hash_match[lo:hi]
        # The nearest by hash are looked at even outside the radius: a faint picture (sky, sea)
        # has hashes of noise, and its copy's fall anywhere. Out of the radius, only a match
        # that stands out from how close training images come to each other counts.
        eligible = by_hash | check.nearest_as_is[lo:hi]
        if check.recoloured is not None:
            eligible |= check.recoloured[lo:hi]
        # Standardised per item, from the uint8 thumbnails: memory stays at one byte a pixel.
        distance = tiled_distance(standardise(queries.thumbnails[rows]),
                                  standardise(refs.thumbnails[candidates]), check.tiles, mask)  # (V, C)
        best_variant = distance.argmin(axis=0)
        pixel = distance[best_variant, np.arange(hi - lo)]
        look = np.zeros(hi - lo, np.int64)  # index into LOOKS
        trusted = by_hash | _stands_out(pixel, spacing[GREY])
        in_colour: dict[str, np.ndarray] = {}
        for extra in (VALUE, REMAPPED, COLOUR_REMAPPED, SMOOTHED):
            confirmed = eligible & trusted & (pixel <= check.max_pixel_distance)
            if confirmed.any():
                break
            # The colour looks also see the nearest by hash outside the radius: a turned hue or a
            # clipped brightening moves the grey levels, and so the hashes, most.
            looked = np.flatnonzero(eligible)
            if not len(looked):
                continue
            if extra in (VALUE, COLOUR_REMAPPED):
                # Grey levels weigh colours: a turned hue moves them, the value channel not; a
                # brightened colour clips channel by channel, each by its own curve. Both are
                # compared as is, from one more read of the colour pictures.
                if not in_colour:
                    in_colour = _colour_distances(check, queries.items[index], candidates, eligible, mask)
                seen = in_colour[extra][looked]
                variant = np.zeros(len(looked), np.int64)
                if extra == VALUE:
                    stands = by_hash[looked] | _stands_out(seen, spacing[GREY])
                else:  # forgiving as the grey levels matched in histogram, and gated the same way
                    crowd = spacing[REMAPPED]
                    stands = _stands_out(seen, crowd) if len(crowd) else by_hash[looked]
                    seen[~stands] = np.inf
            else:
                # Brightness, contrast and gamma bend the grey levels by one curve (remapped);
                # noise, JPEG and blur move every pixel a little (smoothed). Both forgive, and so
                # bring look-alikes closer too: only a match that stands out counts.
                if extra == REMAPPED:
                    # A curve of the grey levels moves nothing: each candidate is compared with
                    # the variant (turn, shift) its grey levels came closest with.
                    variant = best_variant[looked]
                    seen = _by_variant(remapped_distance, queries.thumbnails[rows], variant,
                                       refs.thumbnails[candidates[looked]], check.tiles, mask)
                else:
                    by_look = smoothed_distance(queries.thumbnails[rows],
                                                refs.thumbnails[candidates[looked]], check.tiles, mask)
                    variant = by_look.argmin(axis=0)
                    seen = by_look[variant, np.arange(len(looked))]
                # Unmeasured (no two training images are hash neighbours): taken within the radius.
                stands = (_stands_out(seen, spacing[extra]) if len(spacing[extra]) else by_hash[looked])
                seen[~stands] = np.inf
            closer = seen < pixel[looked]
            best_variant[looked[closer]] = variant[closer]
            look[looked[closer]] = LOOKS.index(extra)
            pixel[looked[closer]] = seen[closer]
            trusted[looked[closer]] = stands[closer]
        confirmed = eligible & trusted & (pixel <= check.max_pixel_distance)
        grain = None
        if check.grain and not confirmed.any():
            # Every candidate, in the radius or not: the grain's own chance level, measured over
            # all eight orientations, guards this look, and a faint picture's hashes are noise.
            correlation, agreement = grain_agreement(queries.thumbnails[rows], refs.thumbnails[candidates],
                                                     mask)  # (V, C)
            variant = agreement.argmax(axis=0)
            best = agreement[variant, np.arange(hi - lo)]
            c = int(best.argmax())
            if best[c] >= MIN_GRAIN_AGREEMENT:
                confirmed[c] = True
                look[c], best_variant[c] = LOOKS.index(GRAIN), variant[c]
                # The distance of the two grains, each standardised: sqrt(2 - 2 correlation).
                pixel[c] = float(np.sqrt(max(0.0, 2.0 - 2.0 * correlation[variant[c], c])))
                grain = round(float(best[c]), 2)
        # The reported match: the closest confirmed candidate, else the closest of all.
        pool = np.flatnonzero(confirmed) if confirmed.any() else np.arange(hi - lo)
        pick = int(pool[np.argmin(pixel[pool])])
        others = np.delete(pixel, pick)
        out.append((lo + pick, float(pixel[pick]), bool(confirmed[pick]),
                    int(check.q_bounds[index] + best_variant[pick]), int(look[pick]), capped,
                    float(others.min(initial=np.inf)), grain))
    return out


def _by_variant(look: Callable[..., np.ndarray], variants: np.ndarray, variant: np.ndarray,
                references: np.ndarray, tiles: int, mask: np.ndarray) -> np.ndarray:
    """(C,) ``look(variants[variant[c]][None], references[c][None], tiles, mask)`` of each
    reference, with one call per variant for all the references compared with it: each
    reference's distance is its own, so grouping them changes no digit, only the number of calls
    (one per hash candidate before, at some 0.6 ms each)."""
    out = np.empty(len(references))
    for v in np.unique(variant):
        group = np.flatnonzero(variant == v)
        out[group] = look(variants[v:v + 1], references[group], tiles, mask)[0]
    return out


def _colour_distances(check: _PixelCheck, item: Item, candidates: np.ndarray, looked: np.ndarray,
                      mask: np.ndarray) -> dict[str, np.ndarray]:
    """(C,) tiled pixel distances of ``item`` as it is to each candidate (rows of the training
    set) it ``looked`` at, on the HSV value channel (:data:`VALUE`) and on R, G and B each matched
    in histogram (:data:`COLOUR_REMAPPED`); inf for the others, on the value channel for a
    candidate whose value channel is flat, and for all when ``item`` is grey (its value channel is
    its grey level, its channels its grey levels: nothing new to see). ``item`` is read again in
    colour only here, for the few colour items whose grey levels confirmed no candidate; the
    training images' colour thumbnails come from :meth:`_PixelCheck.colour_of`."""
    side, tiles = check.side, check.tiles
    out = {VALUE: np.full(len(candidates), np.inf), COLOUR_REMAPPED: np.full(len(candidates), np.inf)}
    try:
        rgb = open_image(item, mode="RGB")
    except ItemError:  # read once already; changed since: no second look
        return out
    if _grey(rgb):
        return out

    colours = {c: check.colour_of(int(candidates[c])) for c in np.flatnonzero(looked)}
    readable = [c for c, found in colours.items() if found is not None]
    if not readable:
        return out
    values = np.stack([colours[c][0] for c in readable])
    # A training image whose value channel is flat (pure, saturated colours: the largest of R, G
    # and B is 255 everywhere) holds nothing there to compare: standardised, any two would match.
    spread = values.std(axis=(1, 2)) >= FLAT_STD
    if spread.any():
        out[VALUE][np.array(readable)[spread]] = tiled_distance(
            standardise(value_thumbnail(rgb, side)[None]), standardise(values[spread]), tiles, mask)[0]
    out[COLOUR_REMAPPED][readable] = remapped_colour_distance(
        colour_thumbnail(rgb, side), np.stack([colours[c][1] for c in readable]), tiles, mask)
    return out


# The retrievals of the alignment stage's candidates: by window, by window mirrored, past a band,
# past a band turned back.
_WHOLE, _MIRRORED_WHOLE, _BANDS, _TURNED_BANDS = "whole", "mirrored", "bands", "turned bands"
_TURNED_BACK = "turned back a little"
# The turns a generated image is turned back by for the retrieval: a copy turned a little keeps
# its source's middle, and its corners filled or cropped away do not reach the centre window.
_TURNS_BACK = (-7.5, 7.5)
# And from the orientations that keep the picture's proportions: a flipped copy turned a little.
_BACK_ORIENTATIONS = (0, 1, 2, 3)


@dataclass(frozen=True)
class _Retrieval:
    """The alignment stage's candidates, nearest by window descriptor (``k`` of them), also to
    the generated images mirrored left-right, and past a band (one), also to the generated images
    turned back from other orientations: the generated images' descriptors and the training
    images'."""

    queries: np.ndarray          # (Q, 2, D) query_descriptors
    # (Q, 1, D) frame_descriptors of the generated images mirrored left-right (Q = 0: none); the
    # centre window is for the black corners of a turn, not a mirror's.
    mirrored: np.ndarray
    windows: np.ndarray          # (R, 11, D) window_descriptors
    query_bands: np.ndarray      # (Q, V, D') band_descriptors
    bands: np.ndarray            # (R, V, D')
    k: int
    # (T, V, D') band_descriptors of generated images turned back from an orientation (T = 0: none),
    # and ``bands`` sorted to find their nearest at least _BAND_TURN_SIMILAR (None: none turned).
    turned_bands: np.ndarray | None = None
    sorted_bands: SortedBands | None = None
    # (Q * O * len(_TURNS_BACK), 1, D) the centre window of each generated image turned back from
    # each of O orientations (_BACK_ORIENTATIONS, or as it is only) and then a little (None: none).
    turned_back: np.ndarray | None = None

    def tasks(self) -> list[tuple[str, int, int]]:
        """(retrieval, first query, end) per task: the very blocks of queries that
        :func:`nearest_by_window` and :func:`nearest_past_band` search at once on their own, so
        that each row is the same product of the same block, wherever it runs."""
        turned = 0 if self.turned_bands is None else len(self.turned_bands)
        back = 0 if self.turned_back is None else len(self.turned_back)
        return [(way, at, min(at + _QUERIES_PER_BLOCK, n))
                for way, n in ((_WHOLE, len(self.queries)), (_MIRRORED_WHOLE, len(self.mirrored)),
                               (_BANDS, len(self.query_bands)), (_TURNED_BANDS, turned), (_TURNED_BACK, back))
                for at in range(0, n, _QUERIES_PER_BLOCK)]


def _best_window(queries: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """(Q,) each query's (Q, V, D) best similarity to the windows (Q, W, D) of one training image."""
    return np.einsum("qvd,qwd->qvw", queries, windows).max(axis=(1, 2))


def _retrieve(retrieval: _Retrieval, tasks: Iterable[tuple[str, int, int]]) -> list[np.ndarray]:
    """The nearest training images of each task's block of queries (see :class:`_Retrieval`), on
    one BLAS thread: beside other workers, a second thread spins more than it computes."""
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(limits=1):
        for way, start, stop in tasks:
            if way == _BANDS:
                out.append(nearest_past_band(retrieval.query_bands[start:stop], retrieval.bands, 1))
            elif way == _TURNED_BANDS:
                out.append(nearest_past_band_above(retrieval.turned_bands[start:stop], retrieval.sorted_bands,
                                                   _BAND_TURN_SIMILAR)[:, None])
            elif way == _TURNED_BACK:  # the centre windows alone (last of window_descriptors)
                out.append(nearest_by_window(retrieval.turned_back[start:stop], retrieval.windows[:, -1:], 1))
            else:
                queries = retrieval.queries if way == _WHOLE else retrieval.mirrored
                out.append(nearest_by_window(queries[start:stop], retrieval.windows, retrieval.k))
    return out


# What the alignment of one item finds (see _align_batch).
# The closest alignment, its row, the next-closest distance, whether there was one, the next-closest
# with the closest's overlay left out, the scale the training image was brought down by, and the
# orientation (index into ORIENTATIONS) the generated image was turned back from for it.
_Aligned = tuple[Alignment | None, int, float, bool, float | None, float | None, int]


def _reduction(training: tuple[int, int], generated: tuple[int, int] | None) -> float | None:
    """The scale :func:`reduced_size` brings a training image down by (None: none)."""
    if generated is None:
        return None
    ratio = max(generated[0] / training[0], generated[1] / training[1])
    small = min(max(1, round(training[0] * ratio)), max(1, round(training[1] * ratio))) < ALIGN_SIDE
    return ratio if ratio <= REDUCED_FROM and small else None


def reduced_size(training: tuple[int, int], generated: tuple[int, int] | None) -> tuple[int, int] | None:
    """The size to bring a training image of size ``training`` down to before it is aligned onto a
    generated image of size ``generated``, as a copier who shrank it would have (None: as it is).
    A copy made smaller than :data:`ALIGN_SIDE` has lost the detail its source still shows at that
    side: sharp text halved, or a 16 px digit made 8 px, stays 0.2 to 0.6 from its source when
    compared as they are, though every other training image would be as blurred were it the copy's
    source. The training image is brought to the larger of the two ratios of the sides (a crop of
    it enlarged the copy's content: the loss is never overstated) when that is at most
    :data:`REDUCED_FROM` and the result is smaller than the side compared."""
    ratio = _reduction(training, generated)
    if ratio is None:
        return None
    return max(1, round(training[0] * ratio)), max(1, round(training[1] * ratio))


def _aligned_thumbnail(image: Image.Image, reduced: tuple[int, int] | None) -> np.ndarray:
    """A training image's grey thumbnail at :data:`ALIGN_SIDE`, brought down to ``reduced`` first
    (:func:`reduced_size`; None: as it is)."""
    if reduced is not None:
        image = image.resize(reduced, Image.Resampling.LANCZOS)
    return thumbnail(image, ALIGN_SIDE)


# The training images' grey thumbnails as the alignment stage reads them, by row: the image's size
# and its thumbnail at ALIGN_SIDE as it is (None) or brought down to a reduced_size; None: unreadable.
_Thumbnails = dict[int, tuple[tuple[int, int], dict[tuple[int, int] | None, np.ndarray]] | None]


def _pixel_shift(found: Alignment, size: tuple[int, int]) -> list[int]:
    """An alignment's shift in pixels of the generated image (``size``, in the frame it was turned
    back to), as the hash stage reports a shift."""
    return [round(found.shift[0] * size[0] / ALIGN_SIDE), round(found.shift[1] * size[1] / ALIGN_SIDE)]


# An alignment, the training image's row, the orientation the generated image was turned back from.
_Entry = tuple[Alignment, int, int]


def _agrees_aligned(task: _AlignTask, items: dict[int, Item], entry: _Entry) -> bool:
    """Whether the training image of an aligned ``entry`` (alignment, row, orientation) keeps the
    generated image's colours as the alignment lays it on (:func:`_agreement`)."""
    found, r, orientation = entry
    size = task.size[::-1] if _quarter_turned(orientation) else task.size
    return _agreement(task.item, items[r], {
        ORIENTATION: _ORIENTATION_NAMES[orientation], ROTATION: found.rotation, SCALE: found.scale,
        SHIFT: _pixel_shift(found, size), COVERED_REGION: list(found.overlay) if found.overlay else None,
    }).agree


def _by_colour(aligned: list[_Entry], agrees: Callable[[_Entry], bool],
               within: float) -> tuple[list[_Entry], set[tuple[int, int]]]:
    """``aligned`` (sorted by distance) with the closest whose colours agree with the generated
    image's first, when it is within ``within``; and the (row, orientation) of the rivals nearer than
    ``within / ALIGN_RATIO`` whose colours disagree: those before it, and those after it up to the
    first that agrees. A simple drawing in grey levels (a box on a ground) aligns as well onto a
    look-alike of other colours as onto its source; such a look-alike is not the source, and as a
    rival counts as no nearer than ``within / ALIGN_RATIO``, so that a match as close as a plain
    copy (``within``) still leads it. Only such a match: among many training images, one of many
    look-alikes has the colours by chance. Judged only when its alignment leaves nothing out (what
    an overlay hides may be what tells two drawings apart); otherwise ``aligned`` as it is, whose
    closest, if it disagrees, is then dropped with its evidence, as before."""
    start = next((k for k, entry in enumerate(aligned) if entry[0].distance <= within and agrees(entry)),
                 None)
    if start is None or aligned[start][0].overlay is not None:
        return aligned, set()
    row = aligned[start][1]
    unlike = {(r, o) for _, r, o in aligned[:start] if r != row}
    for found, r, orientation in aligned[start + 1:]:
        if found.distance >= within / ALIGN_RATIO:
            break
        if r != row:  # the same training image in another orientation is no rival
            if agrees((found, r, orientation)):
                break
            unlike.add((r, orientation))
    return [aligned[start], *aligned[:start], *aligned[start + 1:]], unlike


def _colour_frames(item: Item | None, frames: dict[int, Any]) -> dict[int, np.ndarray | None]:
    """The generated ``item``'s :func:`colour_planes` at ``ALIGN_SIDE``, turned back from each
    orientation of ``frames``; None for each when there is no item or it cannot be read in colour
    (the overlay look then reads grey levels alone)."""
    try:
        rgb = colour_thumbnail(open_image(item, mode="RGB"), ALIGN_SIDE) if item is not None else None
    except ItemError:
        rgb = None
    return {o: None if rgb is None else colour_planes(turned_back(rgb, o)) for o in frames}


def _align_batch(context: tuple[int, _Thumbnails], tasks: Iterable[_AlignTask]) -> list[_Aligned]:
    """:func:`_align_each` of the tasks on one BLAS thread: the products are small, and other
    workers hold the other cores. Module-level, so that a worker process can run it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _align_each(context, tasks)


def _align_each(context: tuple[int, _Thumbnails], tasks: Iterable[_AlignTask]) -> list[_Aligned]:
    """For each task: the closest alignment of a candidate, its reference row, the next-closest
    candidate's distance (inf without one), whether there was one to compare, and, when the
    closest left an overlay out, the next-closest with that same overlay left out, and the scale the
    closest was brought down by to the generated image's size (:func:`reduced_size`; None: none),
    and the orientation the generated image was turned back from for it. Every candidate gets the
    coarse search, all at once; the full alignment, the costly part, only the best
    ``_FULLY_ALIGNED`` by its correlation and the task's ``first``, and the ``turned`` candidates
    that correlate better than the second of those or are in ``turned_first``. ``context``: the
    pixel check's tiles, and the training images' grey thumbnails, each read once by each process
    that aligns it."""
    tiles, grey = context

    def reference(r: int, item: Item, generated: tuple[int, int] | None) -> np.ndarray | None:
        image = None
        if r not in grey:
            try:
                image = open_image(item, mode="L")
            except ItemError:  # read once already; changed since: no alignment with it
                grey[r] = None
            else:
                grey[r] = (image.size, {})
        entry = grey[r]
        if entry is None:
            return None
        size, pictures = entry
        reduced = reduced_size(size, generated)
        if reduced not in pictures:
            try:
                image = image if image is not None else open_image(item, mode="L")
            except ItemError:
                return None
            pictures[reduced] = _aligned_thumbnail(image, reduced)
        return pictures[reduced].astype(np.float64)  # kept as uint8: 4 KiB each

    def best(coarse: list[tuple[float, float, float]]) -> float:
        return max(c for _, _, c in coarse)

    out: list[_Aligned] = []
    for task in tasks:
        # The generated image as it is (orientation 0) and turned back from each orientation of a
        # turned candidate: its grey image, proportions and size in that frame.
        frames = {0: (task.query.astype(np.float64), task.aspect, task.size)}
        for orientation in dict.fromkeys(o for _, _, o in task.turned):
            size = task.size if task.size is None or not _quarter_turned(orientation) else task.size[::-1]
            frames[orientation] = (turned_back(task.query, orientation).astype(np.float64),
                                   1 / task.aspect if _quarter_turned(orientation) else task.aspect, size)
        # And in colour, for the overlay look: a bar's edge may be a change of colour alone.
        colour = _colour_frames(task.item, frames)
        query, aspect, _ = frames[0]
        pictures = [(picture, r) for r, item in task.candidates
                    if (picture := reference(r, item, task.size)) is not None]
        peaks = coarse_search_many(query, [picture for picture, _ in pictures], aspect)
        searched = sorted(zip(peaks, pictures), key=lambda entry: -best(entry[0]))
        aligned = [(align(query, picture, tiles, coarse, aspect, colour[0]), r, 0)
                   for rank, (coarse, (picture, r)) in enumerate(searched)
                   if rank < _FULLY_ALIGNED or r in task.first]
        # A turned candidate is fully aligned when its coarse correlation would rank it among the
        # _FULLY_ALIGNED best of those as they are (most distinct images correlate worse turned
        # than their nearest by window descriptor as they are, a flipped copy's source better), or
        # when it is among the task's turned_first (an overlay lowers its source's correlation).
        # One found only by the mirrored retrieval must beat the best of them: a look-alike mirrored,
        # aligned beside a copy cropped as it is, would come out as its next-closest.
        bar = best(searched[_FULLY_ALIGNED - 1][0]) if len(searched) >= _FULLY_ALIGNED else -np.inf
        top = best(searched[0][0]) if searched else -np.inf
        by_row = {(r, 0): picture for picture, r in pictures}
        for orientation in list(frames)[1:]:
            turned_query, turned_aspect, turned_size = frames[orientation]
            turned = [(picture, r) for r, item, o in task.turned
                      if o == orientation and (picture := reference(r, item, turned_size)) is not None]
            for coarse, (picture, r) in zip(coarse_search_many(turned_query, [pic for pic, _ in turned],
                                                               turned_aspect), turned):
                by_row[r, orientation] = picture
                beaten = top if orientation == _MIRRORED and r in task.mirrored else bar
                if best(coarse) > beaten or (r, orientation) in task.turned_first:
                    aligned.append((align(turned_query, picture, tiles, coarse, turned_aspect,
                                          colour[orientation]), r,
                                    orientation))
        # An alignment over a flat part of a training image says nothing of the rest of it.
        aligned = [(found, r, o) for found, r, o in aligned
                   if not shares_only_flat(by_row[r, o], found)]
        if not aligned:
            out.append((None, -1, float("inf"), False, None, None, 0))
            continue
        aligned.sort(key=lambda entry: entry[0].distance)
        unlike: set[tuple[int, int]] = set()
        if task.item is not None:
            items = dict(task.candidates) | {r: item for r, item, _ in task.turned}
            aligned, unlike = _by_colour(aligned, partial(_agrees_aligned, task, items), task.judged_within)
        found, row, orientation = aligned[0]
        # A rival of other colours is no nearer than judged_within / ALIGN_RATIO (see _by_colour).
        floor = dict.fromkeys(unlike, task.judged_within / ALIGN_RATIO)
        # The next-closest is another training image: the closest itself, aligned in another
        # orientation (a mirrored copy of a symmetric drawing), is no other.
        others = [entry for entry in aligned[1:] if entry[1] != row]
        runner_up = min((max(other.distance, floor.get((r, o), 0.0)) for other, r, o in others),
                        default=float("inf"))
        without = None
        if found.overlay is not None and others:
            # The overlay is where it lies in each other's frame.
            without = min(max(distance_without(frames[o][0], by_row[r, o], other,
                                               box_between(found.overlay, orientation, o), tiles,
                                               frames[o][1]), floor.get((r, o), 0.0))
                          for other, r, o in others)
        read = grey[row]
        out.append((found, row, runner_up, bool(others), without,
                    None if read is None else _reduction(read[0], frames[orientation][2]), orientation))
    return out


def _search_hashes(context: tuple[Any, ...],
                   blocks: Iterable[tuple[int, int]]) -> list[tuple[RadiusMatches, RadiusMatches]]:
    """pHash and dHash radius search of each block of query rows (see
    :meth:`ImageNearDuplicate._hash_search`), for a worker process."""
    phash, dhash, phash_refs, dhash_refs, phash_radius, dhash_radius = context
    return [(radius_search(phash[start:stop], phash_refs, phash_radius),
             radius_search(dhash[start:stop], dhash_refs, dhash_radius)) for start, stop in blocks]


def _joined_matches(parts: Sequence[RadiusMatches], blocks: Sequence[tuple[int, int]]) -> RadiusMatches:
    """The radius matches of consecutive blocks of queries as those of all of them."""
    if len(parts) == 1:
        return parts[0]
    empty = np.zeros(0, np.int64)
    return RadiusMatches(
        query=np.concatenate([empty] + [part.query + start for part, (start, _) in zip(parts, blocks)]),
        reference=np.concatenate([empty] + [part.reference for part in parts]),
        distance=np.concatenate([np.zeros(0, np.uint8)] + [part.distance for part in parts]),
        nearest=np.concatenate([empty] + [part.nearest for part in parts]),
        nearest_distance=np.concatenate([np.zeros(0, np.uint8)] + [part.nearest_distance for part in parts]))


def _describe_chunks(context: tuple[ImageNearDuplicate, bool],
                     chunks: Iterable[list[Item]]) -> list[_Described]:
    """:meth:`ImageNearDuplicate._describe_one_process` of each chunk of items (with or without
    the generated images' shifts and turns), for a worker process."""
    evaluator, shifts = context
    return [evaluator._describe_one_process(chunk, shifts=shifts, track=no_progress, what="")
            for chunk in chunks]


def _joined(parts: Sequence[_Described]) -> _Described:
    """Described chunks of a set, in order, as one: each chunk's rows renumbered after the items
    before it. Every row's hashes and pixels are those of one image alone, so the chunks change
    nothing."""
    offsets = np.cumsum([0] + [len(part.items) for part in parts])
    return _Described(
        items=[item for part in parts for item in part.items],
        errors={key: reason for part in parts for key, reason in part.errors.items()},
        phash=np.concatenate([part.phash for part in parts]),
        dhash=np.concatenate([part.dhash for part in parts]),
        thumbnails=np.concatenate([part.thumbnails for part in parts]),
        owner=np.concatenate([part.owner + offset for part, offset in zip(parts, offsets)]),
        shifts=np.concatenate([part.shifts for part in parts]),
        orientations=np.concatenate([part.orientations for part in parts]),
        margins=np.concatenate([part.margins for part in parts]),
        aligned=[array for part in parts for array in part.aligned],
        sizes=[size for part in parts for size in part.sizes],
        recoloured_phash=np.concatenate([part.recoloured_phash for part in parts]),
        recoloured_dhash=np.concatenate([part.recoloured_dhash for part in parts]),
        recoloured_owner=np.concatenate([part.recoloured_owner + offset
                                         for part, offset in zip(parts, offsets)]),
        recoloured_turn=np.concatenate([part.recoloured_turn for part in parts]))


class ImageNearDuplicate(Evaluator):
    name = "image_near_duplicate"
    description = ("Generated images that copy a training image: pHash/dHash candidates within a "
                   "Hamming radius, confirmed by a tiled pixel distance.")
    modalities = (IMAGE,)
    needs_reference = True
    params = (
        Param("phash_radius", int, 10, "pHash Hamming distance (of 64 bits) at or below which a "
              "training image is a candidate", minimum=0, maximum=32),
        Param("dhash_radius", int, 10, "dHash Hamming distance at or below which a training image is "
              "a candidate (second opinion: either hash within its radius suffices)", minimum=0,
              maximum=32),
        Param("max_pixel_distance", float, 0.2, "tiled pixel distance (standardised RMS, 0 = "
              "identical) at or below which a hash candidate is confirmed as a copy", minimum=0.0,
              maximum=2.0),
        Param("pixel_size", int, 32, "side in pixels both images are resized to for the pixel check",
              choices=(16, 32, 64, 128)),
        Param("tiles", int, 4, "tiles per side of the pixel check; the largest tile distance counts",
              choices=(1, 2, 4, 8)),
        Param("max_shift", int, 1, "shifts of the generated image by up to this many pixels in x and y "
              "are tried when hashing and comparing (small images only)", minimum=0, maximum=2),
        Param("max_candidates", int, 512, "at most this many hash candidates per item, nearest by "
              "hash first, get the pixel check", minimum=1, maximum=100_000),
        Param("alignment", bool, True, "also look for copies turned by up to 10 degrees, cropped to "
              "70 % of the area or moved: window candidates, aligned by search, then a pixel check "
              "over the region they share"),
        Param("max_aligned_distance", float, 0.6, "pixel distance at or below which an alignment "
              "(turn, crop, shift undone by search) confirms a copy, when it is also at most half the "
              "next-closest training image's: sharp edges resampled keep true copies off zero",
              minimum=0.0, maximum=2.0),
        Param("alignment_candidates", int, 5, "training images aligned per generated image not "
              "confirmed by its hashes (nearest by window descriptor)", minimum=1, maximum=100),
        Param("orientations", str, "all", "orientations of the generated image tried: 'all' (as is, "
              "flipped either way, turned by 90, 180 or 270 degrees, transposed) or 'as_is'",
              choices=("all", "as_is")),
    )
    metrics = (
        Metric(KEY_SHARE_FLAGGED, "share of image items confirmed as copies of a training image",
               per_item=PER_ITEM_SHARE, minimum=0.0, maximum=1.0),
        Metric(KEY_FLAGGED_COUNT, "number of image items confirmed as copies of a training image",
               per_item=PER_ITEM_COUNT, minimum=0.0),
        Metric(KEY_MIN_PIXEL_DISTANCE, "smallest pixel distance of any item to its nearest checked "
               "training image (null when nothing could be compared)", minimum=0.0),
        Metric(KEY_MEDIAN_PIXEL_DISTANCE, "median over items of the pixel distance to the nearest "
               "checked training image (null when nothing could be compared)", minimum=0.0),
        Metric(KEY_UNREADABLE_REFERENCE, "number of reference images that could not be read and so "
               "could not be compared", minimum=0.0),
    )

    # run_audit passes a stored reference index (aigc-audit audit --index) to evaluators that take one.
    accepts_index = True

    def __init__(self, *, index: ReferenceIndex | None = None, workers: int | None = None, **params: Any):
        """``workers``: processes each stage may use (None: one per core this process may run
        on; 1: none started). The findings are the same for any number."""
        super().__init__(**params)
        if workers is not None and workers < 1:
            raise ConfigError(f"image_near_duplicate needs at least 1 worker; got {workers}")
        self.index = index
        self.workers = workers
        # The reference set's spacing, kept with the thumbnails it was measured on: a service
        # judges every request against the same stored index, and measuring it again cost 1.7 s
        # on 1,700 digits (thousands of comparisons among near neighbours).
        self._spacing: tuple[np.ndarray, dict[str, np.ndarray], _FaintLevels] | None = None
        # And as the alignment stage sees it, measured the first time that stage confirms a copy: by
        # the scale the training images are brought down by (None: as they are).
        self._aligned_spacing: tuple[np.ndarray, dict[float | None, np.ndarray]] | None = None

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        if e.get(MATCH_ID) is None:
            return "no readable training image to compare with"
        shift = e.get(SHIFT) or [0, 0]
        moved = f"; after a shift of ({shift[0]}, {shift[1]}) px" if any(shift) else ""
        if e.get(MATCH_METHOD) == ALIGNED:
            box = ", ".join(f"{v:.0%}" for v in e[MATCHED_REGION])
            turned = e.get(ORIENTATION, "as is")
            generated = "the generated image" if turned == "as is" else f"the generated image {turned}"
            moved = (f"; {'' if turned == 'as is' else f'{generated}; '}the training image turned by "
                     f"{e[ROTATION]:g} degrees, enlarged {e[SCALE]:g}x and moved by ({shift[0]}, {shift[1]}) "
                     f"px: the generated image shows its region (left, top, right, bottom) {box}")
            if e.get(COVERED_REGION):
                covered = ", ".join(f"{v:.0%}" for v in e[COVERED_REGION])
                moved += f"; a region of {generated} ({covered}) is covered, as by a caption or logo"
        elif e.get(ORIENTATION, "as is") == _FRAMED:
            moved = f"; the generated image's picture {_FRAMED}{moved}"
        elif e.get(ORIENTATION, "as is") != "as is":
            moved = f"; the generated image {e[ORIENTATION]}{moved}"
        if e.get(HUE_TURNED_BACK) is not None:
            moved += (f"; its hashes within the radius once its hue was turned back by "
                      f"{e[HUE_TURNED_BACK]:+.1%} of the circle, as after a colour jitter")
        if e.get(COMPARED_ON) in _LOOK_AFTER:
            moved += f"; compared on the {e[COMPARED_ON]}, as after {_LOOK_AFTER[e[COMPARED_ON]]}"
        if e.get(GRAIN_AGREEMENT) is not None:
            moved += (f"; the two grains agree {e[GRAIN_AGREEMENT]:g} standard errors past chance (a copy "
                      f"from {MIN_GRAIN_AGREEMENT:g})")
        if e.get(LEVEL_DISTANCE) is not None:
            following = e.get(NEXT_LEVEL_DISTANCE)
            left_out = e.get(BLOCKS_LEFT_OUT) or 0
            over = f" over all but the {left_out} blocks that differ most" if left_out else ""
            if e.get(ROTATION):
                moved += f"; the training image turned by {e[ROTATION]:g} degrees"
                over = f" over the {LEVEL_BLOCKS ** 2 - left_out} blocks the turn leaves whole"
            moved += (f"; their block levels {e[LEVEL_DISTANCE]:.2f} grey levels (RMS) apart{over} (a copy "
                      f"within {MAX_LEVEL_DISTANCE:g}), the next faint training image's "
                      f"{'none' if following is None else f'{following:.2f}'}")
        if e.get(CONFIDENCE) is not None:
            aligned = ", aligned the same way" if e.get(MATCH_METHOD) == ALIGNED else ""
            moved += (f"; confidence {e[CONFIDENCE]:.3f} (the share of training images farther from "
                      f"their nearest other training image{aligned})")
        return (f"pixel distance {e[PIXEL_DISTANCE]:.3f} to training image {e[MATCH_ID]} "
                f"({e.get(MATCH_SOURCE) or 'unknown source'}, licence "
                f"{e.get(MATCH_LICENSE) or 'unknown'}); pHash {e[PHASH_DISTANCE]} and dHash "
                f"{e[DHASH_DISTANCE]} of 64 bits apart{moved}")

    def _workers(self, items: int) -> int:
        """Worker processes for a stage over ``items`` independent items: one per core (or
        ``workers``), but none for fewer than ``_ITEMS_PER_WORKER`` items each."""
        return min(self.workers if self.workers is not None else available_cores(),
                   -(-items // _ITEMS_PER_WORKER))

    # -- reading ---------------------------------------------------------------------------
    def _describe(self, items: list[Item], *, shifts: bool, track: Track, what: str) -> _Described:
        """Every item read, hashed and thumbnailed (:meth:`_describe_one_process`); a large set in
        chunks spread over worker processes, each image read by one of them."""
        chunks = [items[at:at + _DESCRIBED_PER_TASK] for at in range(0, len(items), _DESCRIBED_PER_TASK)]
        workers = min(self.workers if self.workers is not None else available_cores(),
                      len(items) // _DESCRIBED_PER_WORKER)
        if workers < 2:
            return self._describe_one_process(items, shifts=shifts, track=track, what=what)
        parts = _spread(_describe_chunks, chunks, workers, track, f"Hashing {what}", context=(self, shifts))
        return _joined(parts)

    def _describe_one_process(self, items: Iterable[Item], *, shifts: bool, track: Track,
                              what: str) -> _Described:
        side, max_shift = self.params_["pixel_size"], self.params_["max_shift"]
        shift_limit = SHIFT_SEARCH_FACTOR * max(PHASH_SIDE, side)
        readable: list[Item] = []
        errors: dict[str, str] = {}
        phash, dhash, thumbs, owner, offsets, margins, turned = [], [], [], [], [], [], []
        # The rows of the hashed batches that are hues turned back, and their owners and turns.
        recoloured: list[int] = []
        recoloured_owner: list[int] = []
        recoloured_turn: list[float] = []
        hashed = 0
        aligned: list[np.ndarray] = []
        sizes: list[tuple[int, int]] = []
        # Kept from the one read of each generated image, so the alignment stage need not decode it again.
        keep_aligned = shifts and self.params_["alignment"]
        phash_batch: list[np.ndarray] = []
        dhash_batch: list[np.ndarray] = []

        def flush() -> None:
            nonlocal hashed
            hashed += len(phash_batch)
            if phash_batch:
                phash.append(phash_from_pixels(np.stack(phash_batch)))
                dhash.append(dhash_from_pixels(np.stack(dhash_batch)))
                phash_batch.clear()
                dhash_batch.clear()

        items = list(items)
        for item in track(items, f"Hashing {what}", len(items)):
            try:
                image = open_image(item, mode="L")
            except ItemError as error:
                errors[item.id] = error.reason
                continue
            use = shift_offsets(max_shift) if shifts and max(image.size) <= shift_limit else [(0, 0)]
            turns = (range(len(_ORIENTATION_NAMES)) if shifts and self.params_["orientations"] == "all"
                     else range(1))
            for turn in turns:
                oriented = orient(image, _ORIENTATION_NAMES[turn])
                # Shifts are searched as is only: a flip or a turn is matched at no shift, which
                # keeps the variants at 8 + shifts instead of 8 x shifts.
                moves = use if turn == 0 else [(0, 0)]
                for (dx, dy), variant in zip(moves, shifted_copies(oriented, moves)):
                    pixels = phash_pixels(variant)
                    phash_batch.append(pixels)
                    dhash_batch.append(dhash_pixels(variant))
                    # At the default size the pHash input is the thumbnail: same resize, same pixels.
                    thumbs.append(pixels if side == PHASH_SIDE else thumbnail(variant, side))
                    owner.append(len(readable))
                    offsets.append((dx, dy))
                    turned.append(turn)
            boxes = []
            if shifts and self.params_["orientations"] == "all":
                try:  # in colour too: a frame of the picture's grey in another colour
                    colour = open_image(item, mode="RGB")
                except ItemError:  # read in grey a moment ago, changed since: its grey frames only
                    colour = None
                boxes = frame_boxes(image, colour)
                if colour is not None and _HUE_TURNS and not _grey(colour):
                    greys = hue_turned_greys(colour, _HUE_TURNS)
                    at = hashed + len(phash_batch)
                    recoloured.extend(range(at, at + len(greys)))
                    phash_batch.extend(resize_gray(greys, (PHASH_SIDE, PHASH_SIDE)))
                    dhash_batch.extend(resize_gray(greys, (HASH_SIZE + 1, HASH_SIZE)))
                    recoloured_owner.extend([len(readable)] * len(greys))
                    recoloured_turn.extend(_HUE_TURNS)
            for box in boxes:
                # The picture inside an added frame, compared on its own as another variant.
                inner = image.crop(box)
                pixels = phash_pixels(inner)
                phash_batch.append(pixels)
                dhash_batch.append(dhash_pixels(inner))
                thumbs.append(pixels if side == PHASH_SIDE else thumbnail(inner, side))
                owner.append(len(readable))
                offsets.append((0, 0))
                turned.append(len(_ORIENTATION_NAMES))
            # Pixels within the shift of the border may have left or entered the picture: the
            # pixel check leaves that band out for every shift (and, as a quarter turn swaps the
            # axes, the wider band on both), so all variants are compared alike.
            k = max_shift if len(use) > 1 else 0
            band = max(-(-k * side // image.size[0]), -(-k * side // image.size[1]))
            margins.append((band, band) if len(turns) > 1 else
                           (-(-k * side // image.size[0]), -(-k * side // image.size[1])))
            if keep_aligned:
                aligned.append(thumbnail(image, ALIGN_SIDE))
            if shifts:
                sizes.append(image.size)
            readable.append(item)
            if len(phash_batch) >= _BATCH:
                flush()
        flush()
        empty = np.zeros(0, np.uint64)
        all_phash = np.concatenate(phash) if phash else empty
        all_dhash = np.concatenate(dhash) if dhash else empty
        kept = np.ones(len(all_phash), bool)
        kept[recoloured] = False
        return _Described(
            items=readable, errors=errors, phash=all_phash[kept], dhash=all_dhash[kept],
            thumbnails=np.stack(thumbs) if thumbs else np.zeros((0, side, side), np.uint8),
            owner=np.asarray(owner, np.int64), shifts=np.asarray(offsets, np.int64).reshape(-1, 2),
            orientations=np.asarray(turned, np.int64),
            margins=np.asarray(margins, np.int64).reshape(-1, 2), aligned=aligned, sizes=sizes,
            recoloured_phash=all_phash[~kept], recoloured_dhash=all_dhash[~kept],
            recoloured_owner=np.asarray(recoloured_owner, np.int64),
            recoloured_turn=np.asarray(recoloured_turn, np.float64))

    def _indexed(self, index: ReferenceIndex, ref_items: list[Item]) -> _Described:
        """The training images as the stored index holds them, after checking that they are the
        indexed ones and that the index was built with this evaluator's pixel size."""
        index.require(self.name, pixel_size=self.params_["pixel_size"])
        stored = index.image_hashes(ref_items)
        readable = [item for item in ref_items if item.id not in stored.errors]
        n = len(readable)
        return _Described(items=readable, errors=dict(stored.errors), phash=stored.phash, dhash=stored.dhash,
                          thumbnails=stored.thumbnails, owner=np.arange(n, dtype=np.int64),
                          shifts=np.zeros((n, 2), np.int64), orientations=np.zeros(n, np.int64),
                          margins=np.zeros((n, 2), np.int64), colours=stored.colours)

    # -- candidates ------------------------------------------------------------------------
    def _candidates(self, queries: _Described, refs: _Described,
                    track: Track = no_progress) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray, np.ndarray, np.ndarray]:
        """Unique (item, reference) pairs: every hash match within a radius (of a variant, or of a
        hue turned back), plus each item's nearest reference by each hash. Returns item, reference,
        pHash and dHash distance (the best over the item's variants), whether the reference is the
        nearest by pHash or by dHash of the item as it is, and whether a hue turned back came within
        a radius of it, sorted by item, then hash distance; and, per query row (variant), the
        distance to its nearest reference by pHash plus that by dHash."""
        n_ref, variants = len(refs.items), len(queries.phash)
        by_p, by_d = self._hash_search(queries, refs, track)
        # A hue turned back brings its matches within the radius, not its nearest (_HUE_TURNS), and
        # leaves the distances, which rank the candidates, as the variants have them.
        owner = np.concatenate([queries.owner, queries.recoloured_owner])
        matched = np.concatenate([owner[by_p.query], owner[by_d.query]]) * n_ref + np.concatenate(
            [by_p.reference, by_d.reference])
        hued = matched[np.concatenate([by_p.query, by_d.query]) >= variants]
        keys = np.unique(np.concatenate([matched, queries.owner * n_ref + by_p.nearest[:variants],
                                         queries.owner * n_ref + by_d.nearest[:variants]]))
        item, ref = keys // n_ref, keys % n_ref
        starts = np.searchsorted(queries.owner, np.arange(len(queries.items) + 1))
        # The first variant of each item is the image as it is (no turn, no shift).
        as_is = np.arange(len(queries.items))
        nearest = np.isin(keys, np.concatenate([as_is * n_ref + by_p.nearest[starts[:-1]],
                                                as_is * n_ref + by_d.nearest[starts[:-1]]]))
        # Best distance over each item's shifted variants, for the unique pairs only.
        phash_d = np.full(len(keys), HASH_BITS, np.int64)
        dhash_d = np.full(len(keys), HASH_BITS, np.int64)
        for v in range(int(np.diff(starts).max(initial=0))):
            row = np.minimum(starts[item] + v, starts[item + 1] - 1)  # repeat the last variant
            phash_d = np.minimum(phash_d, hamming_distance(queries.phash[row], refs.phash[ref]))
            dhash_d = np.minimum(dhash_d, hamming_distance(queries.dhash[row], refs.dhash[ref]))
        order = np.lexsort((ref, phash_d + dhash_d, item))
        nearest_sum = by_p.nearest_distance[:variants].astype(np.int64) + by_d.nearest_distance[:variants]
        return (item[order], ref[order], phash_d[order], dhash_d[order], nearest[order],
                np.isin(keys, hued)[order], nearest_sum)

    def _hash_search(self, queries: _Described, refs: _Described,
                     track: Track) -> tuple[RadiusMatches, RadiusMatches]:
        """The exact radius search of every query row's pHash and dHash among the training
        images', the rows of hues turned back after the variants'; many rows in blocks over worker
        processes. Each row's matches and nearest training image are its own, wherever it is
        searched."""
        p = self.params_
        radii = (p["phash_radius"], p["dhash_radius"])
        tables: list[np.ndarray | MultiIndexHashing] = [refs.phash, refs.dhash]
        if len(refs.phash) >= AUTO_MIN_REFERENCES:
            # Substring tables built once here, rather than by each block's search.
            for at, radius in enumerate(radii):
                built = MultiIndexHashing(tables[at])
                if built.expected_cost(radius) < len(refs.phash):
                    tables[at] = built
        # The variants' rows, then the hues turned back.
        phash = np.concatenate([queries.phash, queries.recoloured_phash])
        dhash = np.concatenate([queries.dhash, queries.recoloured_dhash])
        rows = len(phash)
        blocks = [(at, min(at + _HASHES_PER_TASK, rows)) for at in range(0, rows, _HASHES_PER_TASK)]
        found = _spread(_search_hashes, blocks, min(self.workers if self.workers is not None
                                                    else available_cores(), len(blocks)),
                        track, "Hash candidates", context=(phash, dhash, *tables, *radii))
        return _joined_matches([f[0] for f in found], blocks), _joined_matches([f[1] for f in found], blocks)

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(IMAGE)
        # Without image samples there is nothing to compare: the reference images are not read.
        ref_items = reference.of_modality(IMAGE) if reference is not None and items else []
        stored_index = self.index if ref_items else None
        refs = (self._indexed(stored_index, ref_items) if stored_index is not None else
                self._describe(ref_items, shifts=False, track=track, what="reference images"))
        queries = self._describe(items, shifts=True, track=track, what="generated images")
        notes = [info(f"hash candidates: pHash within {p['phash_radius']} or dHash within "
                      f"{p['dhash_radius']} of 64 bits; confirmed when the pixel distance "
                      f"({p['pixel_size']}x{p['pixel_size']} px, {p['tiles']}x{p['tiles']} tiles, shifts "
                      f"up to {p['max_shift']} px) is at most {p['max_pixel_distance']} on the grey "
                      f"levels, the HSV value channel, the grey levels matched in histogram or both "
                      f"smoothed (the last two only when closer than {SMOOTHED_MIN_CONFIDENCE:.0%} of "
                      f"training images are to their nearest neighbour); the nearest by pHash and by "
                      f"dHash are also checked outside the radius, on the same condition")]
        if stored_index is not None:
            notes.append(info(f"reference hashes and thumbnails from the stored index {stored_index.path}"))
        if p["alignment"]:
            notes.append(info(
                f"alignment: for each image not confirmed by its hashes, the "
                f"{p['alignment_candidates']} training image(s) nearest by window descriptor (whole "
                f"frame and crops of {WINDOW_SCALE:.0%} of the side) are turned by "
                f"{', '.join(f'{r:g}' for r in ROTATIONS)} degrees, enlarged "
                f"{', '.join(f'{s:g}' for s in SCALES)}x and moved by up to "
                f"{MAX_SHIFT * 100 // ALIGN_SIDE} % of the side onto it; confirmed when the pixel "
                f"distance over the region they share is at most {p['max_aligned_distance']} and at "
                f"most {ALIGN_RATIO:g} of the next-closest training image's ({CONFIDENT_RATIO:.2f} when "
                f"closer than any of the sampled training images comes to its own nearest other); "
                f"before that, the {min(_WINDOW_NEAREST, p['alignment_candidates'])} nearest by window "
                f"descriptor get the pixel check's looks, "
                f"confirmed on the condition of the nearest by hash outside the radius and at most "
                f"{ALIGN_RATIO:g} of the next-closest of them; the {_HASH_NEAREST} nearest by hash, and the "
                f"closest to the pixel check, are also aligned onto the image turned back from the "
                f"orientation their hashes came nearest in (a flip or quarter turn with a crop, turn "
                f"or caption), when their coarse correlation ranks them among the "
                f"{_FULLY_ALIGNED} best or, for the nearest by hash, when turning the image back brings "
                f"its nearest training image at least {_TURNED_LEAD} bits nearer by hash; and the "
                f"{_MIRROR_NEAREST} nearest by window descriptor to the image mirrored left-right, onto it "
                f"mirrored back, when its nearest window is at most {_MIRROR_MARGIN:g} less similar (cosine) "
                f"than its own nearest's, and fully aligned when their coarse correlation beats every "
                f"candidate's as it is; and the nearest past a band to the image turned back from the "
                f"seven other orientations (a turn or flip, then a caption), the most similar fully "
                f"aligned when at least {_BAND_TURN_SIMILAR:g} similar (cosine) and "
                f"{_BAND_TURN_LEAD:g} more than its own nearest past a band"))
        if refs.errors:
            notes.append(info(f"{len(refs.errors)} reference image(s) could not be read and are not "
                              f"compared: {_listed(refs.errors)}"))
        if items and not refs.items:
            notes.append(info("the reference set holds no readable image items; nothing can be a copy"))

        results: dict[str, ItemResult] = {}
        if refs.items and queries.items:
            results = self._compare(queries, refs, track, notes)
            _check_flat_in_colour(results, queries, refs)
        for item in queries.items:
            results.setdefault(item.id, ItemResult(item.id, 0.0, False, {MATCH_ID: None}))
        ordered = [results[i.id] for i in items if i.id in results]

        distances = np.array([r.evidence[PIXEL_DISTANCE] for r in ordered
                              if r.evidence.get(PIXEL_DISTANCE) is not None])
        if len(distances):
            notes.append(_quantile_note(distances))
        flagged = sum(r.flagged for r in ordered)
        metrics = {
            # Unreadable items stay in the denominator: they are reported, and counted as errors.
            KEY_SHARE_FLAGGED: flagged / len(items) if items else 0.0,
            KEY_FLAGGED_COUNT: float(flagged),
            KEY_MIN_PIXEL_DISTANCE: float(distances.min()) if len(distances) else float("nan"),
            KEY_MEDIAN_PIXEL_DISTANCE: float(np.median(distances)) if len(distances) else float("nan"),
            KEY_UNREADABLE_REFERENCE: float(len(refs.errors)),
        }
        return Evaluation(self.name, dict(p), metrics, ordered, errors=queries.errors,
                          n_items=len(items), notes=notes, seconds=time.perf_counter() - started)

    def _compare(self, queries: _Described, refs: _Described, track: Track,
                 notes: list[Note]) -> dict[str, ItemResult]:
        p = self.params_
        item, ref, phash_d, dhash_d, nearest_as_is, hued, nearest_sum = self._candidates(queries, refs, track)
        within = (phash_d <= p["phash_radius"]) | (dhash_d <= p["dhash_radius"])
        hash_match = within | hued
        bounds = np.searchsorted(item, np.arange(len(queries.items) + 1))
        q_bounds = np.searchsorted(queries.owner, np.arange(len(queries.items) + 1))
        if self._spacing is None or self._spacing[0] is not refs.thumbnails:
            self._spacing = (refs.thumbnails, self._reference_spacing(refs), faint_levels(refs.thumbnails))
        spacing, faint = self._spacing[1], self._spacing[2]
        notes.append(_spacing_note(spacing))
        check = _PixelCheck(queries, refs, ref, bounds, q_bounds, within, nearest_as_is, spacing,
                            p["pixel_size"], p["tiles"], p["max_pixel_distance"], p["max_candidates"],
                            recoloured=hued & ~within)
        # The training images' window descriptors, for the alignment stage, are described by this
        # process while workers check pixels (a third of the stage's time at 100,000 images).
        windows: dict[str, np.ndarray] = {}

        def describe_windows() -> None:
            windows.update(whole=window_descriptors(refs.thumbnails), bands=band_descriptors(refs.thumbnails))

        checked = _spread(_check_pixels, list(range(len(queries.items))), self._workers(len(queries.items)),
                          track, "Pixel check", context=check,
                          meanwhile=describe_windows if p["alignment"] else None)
        results = {}
        capped = 0
        for index, (pick, pixel, confirmed, variant, look, cut, _, grain) in enumerate(checked):
            lo = bounds[index]
            capped += cut
            results[queries.items[index].id] = self._item_result(
                queries.items[index], refs.items[ref[pick]], pixel,
                int(phash_d[pick]), int(dhash_d[pick]), bool(hash_match[pick]),
                confirmed, queries.shifts[variant], _VARIANT_NAMES[int(queries.orientations[variant])],
                n_candidates=int(hash_match[lo:bounds[index + 1]].sum()),
                hashes=(queries.phash[q_bounds[index]], queries.dhash[q_bounds[index]]),
                compared_on=LOOKS[look], spacing=spacing, grain=grain)
        if capped:
            notes.append(info(f"{capped} item(s) had more than {p['max_candidates']} hash candidates; "
                              f"the {p['max_candidates']} nearest by hash were checked"))
        self._check_recoloured(queries, refs, results)
        self._level_look(queries, refs, q_bounds, faint, results, notes)
        dropped = _check_flat_in_colour(results, queries, refs)
        self._flat_in_colour_instead(queries, refs, q_bounds, ref, bounds, spacing, results, dropped)
        if p["alignment"]:
            # The nearest training images by hash join the window candidates: an overlay changes
            # the window descriptors more than the hashes.
            nearest_by_hash = {index: ref[bounds[index]:min(bounds[index + 1], bounds[index] + _HASH_NEAREST)]
                               for index in range(len(queries.items))}
            self._align_unconfirmed(queries, refs, q_bounds, results, nearest_by_hash, track, windows, notes,
                                    check, nearest_sum, dropped)
        # Last: a faint picture turned a little, which nothing above confirmed.
        self._level_look(queries, refs, q_bounds, faint, results, notes, turned=True)
        return results

    def _align_unconfirmed(self, queries: _Described, refs: _Described, q_bounds: np.ndarray,
                           results: dict[str, ItemResult], nearest_by_hash: dict[int, np.ndarray],
                           track: Track, windows: dict[str, np.ndarray], notes: list[Note],
                           check: _PixelCheck | None = None, nearest_sum: np.ndarray | None = None,
                           dropped: dict[str, int] | None = None) -> None:
        """Second chance for every item its hashes did not confirm: the training images nearest
        by window descriptor get the pixel check's looks (:meth:`_window_look`, given ``check``),
        then those and the nearest by hash, and the one its pixel check came closest to, are
        aligned onto it (turn, enlargement, shift); the closest alignment within the pixel
        threshold flags it. Items are independent: many are spread over worker processes
        (:func:`_align_batch`). ``dropped``: by item id, a training image its check in colour
        dropped, looked past here."""
        p = self.params_
        dropped = dropped or {}
        open_ = [i for i, item in enumerate(queries.items) if not results[item.id].flagged]
        if not open_:
            return
        # Descriptors of each item as it is (its first variant), against every training window.
        if not windows:  # the training images' descriptors, unless made while pixels were checked
            windows = {"whole": window_descriptors(refs.thumbnails),
                       "bands": band_descriptors(refs.thumbnails)}
        # The whole frame of each item mirrored left-right: a copy flipped and then cropped is found
        # by neither its hashes (the crop moves them) nor its windows as it is (the flip).
        # And the nearest with a band of the grid left out: a bar or caption across a copy.
        thumbnails = queries.thumbnails[q_bounds[open_]]
        described = query_descriptors(thumbnails)
        mirrored = (frame_descriptors(thumbnails[:, :, ::-1])[:, None] if p["orientations"] == "all"
                    else described[:0, :1])
        # And past a band turned back from every other orientation: a copy turned and then captioned.
        turns = ([(row, o) for row in range(len(open_)) for o in range(1, len(_ORIENTATION_NAMES))]
                 if p["orientations"] == "all" else [])
        turned_bands = band_descriptors(np.stack([turned_back(thumbnails[row], o) for row, o in turns])
                                        if turns else thumbnails[:0])
        # And the nearest by its centre window turned back a little, as it is or flipped: a copy
        # turned by up to 10 degrees, of a picture whose windows a turn moves apart (a line of text).
        aspects = [width / height for width, height in (queries.sizes[index] for index in open_)]
        back_orientations = _BACK_ORIENTATIONS if p["orientations"] == "all" else (0,)
        oriented = np.stack([turned_back(thumbnail, o) for thumbnail in thumbnails
                             for o in back_orientations])
        centres_back = query_descriptors(turned_thumbnails(
            oriented, np.repeat(aspects, len(back_orientations)), _TURNS_BACK))[:, 1:]
        retrieval = _Retrieval(described, mirrored, windows["whole"], band_descriptors(thumbnails),
                               windows["bands"], p["alignment_candidates"], turned_bands,
                               SortedBands.of(windows["bands"]) if turns else None, centres_back)
        found = _spread(_retrieve, retrieval.tasks(), self._workers(len(open_)), track, "Retrieval",
                        context=retrieval)
        ways = [way for way, _, _ in retrieval.tasks()]

        def rows_of(each: str) -> np.ndarray:
            parts = [rows for way, rows in zip(ways, found) if way == each]
            return np.concatenate(parts) if parts else np.zeros((0, retrieval.k), np.int64)

        nearest, mirrored, past_band = rows_of(_WHOLE), rows_of(_MIRRORED_WHOLE), rows_of(_BANDS)
        # Of the turns back, the one whose nearest is most alike, with the orientation it was
        # turned back from; kept when more alike than the nearest to the image as it is (a turned
        # copy's source is; a distinct image's nearest turned back seldom).
        back = rows_of(_TURNED_BACK)[:, 0].reshape(len(open_), -1)
        alike_back = _best_window(centres_back, windows["whole"][back.ravel(), -1:]).reshape(back.shape)
        alike_as_is = _best_window(retrieval.queries, windows["whole"][nearest[:, 0]])
        best_back = alike_back.argmax(axis=1)
        nearest_back = np.where(alike_back.max(axis=1) > alike_as_is,
                                back[np.arange(len(open_)), best_back], -1)
        orientation_back = np.asarray(back_orientations)[best_back // len(_TURNS_BACK)]
        # The nearest past a band turned back, kept when alike enough (see _BAND_TURN_SIMILAR): the
        # most alike over the orientations, with its similarity.
        past_band_turned: dict[int, tuple[float, int, int]] = {}
        turned_rows = rows_of(_TURNED_BANDS)[:, 0]
        if len(turned_rows):
            def alike(descriptors: np.ndarray, rows: np.ndarray) -> np.ndarray:
                return np.einsum("tvd,tvd->tv", descriptors, windows["bands"][rows]).max(axis=1)

            as_is = alike(retrieval.query_bands, past_band[:, 0])
            # -1: none came _BAND_TURN_SIMILAR close.
            for (row, orientation), r, value in zip(turns, turned_rows.tolist(),
                                                    alike(turned_bands, np.maximum(turned_rows, 0))):
                if (r >= 0 and value >= max(_BAND_TURN_SIMILAR, as_is[row] + _BAND_TURN_LEAD)
                        and value > past_band_turned.get(row, (-np.inf,))[0]):
                    past_band_turned[row] = (float(value), r, orientation)
        # How much more similar the mirrored image's nearest window is than its own nearest's.
        mirror_lead = np.full(len(open_), -np.inf)  # -inf: no mirrored candidates
        if len(mirrored):
            mirror_lead = (_best_window(retrieval.mirrored, windows["whole"][mirrored[:, 0]])
                           - _best_window(retrieval.queries, windows["whole"][nearest[:, 0]]))
        if check is not None:
            self._window_look(check, open_, [row[row != dropped.get(queries.items[index].id, -1)]
                                             for row, index in zip(nearest, open_)], results, track)
        index_of = {item.id: r for r, item in enumerate(refs.items)}
        tasks = []
        # By item: the row, and orientation, that only the retrieval turned back found.
        back_only: dict[int, tuple[int, int]] = {}
        for row, index in enumerate(open_):
            if results[queries.items[index].id].flagged:
                continue
            closest = index_of[results[queries.items[index].id].evidence[MATCH_ID]]
            candidates = list(dict.fromkeys([*nearest[row].tolist(), closest,
                                             *nearest_by_hash[index].tolist(), *past_band[row].tolist()]))
            if nearest_back[row] >= 0 and (orientation_back[row] or nearest_back[row] not in candidates):
                back_only[index] = (int(nearest_back[row]), int(orientation_back[row]))
                if not orientation_back[row]:
                    candidates.append(back_only[index][0])
            # The first candidate that each retrieval found is fully aligned whatever its coarse
            # correlation (an overlay lowers the correlation of the very image it covers).
            first = {int(nearest[row][0]), closest, *nearest_by_hash[index][:1].tolist(),
                     int(past_band[row][0])}
            # A flipped or turned copy that was also cropped, turned a little or captioned: its
            # source is often still the nearest by hash over the orientations tried, in the one
            # that undoes the flip, and is aligned onto the image turned back from it too.
            turned = {(r, o) for r in [*nearest_by_hash[index].tolist(), closest]
                      if (o := self._nearest_orientation(queries, refs, q_bounds, index, r))}
            # And the nearest to it mirrored left-right, aligned onto it mirrored back.
            by_mirror = ({(r, _MIRRORED) for r in mirrored[row][:_MIRROR_NEAREST].tolist()} - turned
                         if mirror_lead[row] >= -_MIRROR_MARGIN else set())
            # And the nearest past a band to it turned back, alike enough to be its source.
            by_band = {past_band_turned[row][1:]} if row in past_band_turned else set()
            turned |= by_mirror | by_band
            # And the nearest to it turned back from a flip and a little, aligned so.
            if index in back_only and back_only[index][1]:
                if back_only[index] in turned:
                    del back_only[index]
                else:
                    turned.add(back_only[index])
            if (skip := dropped.get(queries.items[index].id)) is not None:
                candidates = [r for r in candidates if r != skip]
                first.discard(skip)
                turned = {(r, o) for r, o in turned if r != skip}
            # Turns are searched in the picture's own proportions, not its square thumbnail's.
            width, height = queries.sizes[index]
            tasks.append(_AlignTask(index, queries.aligned[index],
                                    tuple((r, refs.items[r]) for r in candidates), frozenset(first),
                                    width / height, (width, height),
                                    tuple((r, refs.items[r], o) for r, o in sorted(turned)),
                                    frozenset((r, o) for r, o in turned
                                              if (r, o) in by_band or r in nearest_by_hash[index][:1]
                                              and self._turned_lead(queries, q_bounds, index, o, nearest_sum)
                                              >= _TURNED_LEAD),
                                    frozenset(r for r, _ in by_mirror), queries.items[index],
                                    p["max_pixel_distance"]))
        outcomes = _spread(_align_batch, tasks, self._workers(len(tasks)), track, "Alignment check",
                           context=(p["tiles"], {}))

        def accepted(task: _AlignTask, outcome: _Aligned, spacing: np.ndarray | None) -> bool:
            found, r, runner_up, compared, without, _, orientation = outcome
            # A training image that only the retrieval turned back proposed is one more look-alike
            # tried: farther than a plain copy's distance, it must stand out from the next-closest
            # twice as clearly (at 100,000 training drawings, one distinct drawing came to 0.59,
            # 0.47 of its next-closest; text turned by 10 degrees to 0.28 and 0.33, under a quarter).
            if (back_only.get(task.index) == (r, orientation) and found.distance > p["max_pixel_distance"]
                    and found.distance > ALIGN_RATIO ** 2 * runner_up):
                return False
            # Without the spacing yet: whether the match would be taken were it confident.
            confident = spacing is None or confidence(found.distance, spacing) == 1.0
            return _confirmed(found, runner_up, compared, p["max_aligned_distance"], p["max_pixel_distance"],
                              without, confident)

        found_some = [(task, outcome) for task, outcome in zip(tasks, outcomes)
                      if outcome[0] is not None and accepted(task, outcome, None)]
        if not found_some:
            return
        if self._aligned_spacing is None or self._aligned_spacing[0] is not refs.thumbnails:
            self._aligned_spacing = (refs.thumbnails, {})
        measured, noted = self._aligned_spacing[1], set()

        def spacing_at(scale: float | None) -> np.ndarray:
            # A match made with the training images brought down to a smaller copy's size is as
            # convincing as training images brought down the same way are far apart: blurred, two
            # 8 px digits come closer than any two 16 px ones. By steps of SPACING_SCALE_STEP, so that
            # a set of many sizes measures a few scales, not one per size.
            if scale is not None:
                scale = max(SPACING_SCALE_STEP, round(scale / SPACING_SCALE_STEP) * SPACING_SCALE_STEP)
            if scale not in measured:
                measured[scale] = self._reference_aligned_spacing(refs, windows["whole"], windows["bands"],
                                                                  scale)
            if scale not in noted:
                noted.add(scale)
                notes.append(_aligned_spacing_note(measured[scale], scale))
            return measured[scale]

        spacing_at(None)
        for task, outcome in found_some:
            found, r, runner_up, _, _, scale, orientation = outcome
            spacing = spacing_at(scale)
            if not accepted(task, outcome, spacing):
                continue
            index, item = task.index, queries.items[task.index]
            # The hashes of the image as it is, or turned back as it was aligned (its shifts too).
            rows = np.arange(q_bounds[index], q_bounds[index + 1])
            rows = rows[:1] if orientation == 0 else rows[queries.orientations[rows] == orientation]
            hashes = _hash_distances(queries, refs, rows, r)
            size = queries.sizes[index]
            result = self._aligned_result(
                item, refs.items[r], found, size[::-1] if _quarter_turned(orientation) else size,
                hashes, results[item.id].evidence, confidence(found.distance, spacing),
                _ORIENTATION_NAMES[orientation])
            result.evidence[NEXT_PIXEL_DISTANCE] = round(runner_up, 6) if np.isfinite(runner_up) else None
            agreement = _agreement(item, refs.items[r], result.evidence)
            result.evidence[COLOUR_AGREEMENT] = agreement.to_evidence()
            if agreement.agree:
                results[item.id] = result
            else:
                # Not a copy; the reviewer still sees which alignment was dropped, and why.
                results[item.id].evidence[DROPPED_MATCH] = _dropped(result.evidence)

    def _check_recoloured(self, queries: _Described, refs: _Described,
                          results: dict[str, ItemResult]) -> None:
        """Each match by hash that only a hue turned back brought within a radius: its hash
        distances become that hue's, the turn is named (``HUE_TURNED_BACK``) and, when flagged, the
        match is checked in colour, as a match by alignment is; one whose colours disagree is no
        longer flagged, and the match it was is named (``DROPPED_MATCH``). Results are replaced."""
        p = self.params_
        row_of = {item.id: r for r, item in enumerate(refs.items)}
        hued = np.searchsorted(queries.recoloured_owner, np.arange(len(queries.items) + 1))
        for index, item in enumerate(queries.items):
            result = results[item.id]
            e = result.evidence
            turns = slice(hued[index], hued[index + 1])
            if (turns.start == turns.stop or not e[HASH_MATCH] or e[PHASH_DISTANCE] <= p["phash_radius"]
                    or e[DHASH_DISTANCE] <= p["dhash_radius"]):
                continue
            r = row_of[e[MATCH_ID]]
            by_turn = (hamming_distance(queries.recoloured_phash[turns], refs.phash[[r]]),
                       hamming_distance(queries.recoloured_dhash[turns], refs.dhash[[r]]))
            best = int(np.argmin(by_turn[0] + by_turn[1]))
            evidence = {**e, PHASH_DISTANCE: int(by_turn[0][best]), DHASH_DISTANCE: int(by_turn[1][best]),
                        HUE_TURNED_BACK: float(queries.recoloured_turn[turns][best])}
            flagged = result.flagged
            if flagged:
                evidence[COLOUR_AGREEMENT] = _unmoved_agreement(item, refs.items[r],
                                                                evidence[ORIENTATION]).to_evidence()
                flagged = bool(evidence[COLOUR_AGREEMENT]["agree"])
                if not flagged:
                    evidence[DROPPED_MATCH] = _dropped(evidence)
            results[item.id] = replace(result, flagged=flagged, evidence=evidence)

    @staticmethod
    def _turned_lead(queries: _Described, q_bounds: np.ndarray, index: int, orientation: int,
                     nearest_sum: np.ndarray | None) -> int:
        """How many bits nearer (pHash plus dHash) the item's nearest training image comes turned
        back from ``orientation`` than as it is."""
        if nearest_sum is None:
            return 0
        rows = np.arange(q_bounds[index], q_bounds[index + 1])
        turned = rows[queries.orientations[rows] == orientation]
        return int(nearest_sum[rows[0]] - nearest_sum[turned].min()) if len(turned) else 0

    @staticmethod
    def _nearest_orientation(queries: _Described, refs: _Described, q_bounds: np.ndarray, index: int,
                             r: int) -> int:
        """The orientation (index into :data:`ORIENTATIONS`) of the item's variant whose hashes come
        nearest to training row ``r``'s; the image as it is on a tie, and for the variant inside
        an added frame."""
        rows = slice(q_bounds[index], q_bounds[index + 1])
        near = (hamming_distance(queries.phash[rows], refs.phash[[r]])
                + hamming_distance(queries.dhash[rows], refs.dhash[[r]]))
        orientation = int(queries.orientations[rows][int(np.argmin(near))])
        return orientation if orientation < len(_ORIENTATION_NAMES) else 0

    def _flat_in_colour_instead(self, queries: _Described, refs: _Described, q_bounds: np.ndarray,
                                ref: np.ndarray, bounds: np.ndarray, spacing: dict[str, np.ndarray],
                                results: dict[str, ItemResult], dropped: dict[str, int]) -> None:
        """For each item whose match, one flat grey, its check in colour dropped: of the other hash
        candidates (the first :data:`_FLAT_TRIED`) that are one flat grey too and as close on the
        grey levels, the one whose colours agree as unchanged (:data:`_TIED_HUE_TURN`,
        :data:`_TIED_CHROMA_GAIN`) with the least turn of hue. One flat grey ties
        every generated image of that grey: a copy of a red ground with a purple box of the same
        grey ties with a mint ground with a pink box, and only colour names its source. The hash
        candidates of item ``i`` are ``ref[bounds[i]:bounds[i + 1]]``, nearest by hash first. Found
        items' results are replaced (the match dropped stays named) and leave ``dropped``."""
        p = self.params_
        row_of = {item.id: index for index, item in enumerate(queries.items)}
        for item_id, skip in list(dropped.items()):
            index = row_of[item_id]
            item, before = queries.items[index], results[item_id]
            rows = slice(q_bounds[index], q_bounds[index + 1])
            mask = border_mask(p["pixel_size"], *queries.margins[index])
            flat = [int(r) for r in ref[bounds[index]:bounds[index + 1]]
                    if r != skip and float(refs.thumbnails[r].std()) < FLAT_STD][:_FLAT_TRIED]
            best: tuple[tuple[float, float], ItemResult] | None = None
            for r in flat:
                distance = tiled_distance(standardise(queries.thumbnails[rows]),
                                          standardise(refs.thumbnails[[r]]), p["tiles"], mask)[:, 0]
                if distance.min() > p["max_pixel_distance"]:
                    continue
                variant = int(q_bounds[index] + distance.argmin())
                phash_d, dhash_d = _hash_distances(queries, refs, rows, r)
                found = self._item_result(
                    item, refs.items[r], float(distance.min()), phash_d, dhash_d,
                    phash_d <= p["phash_radius"] or dhash_d <= p["dhash_radius"], True,
                    queries.shifts[variant], _VARIANT_NAMES[int(queries.orientations[variant])],
                    n_candidates=int(before.evidence.get(HASH_CANDIDATES, 0)),
                    hashes=(queries.phash[q_bounds[index]], queries.dhash[q_bounds[index]]), spacing=spacing)
                agreement = _unmoved_agreement(item, refs.items[r], found.evidence[ORIENTATION])
                unchanged = (agreement.agree and agreement.hue_turn is not None and agreement.gain is not None
                             and abs(agreement.hue_turn) <= _TIED_HUE_TURN
                             and _TIED_CHROMA_GAIN[0] <= agreement.gain <= _TIED_CHROMA_GAIN[1])
                if not unchanged:
                    continue
                rank = (abs(agreement.hue_turn), -(agreement.agreement or 0.0))
                if best is None or rank < best[0]:
                    found.evidence.update({COLOUR_AGREEMENT: agreement.to_evidence(),
                                           DROPPED_MATCH: before.evidence.get(DROPPED_MATCH)})
                    best = (rank, found)
            if best is not None:
                results[item_id] = best[1]
                del dropped[item_id]

    def _level_look(self, queries: _Described, refs: _Described, q_bounds: np.ndarray,
                    faint: _FaintLevels, results: dict[str, ItemResult], notes: list[Note],
                    turned: bool = False) -> None:
        """Each faint generated image not confirmed yet, compared by its block levels with every
        faint training image (:data:`MAX_LEVEL_DISTANCE`, :data:`LEVEL_LEAD`) in each orientation
        and frame it was described in, or, ``turned``, in each orientation that keeps its
        proportions turned back a little (:data:`_LEVEL_TURNS`); a match must also agree in colour.
        Confirmed items' results are replaced; their confidence is measured on the block levels of
        the faint training images (all blocks)."""
        if not turned:
            notes.append(info(
                f"faint pictures: {len(faint.rows)} training image(s) faint (grey levels spread under "
                f"{FAINT_STD:g}) with block levels spread at least {MAX_LEVEL_DISTANCE:g}; a faint "
                f"generated image not confirmed otherwise is a copy of one when their mean grey levels "
                f"over {LEVEL_BLOCKS}x{LEVEL_BLOCKS} blocks differ by at most {MAX_LEVEL_DISTANCE:g} (RMS), "
                f"every other such training image's by at least {LEVEL_LEAD:g} times as much, and their "
                f"colours agree; or so on the {LEVEL_KEPT:.0%} of the blocks that agree best, onto a "
                f"training image with a photograph's grain; or, last of all, turned back by up to "
                f"{max(_LEVEL_TURNS, default=0):g} degrees, on the blocks the turn leaves whole, "
                f"{TURNED_LEVEL_LEAD:g} times nearer than any other"))
        if not len(faint.rows) or (turned and not _LEVEL_TURNS):
            return
        back = _BACK_ORIENTATIONS if self.params_["orientations"] == "all" else (0,)
        open_: list[tuple[int, np.ndarray]] = []
        for index, item in enumerate(queries.items):
            lo, hi = int(q_bounds[index]), int(q_bounds[index + 1])
            # Faint within most blocks: a band or logo over a fifth of a pale sky leaves it faint there.
            thumb = queries.thumbnails[lo]
            faint_within = np.median(block_spread(thumb[None])) < FAINT_STD
            if turned:
                # And faint inside the edge blocks, as its source is all over: a turn fills only
                # corners there (most drawings, faint within their blocks, are not).
                edge = thumb.shape[0] // LEVEL_BLOCKS
                faint_within &= thumb[edge:-edge, edge:-edge].std(dtype=np.float64) < FAINT_STD
            if results[item.id].flagged or not faint_within:
                continue
            # Shifts of a pixel move a block's level by a fraction of its edge: the variants at no
            # shift (orientations, the picture inside a frame) are compared; turned back, those
            # that keep the picture's proportions, as the alignment's retrieval turns them.
            still = ~queries.shifts[lo:hi].any(axis=1)
            if turned:
                still &= np.isin(queries.orientations[lo:hi], back)
            open_.append((index, lo + np.flatnonzero(still)))
        # The product of generated variants by faint training images, a chunk of items at a time
        # (and the variants turned back, each a thumbnail).
        per_item = len(back) * len(_LEVEL_TURNS) if turned else len(_VARIANT_NAMES)
        pixels = queries.thumbnails.shape[1] * queries.thumbnails.shape[2]
        per_chunk = max(1, _LEVEL_CHUNK // (per_item * max(len(faint.rows), pixels)))
        for start in range(0, len(open_), per_chunk):
            chunk = open_[start:start + per_chunk]
            rows = np.concatenate([variants for _, variants in chunk])
            if turned:
                aspects = [queries.sizes[index][0] / queries.sizes[index][1]
                           for index, variants in chunk for _ in variants]
                levels, known = turned_levels(queries.thumbnails[rows], aspects)
                source, turns = np.repeat(rows, len(_LEVEL_TURNS)), np.tile(_LEVEL_TURNS, len(rows))
                distance = level_distance(levels, faint.levels, known)
            else:
                levels = block_levels(queries.thumbnails[rows])
                known, source, turns = np.ones(levels.shape, bool), rows, np.zeros(len(rows))
                distance = level_distance(levels, faint.levels)
            end = 0
            for index, variants in chunk:
                mine = slice(end, end + len(variants) * (len(_LEVEL_TURNS) if turned else 1))
                end = mine.stop
                self._level_confirm(queries, refs, q_bounds, faint, index, (source[mine], turns[mine]),
                                    (levels[mine], known[mine], distance[mine]), results, turned)

    def _level_confirm(self, queries: _Described, refs: _Described, q_bounds: np.ndarray,
                       faint: _FaintLevels, index: int, variants: tuple[np.ndarray, np.ndarray],
                       compared: tuple[np.ndarray, np.ndarray, np.ndarray],
                       results: dict[str, ItemResult], turned: bool) -> None:
        """The level look's match for one generated image (item ``index``), checked in colour:
        ``variants`` are the rows and turns of its variants compared, ``compared`` their block
        levels, known blocks and distances to the faint training images. Its result is replaced
        when a match is confirmed."""
        p = self.params_
        source, turns = variants
        levels, known, distance = compared
        width, height = queries.sizes[index]
        match = level_match(levels, faint, distance, known, TURNED_LEVEL_LEAD if turned else LEVEL_LEAD)
        if match is None:
            return
        item, r = queries.items[index], int(faint.rows[match.index])
        variant, turn = int(source[match.variant]), float(turns[match.variant])
        # The pixel distance on the grey levels, as for every match by hash (over what a turn back
        # kept); the block levels' own distance and confidence stand beside it.
        thumb = queries.thumbnails[[variant]].astype(np.float64)
        mask = border_mask(p["pixel_size"], *queries.margins[index])
        if turned:
            thumb, inside = _turned_inside(thumb, [width / height], [turn])
            thumb[~inside] = thumb[inside].mean()
            mask = mask * inside[0]
        pixel = float(paired_tiled_distance(standardise(thumb), standardise(refs.thumbnails[[r]]), p["tiles"],
                                            mask)[0])
        q_rows = slice(q_bounds[index], q_bounds[index + 1])
        found = self._item_result(
            item, refs.items[r], pixel, *_hash_distances(queries, refs, q_rows, r), False, True,
            queries.shifts[variant], _VARIANT_NAMES[int(queries.orientations[variant])],
            n_candidates=int(results[item.id].evidence.get(HASH_CANDIDATES, 0)),
            hashes=(queries.phash[q_bounds[index]], queries.dhash[q_bounds[index]]), compared_on=LEVELS)
        # The copy is its source turned the other way.
        agreement = _agreement(item, refs.items[r], {
            ORIENTATION: found.evidence[ORIENTATION], ROTATION: -turn, SCALE: 1.0, SHIFT: (0, 0),
            COVERED_REGION: None})
        if not agreement.agree:
            return
        found.evidence.update({
            LEVEL_DISTANCE: round(match.distance, 4),
            NEXT_LEVEL_DISTANCE: round(match.runner_up, 4) if np.isfinite(match.runner_up) else None,
            BLOCKS_LEFT_OUT: match.left_out, CONFIDENCE: confidence(match.distance, faint.spacing),
            COLOUR_AGREEMENT: agreement.to_evidence()})
        if turned:
            found.evidence[ROTATION] = -turn
        results[item.id] = found

    def _window_look(self, check: _PixelCheck, open_: list[int], nearest: Sequence[np.ndarray],
                     results: dict[str, ItemResult], track: Track) -> None:
        """The pixel check's looks for the first :data:`_WINDOW_NEAREST` training images nearest
        by window descriptor (``nearest``, a row per item of ``open_``): a faint or re-toned
        copy's hashes move far, its standardised grid of mean grey levels hardly. As for the
        nearest by hash outside the radius, only a match that stands out from how close training
        images come to each other counts, and, as in the alignment stage, only at most
        ``ALIGN_RATIO`` of the next-closest of these candidates' distance: faint pictures (sky,
        sea) come close to many others once smoothed, a copy to its source alone. Confirmed
        items' results are replaced."""
        queries, refs = check.queries, check.refs
        lists = [row[:_WINDOW_NEAREST] for row in nearest]
        # Items confirmed already keep an empty range.
        bounds = np.zeros(len(queries.items) + 1, np.int64)
        for index, extra in zip(open_, lists):
            bounds[index + 1] = len(extra)
        bounds = np.cumsum(bounds)
        ref = np.concatenate([*lists, np.zeros(0, np.int64)]).astype(np.int64)
        windowed = replace(check, ref=ref, bounds=bounds, hash_match=np.zeros(len(ref), bool),
                           recoloured=None, nearest_as_is=np.ones(len(ref), bool), grain=False)
        todo = [index for index, extra in zip(open_, lists) if len(extra)]
        checked = _spread(_check_pixels, todo, self._workers(len(todo)), track, "Window look",
                          context=windowed)
        for index, (pick, pixel, confirmed, variant, look, _, runner_up, _) in zip(todo, checked):
            if not confirmed or pixel > ALIGN_RATIO * runner_up:
                continue
            item, r = queries.items[index], int(ref[pick])
            rows = slice(check.q_bounds[index], check.q_bounds[index + 1])
            before = results[item.id].evidence
            results[item.id] = self._item_result(
                item, refs.items[r], pixel,
                *_hash_distances(queries, refs, rows, r), False, True,
                queries.shifts[variant], _VARIANT_NAMES[int(queries.orientations[variant])],
                n_candidates=int(before.get(HASH_CANDIDATES, 0)),
                hashes=(queries.phash[check.q_bounds[index]], queries.dhash[check.q_bounds[index]]),
                compared_on=LOOKS[look], spacing=check.spacing)

    def _aligned_result(self, item: Item, match: Item, found: Alignment, size: tuple[int, int],
                        hash_distances: tuple[int, int], hash_evidence: dict[str, Any],
                        stated_confidence: float | None = None, orientation: str = "as is") -> ItemResult:
        # The shift in pixels of the generated image (``size``: turned back from ``orientation``), as
        # the hash stage reports it; the covered region is in that frame too.
        shift = _pixel_shift(found, size)
        evidence: dict[str, Any] = {
            MATCH_ID: match.id, MATCH_SOURCE: match.source, MATCH_LICENSE: match.license,
            MATCH_METHOD: ALIGNED, PIXEL_DISTANCE: round(found.distance, 6),
            ROTATION: found.rotation, SCALE: found.scale, SHIFT: shift,
            MATCHED_REGION: list(found.box), ORIENTATION: orientation,
            COVERED_REGION: list(found.overlay) if found.overlay else None,
            PHASH_DISTANCE: hash_distances[0], DHASH_DISTANCE: hash_distances[1],
            HASH_MATCH: False, HASH_CANDIDATES: hash_evidence.get(HASH_CANDIDATES, 0),
            PHASH: hash_evidence.get(PHASH), DHASH: hash_evidence.get(DHASH),
            COMPARED_ON: ALIGNED_LOOK, CONFIDENCE: stated_confidence,
        }
        return ItemResult(item.id, max(0.0, 1.0 - found.distance), True, evidence)

    def _reference_aligned_spacing(self, refs: _Described, windows: np.ndarray, bands: np.ndarray,
                                   scale: float | None = None) -> np.ndarray:
        """How far apart distinct training images are as the alignment stage measures them: for a
        sample of training images, each aligned as a generated image would be onto the training
        images nearest to it by window descriptor and past a band (itself left out), the distance
        of the closest, sorted. A copy found by alignment is as convincing as it is closer than
        these; where the kind is crowded (digits of one class), the same search brings them close
        and a borderline match states a low confidence. ``scale``: each sampled training image is
        aligned as a copy of it brought down by this scale would be (:func:`reduced_size`).
        A bounded sample, spread over the workers as the alignment stage is."""
        p = self.params_
        n = len(refs.items)
        if n < 2:
            return np.zeros(0)
        sample = np.unique(np.linspace(0, n - 1, min(n, _ALIGNED_SPACING_SAMPLE)).round().astype(np.int64))
        k = min(n, p["alignment_candidates"] + 1)  # one more: the image itself is among them
        nearest = nearest_by_window(query_descriptors(refs.thumbnails[sample]), windows, k)
        past_band = nearest_past_band(bands[sample], bands, min(n, 2))
        tasks = []
        for row, r in enumerate(sample):
            try:
                image = open_image(refs.items[r], mode="L")
            except ItemError:  # read once already; changed since: not measured
                continue
            others = [int(c) for c in dict.fromkeys([*nearest[row].tolist(), *past_band[row].tolist()])
                      if c != r]
            if not others:
                continue
            first = {others[0], *(int(c) for c in past_band[row][:2] if c != r)}
            width, height = image.size
            size = None if scale is None else (max(1, round(width * scale)), max(1, round(height * scale)))
            tasks.append(_AlignTask(int(r), _aligned_thumbnail(image, reduced_size(image.size, size)),
                                    tuple((c, refs.items[c]) for c in others), frozenset(first),
                                    width / height, size))
        aligned = _spread(_align_batch, tasks, self._workers(len(tasks)), no_progress, "Aligned spacing",
                          context=(p["tiles"], {}))
        return np.sort([found.distance for found, *_ in aligned if found is not None])

    def _reference_spacing(self, refs: _Described) -> dict[str, np.ndarray]:
        """How far apart distinct training images are, per look: for a sample of training images,
        the distance to the nearest other training image among its hash neighbours (within a
        radius), sorted. A match is as convincing as it is closer than these; a set holding many
        near-identical images makes every match less so. The value channel, compared on the same
        scale, is measured by the grey levels (reading every training image in colour costs more)."""
        p = self.params_
        n = len(refs.items)
        empty = {GREY: np.zeros(0), SMOOTHED: np.zeros(0), REMAPPED: np.zeros(0), GRAIN: np.zeros(0)}
        if n < 2:
            return empty
        sample = np.unique(np.linspace(0, n - 1, min(n, _SPACING_SAMPLE)).round().astype(np.int64))
        by_p = radius_search(refs.phash[sample], refs.phash, p["phash_radius"])
        by_d = radius_search(refs.dhash[sample], refs.dhash, p["dhash_radius"])
        row = np.concatenate([by_p.query, by_d.query])
        other = np.concatenate([by_p.reference, by_d.reference])
        keys = np.unique(row * n + other)
        row, other = keys // n, keys % n
        keep = sample[row] != other
        row, other = row[keep], other[keep]
        near = hamming_distance(refs.phash[sample[row]], refs.phash[other]) + \
            hamming_distance(refs.dhash[sample[row]], refs.dhash[other])
        grey, smooth, remapped, grain = [], [], [], []
        for r in np.unique(row):
            mine = np.flatnonzero(row == r)
            mine = mine[np.argsort(near[mine], kind="stable")[:_SPACING_NEIGHBOURS]]
            one, others = refs.thumbnails[sample[r]][None], refs.thumbnails[other[mine]]
            grey.append(tiled_distance(standardise(one), standardise(others), p["tiles"]).min())
            smooth.append(smoothed_distance(one, others, p["tiles"]).min())
            remapped.append(remapped_distance(one, others, p["tiles"]).min())
            # Only a faint, grained training image is compared on its grain (-inf: it is not).
            correlation = grain_agreement(others, one)[0].max()
            if np.isfinite(correlation):
                grain.append(np.sqrt(max(0.0, 2.0 - 2.0 * correlation)))
        return {GREY: np.sort(grey), SMOOTHED: np.sort(smooth), REMAPPED: np.sort(remapped),
                GRAIN: np.sort(grain)}

    def _item_result(self, item: Item, match: Item, pixel: float, phash_d: int, dhash_d: int,
                     hash_match: bool, flagged: bool, shift: Iterable[int], orientation: str, *,
                     n_candidates: int, hashes: tuple[np.uint64, np.uint64], compared_on: str = GREY,
                     spacing: dict[str, np.ndarray] | None = None, grain: float | None = None) -> ItemResult:
        # The value channel is on the grey levels' scale, the colour channels matched in histogram on
        # the grey levels matched so; the other looks have their own spacing.
        measured_as = {VALUE: GREY, COLOUR_REMAPPED: REMAPPED}.get(compared_on, compared_on)
        nearest_others = (spacing or {}).get(measured_as, np.zeros(0))
        evidence: dict[str, Any] = {
            MATCH_ID: match.id, MATCH_SOURCE: match.source, MATCH_LICENSE: match.license,
            PIXEL_DISTANCE: round(pixel, 6), PHASH_DISTANCE: phash_d, DHASH_DISTANCE: dhash_d,
            MATCH_METHOD: HASHED, HASH_MATCH: hash_match, HASH_CANDIDATES: n_candidates,
            SHIFT: [int(s) for s in shift], ORIENTATION: orientation,
            PHASH: hash_hex(hashes[0]), DHASH: hash_hex(hashes[1]), COMPARED_ON: compared_on,
            CONFIDENCE: confidence(pixel, nearest_others),
        }
        if grain is not None:
            evidence[GRAIN_AGREEMENT] = grain
        return ItemResult(item.id, max(0.0, 1.0 - pixel), flagged, evidence)
