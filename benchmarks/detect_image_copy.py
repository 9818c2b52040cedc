"""Does the image copy check catch what users call a copy, on images it was not tuned on?

Measures an image evaluator (by default ``image_near_duplicate`` with its default parameters, as
the default policy uses it) and, beside it on the same files in the same run, the anchor:
``imagehash.phash`` of each file as saved (converted to grayscale as imagehash does), with a copy
caught when its pHash is within a Hamming distance of 10 (of 64 bits) of its true training image's.

Image kinds (all built offline from installed packages; nothing is downloaded):

- ``digits``: scikit-learn's digits (UCI "Optical Recognition of Handwritten Digits", CC BY 4.0;
  scikit-learn is BSD-3-Clause), upscaled from 8x8 to 16 px exactly as the demo trains on them
  (``generators.image.data.load_digits_data``, bilinear). The evaluator's defaults were calibrated
  on these; the other kinds are held out. Distinct images are other samples of the same classes.
- ``photos``: the two photographs shipped in scikit-learn (``load_sample_images``: china.jpg and
  flower.jpg, 640x427), cut into non-overlapping 64x64 tiles (6 rows x 10 columns each, 120 in
  all); half of the tiles, drawn at random, are training images, the other half the distinct
  images (other tiles of the same photographs). Licence, from ``sklearn/datasets/images/README.txt``
  in the installed scikit-learn: both "released under a creative commons license", CC BY 2.0
  (creativecommons.org/licenses/by/2.0), china.jpg by danielbuechele on Flickr, flower.jpg from
  flickr.com/photos/vultilion (the README's attribution line for flower.jpg also says
  "danielbuechele", which looks like a copy-and-paste slip). Not verified against the Flickr pages
  (no network here). 120 tiles give at most 60 x 60 = 3,600 distinct-by-training pairs, fewer than
  the 5,000 wanted for a false-positive rate; the output says so.
- ``shapes``: random polygons, ellipses and lines on a plain background, 64x64 RGB, drawn with
  PIL from a seed per image (generated here; no third-party content).
- ``text-flat``: random pseudo-words rendered with PIL's default font on a flat colour (96x64 RGB),
  alternating with flat colour blocks (axis-aligned rectangles, 64x64 RGB), a seed per image.
  PIL's default font with FreeType is Aileron Regular by Sora Sagano (dot-colon), which its author
  released into the public domain (CC0 1.0), as reported by third parties; not verified against
  dot-colon's page (no network here). Pillow itself is MIT-CMU. Images of a single flat colour
  are left out: all of them share one pHash and no detector can tell them apart.
- ``skimage-photos``: the photographs installed with scikit-image 0.26.0 (BSD-3-Clause; installed
  ``--no-deps`` by the Makefile, its files read where pip put them, the package never imported):
  astronaut (NASA, public domain), camera (CC0, Lav Varshney), chelsea (CC0, Stefan van der Walt),
  coffee (CC0, Rachel Michetti), rocket (SpaceX, public domain), hubble_deep_field (NASA, public
  domain) and coins (Brooklyn Museum, no known copyright restrictions), as each image's notes in
  ``skimage/data/_fetchers.py`` state; cut into 64x64 tiles like ``photos`` (488 tiles, after
  leaving out tiles whose grey levels vary by less than 2 of 255: black sky has one pHash), so
  200 x 200 tiles give 40,000 distinct pairs. A fifth kind added after the evaluator's changes were
  made, held out from all of them.
- ``textures`` (a DEVELOPMENT kind, run only when named in ``--kinds``): what photographs hold and
  digits and drawings lack, generated here from a seed per image: a 1/f "cloud" field over a smooth
  gradient with soft discs, coloured between two random colours, its contrast drawn from 2 to 60
  grey levels (a third as faint as sky). Made to tune the photometric looks on (brightness, gamma,
  JPEG, noise on faint and textured pictures) without tuning on the photographs.

Training and distinct images of a kind never share a seed, a digit sample or a tile. Digits the
dataset itself holds twice, pixel for pixel, are counted in the output (there are none today).

Edits (``EDITS``), each a small seeded function applied to a training image to plant a copy:
resize 0.5x, 2x and +10 % width; JPEG at quality 50, 70, 90 (encoded and decoded in memory, then
stored losslessly: the pixels are exactly those the JPEG file decodes to); shift by 1 px and by 5 %
of the shorter side in a random direction (the uncovered band repeats the edge); crops keeping 70 %
and 85 % of the area at a random position, scaled back; flips; rotations by 90, 180, 270 degrees;
rotations by +5 and -10 degrees (counter-clockwise positive, expand=False, corners filled black or
by repeating the edge); grayscale; brightness +-10 % and +-25 %; contrast -20 % and +25 %; gamma 0.7
and 1.4; colour jitter (hue +-4..10 % of the circle, saturation x0.7..1.3); Gaussian noise sigma 3
and 8 (of 255); Gaussian blur radius 1; a caption band (15 % of the height, a word in it); a
logo-like rectangle in a corner; a solid band covering 20 % of the area; a 10 % border in a flat
colour (the image grows); and nine two-edit combinations, five of them a flip or quarter turn with
a crop, a small turn, a caption or a band. Mild edits are marked ``*`` in the
tables. Colour-only edits (grayscale, colour jitter) are not applied to the grayscale digits.

For each kind, the planted copies and the distinct images are one sample set and the training
images the reference set, written as PNG files and manifests into a temporary folder and read back
with ``load_sample_set``, as the CLI would. A copy counts as caught only when the evaluator flags
it *and* names its true training image (``match_id``); the column "other id" counts copies flagged
with another training image. A copy the edit left one flat colour (each of R, G and B spread under
``ERASED_STD``: a pale sky brightened by 25 % is white all over) keeps nothing of its source, for
any detector; the column "erased" counts those, and they are left out of ``n`` and of both
recalls. A distinct image flagged at all is a false positive. The distinct images are also
measured made half size (``--no-halved`` leaves this out), as a generator whose output is smaller
than its training images would make them: the evaluator then compares training images brought
down to the generated image's size, and must not take a blurred look-alike for a copy.

    .venv/bin/python benchmarks/detect_image_copy.py [--per-edit 50] [--train 300] [--distinct 300]
        [--kinds digits,photos,shapes,text-flat,skimage-photos,textures] [--evaluator image_near_duplicate]
        [--param max_pixel_distance=0.25 ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import math
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from aigc_audit.errors import AuditError
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import Evaluator
from aigc_audit.evaluators.evidence import MATCH_ID
from aigc_audit.generators.image.data import DEFAULT_SIZE, DIGITS_LICENSE, load_digits_data
from aigc_audit.images import MIN_SIDE
from aigc_audit.sampleset import IMAGE, REFERENCE, SAMPLES, SampleSet, load_sample_set, write_manifest

PHASH_RADIUS = 10
PHOTO_TILE = 64
SHAPES_SIDE = 64
TEXT_SIZE = (96, 64)
PHOTOS_LICENSE = "CC BY 2.0 (scikit-learn sample images, Flickr: danielbuechele, vultilion)"
# scikit-image's bundled photographs, each public domain or CC0 by its own notes in skimage.data.
SKIMAGE_PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg",
                  "hubble_deep_field.jpg", "coins.png")
SKIMAGE_LICENSE = ("public domain or CC0 (scikit-image sample photographs: NASA, SpaceX, Brooklyn Museum; "
                   "L. Varshney, S. van der Walt, R. Michetti CC0)")
FLAT_STD = 2.0
ERASED_STD = 1.0
GENERATED_LICENSE = "generated by this benchmark (seeded PIL drawing)"

Step = Callable[[Image.Image, np.random.Generator], Image.Image]


# ---- image kinds --------------------------------------------------------------------------------

@dataclass
class Kind:
    name: str
    training: list[Image.Image]
    sources: list[str]
    distinct: list[Image.Image]
    license: str
    colour: bool
    identical: int = 0  # distinct images equal, pixel for pixel, to a training image
    note: str = ""


def digits(n_train: int, n_distinct: int, seed: int) -> Kind:
    data = load_digits_data(size=DEFAULT_SIZE)
    order = np.random.default_rng([seed, 1]).permutation(len(data))
    train, other = order[:n_train], order[n_train:n_train + n_distinct]
    train_pixels = {data.images[i].tobytes() for i in train}
    identical = sum(data.images[i].tobytes() in train_pixels for i in other)
    return Kind("digits", [Image.fromarray(data.images[i], "L") for i in train],
                [data.sources[i] for i in train], [Image.fromarray(data.images[i], "L") for i in other],
                DIGITS_LICENSE, colour=False, identical=identical,
                note=f"{DEFAULT_SIZE} px, the size the demo trains on; the evaluator was tuned on these")


def _tiles(photos: list[tuple[str, np.ndarray]],
           flat_std: float = 0.0) -> tuple[list[Image.Image], list[str], int]:
    """Non-overlapping PHOTO_TILE tiles of each photograph, leaving out those flatter than flat_std."""
    tiles, sources, flat = [], [], 0
    for name, photo in photos:
        height, width = photo.shape[:2]
        for row in range(height // PHOTO_TILE):
            for column in range(width // PHOTO_TILE):
                y, x = row * PHOTO_TILE, column * PHOTO_TILE
                tile = Image.fromarray(photo[y:y + PHOTO_TILE, x:x + PHOTO_TILE])
                # A tile of one colour (black sky) has the pHash of every other one: no detector can
                # tell two of them apart, as with text-flat's single-colour images.
                if np.asarray(tile.convert("L"), dtype=np.float64).std() < flat_std:
                    flat += 1
                    continue
                tiles.append(tile)
                sources.append(f"{name} tile row {row} column {column}")
    return tiles, sources, flat


def _split_tiles(name: str, tiles: list[Image.Image], sources: list[str], flat: int, n_train: int,
                 n_distinct: int, seed: int, stream: int, license: str) -> Kind:
    order = np.random.default_rng([seed, stream]).permutation(len(tiles))
    share = min(n_train, len(tiles) // 2)
    train, other = order[:share], order[share:share + n_distinct]
    note = (f"{len(tiles)} tiles of {PHOTO_TILE} px in all: {len(train)} training, {len(other)} distinct"
            + (f"; {flat} nearly flat tiles left out" if flat else ""))
    return Kind(name, [tiles[i] for i in train], [sources[i] for i in train],
                [tiles[i] for i in other], license, colour=True, note=note)


def photos(n_train: int, n_distinct: int, seed: int) -> Kind:
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    tiles, sources, flat = _tiles([(Path(f).name, photo) for photo, f in zip(bunch.images, bunch.filenames)])
    return _split_tiles("photos", tiles, sources, flat, n_train, n_distinct, seed, 2, PHOTOS_LICENSE)


def skimage_photos(n_train: int, n_distinct: int, seed: int) -> Kind:
    """The photographs in scikit-image's wheel, read as files: the package is never imported."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("scikit-image")
    except PackageNotFoundError:
        raise SystemExit("the skimage-photos kind reads the photographs that come with scikit-image: "
                         "`pip install --no-deps scikit-image==0.26.0`, as make does") from None
    photos = []
    for name in SKIMAGE_PHOTOS:
        with Image.open(files.locate_file(f"skimage/data/{name}")) as image:
            photos.append((name, np.asarray(image.convert("RGB"))))
    tiles, sources, flat = _tiles(photos, FLAT_STD)
    return _split_tiles("skimage-photos", tiles, sources, flat, n_train, n_distinct, seed, 5,
                        SKIMAGE_LICENSE)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _luma(colour: tuple[int, int, int]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _contrasting(rng: np.random.Generator, background: tuple[int, int, int]) -> tuple[int, int, int]:
    while True:
        colour = _colour(rng)
        if abs(_luma(colour) - _luma(background)) >= 80:
            return colour


def shape_image(rng: np.random.Generator, side: int = SHAPES_SIDE) -> Image.Image:
    """2 to 5 polygons, ellipses and lines on a plain background."""
    image = Image.new("RGB", (side, side), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        shape = int(rng.integers(3))
        if shape == 0:
            points = [tuple(int(v) for v in rng.integers(0, side, 2)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(points, fill=_colour(rng))
        elif shape == 1:
            x, y = (int(v) for v in rng.integers(-side // 4, side, 2))
            w, h = (int(v) for v in rng.integers(side // 8, side * 2 // 3, 2))
            draw.ellipse((x, y, x + w, y + h), fill=_colour(rng))
        else:
            ends = [int(v) for v in rng.integers(0, side, 4)]
            draw.line(ends, fill=_colour(rng), width=int(rng.integers(1, 5)))
    return image


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(1, size))


def _word(rng: np.random.Generator, low: int = 3, high: int = 9) -> str:
    return "".join(rng.choice(list(string.ascii_lowercase), int(rng.integers(low, high))))


def text_image(rng: np.random.Generator, size: tuple[int, int] = TEXT_SIZE) -> Image.Image:
    """1 to 3 lines of random pseudo-words in PIL's default font on a flat colour."""
    background = _colour(rng)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    font_size = int(rng.integers(11, 19))
    ink = _contrasting(rng, background)
    y = int(rng.integers(0, 8))
    for _ in range(int(rng.integers(1, 4))):
        x, line = int(rng.integers(0, 12)), _word(rng)
        for _ in range(int(rng.integers(0, 3))):  # more words while they fit the width
            longer = f"{line} {_word(rng, 2, 7)}"
            if x + draw.textlength(longer, font=_font(font_size)) <= size[0]:
                line = longer
        draw.text((x, y), line, fill=ink, font=_font(font_size))
        y += font_size + int(rng.integers(1, 6))
    return image


def block_image(rng: np.random.Generator, side: int = SHAPES_SIDE) -> Image.Image:
    """A flat background with 1 to 4 axis-aligned rectangles of flat colour."""
    image = Image.new("RGB", (side, side), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 5))):
        x0, y0 = (int(v) for v in rng.integers(0, side - 8, 2))
        x1, y1 = x0 + int(rng.integers(8, side - x0 + 1)), y0 + int(rng.integers(8, side - y0 + 1))
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=_colour(rng))
    return image


def _generated(name: str, make: Callable[[int, np.random.Generator], Image.Image], n_train: int,
               n_distinct: int, seed: int, stream: int, note: str) -> Kind:
    images = [make(i, np.random.default_rng([seed, stream, i])) for i in range(n_train + n_distinct)]
    return Kind(name, images[:n_train], [f"{name} seed ({seed}, {stream}, {i})" for i in range(n_train)],
                images[n_train:], GENERATED_LICENSE, colour=True, note=note)


def shapes(n_train: int, n_distinct: int, seed: int) -> Kind:
    return _generated("shapes", lambda i, rng: shape_image(rng), n_train, n_distinct, seed, 3,
                      f"{SHAPES_SIDE} px RGB, polygons, ellipses and lines")


def texture_image(rng: np.random.Generator, side: int = SHAPES_SIDE) -> Image.Image:
    """What photographs hold and digits and drawings lack: a 1/f "cloud" field (spectral exponent
    1.5 to 2.5) over a smooth linear gradient, with 0 to 2 soft-edged discs, coloured along a line
    between two random colours. The contrast is drawn log-uniformly from 2 to 60 grey levels
    (standard deviation), so about a third of the images are as faint as a tile of sky or sea."""
    fy, fx = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij")
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    spectrum = radius ** -rng.uniform(1.5, 2.5) * np.exp(2j * np.pi * rng.random((side, side)))
    spectrum[0, 0] = 0.0
    field = np.fft.ifft2(spectrum).real
    field /= field.std()
    yy, xx = np.mgrid[0:side, 0:side] / side
    angle = rng.uniform(0, 2 * np.pi)
    field += rng.uniform(0.0, 2.0) * (np.cos(angle) * xx + np.sin(angle) * yy - 0.5) * 3.5
    for _ in range(int(rng.integers(0, 3))):
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.08, 0.25)
        soft = 1.0 / (1.0 + np.exp((np.hypot(xx - cx, yy - cy) - r) * side / 2.0))
        field += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.5) * soft
    field = (field - field.mean()) / field.std()
    contrast = float(np.exp(rng.uniform(np.log(2.0), np.log(60.0))))
    start, end = np.array(_colour(rng), float), np.array(_colour(rng), float)
    direction = end - start
    luma = abs(_luma(tuple(direction)))
    # The grey-level spread is ``contrast``: the field scales the step from one colour to the other.
    step = contrast / max(luma, 8.0)
    centre = rng.uniform(0.2, 0.8) * start + (1 - rng.uniform(0.2, 0.8)) * end
    pixels = centre[None, None, :] + (field * step)[..., None] * direction[None, None, :]
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def textures(n_train: int, n_distinct: int, seed: int) -> Kind:
    """A DEVELOPMENT kind: generated here to tune the photometric looks on, in place of photographs."""
    return _generated("textures", lambda i, rng: texture_image(rng), n_train, n_distinct, seed, 6,
                      f"{SHAPES_SIDE} px RGB, 1/f clouds over smooth gradients with soft discs, 2 to 60 "
                      "grey levels of contrast; a development kind (tuned on)")


def text_flat(n_train: int, n_distinct: int, seed: int) -> Kind:
    return _generated("text-flat", lambda i, rng: text_image(rng) if i % 2 == 0 else block_image(rng),
                      n_train, n_distinct, seed, 4,
                      f"text at {TEXT_SIZE[0]}x{TEXT_SIZE[1]} and colour blocks at {SHAPES_SIDE} px, "
                      "alternating")


KINDS: dict[str, Callable[[int, int, int], Kind]] = {"digits": digits, "photos": photos, "shapes": shapes,
                                                     "text-flat": text_flat, "skimage-photos": skimage_photos,
                                                     "textures": textures}
# Kinds made to tune on, not to report on: run only when named in --kinds.
DEVELOPMENT_KINDS = ("textures",)


# ---- edits --------------------------------------------------------------------------------------

def _black(image: Image.Image) -> int | tuple[int, ...]:
    return 0 if image.mode == "L" else (0,) * len(image.getbands())


def _fill(image: Image.Image, rng: np.random.Generator) -> int | tuple[int, int, int]:
    colour = _colour(rng)
    return int(round(_luma(colour))) if image.mode == "L" else colour


def resize(image: Image.Image, rng: np.random.Generator, *, fx: float,
           fy: float | None = None) -> Image.Image:
    width, height = image.size
    fy = fx if fy is None else fy
    return image.resize((max(MIN_SIDE, round(width * fx)), max(MIN_SIDE, round(height * fy))),
                        Image.Resampling.BICUBIC)


def jpeg(image: Image.Image, rng: np.random.Generator, *, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        return decoded.copy()


def shift(image: Image.Image, rng: np.random.Generator, *, pixels: int | None = None,
          fraction: float | None = None) -> Image.Image:
    """Content moved by ``pixels`` (or ``fraction`` of the shorter side) in one of 8 directions."""
    k = pixels if pixels is not None else max(1, round((fraction or 0.0) * min(image.size)))
    directions = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    dx, dy = directions[int(rng.integers(len(directions)))]
    array = np.asarray(image)
    padded = np.pad(array, ((k, k), (k, k)) + ((0, 0),) * (array.ndim - 2), mode="edge")
    height, width = array.shape[:2]
    return Image.fromarray(padded[k - dy * k:k - dy * k + height, k - dx * k:k - dx * k + width])


def crop(image: Image.Image, rng: np.random.Generator, *, area: float) -> Image.Image:
    width, height = image.size
    w, h = round(width * math.sqrt(area)), round(height * math.sqrt(area))
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    return image.crop((x, y, x + w, y + h)).resize((width, height), Image.Resampling.BICUBIC)


def mirror(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(image)


def flip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.flip(image)


_QUARTER_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                  270: Image.Transpose.ROTATE_270}


def quarter_turn(image: Image.Image, rng: np.random.Generator, *, degrees: int) -> Image.Image:
    return image.transpose(_QUARTER_TURNS[degrees])


def rotate(image: Image.Image, rng: np.random.Generator, *, degrees: float, fill: str) -> Image.Image:
    """Rotated about the centre, same size; corners ``black`` or repeating the edge (``edge``)."""
    if fill == "black":
        return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=_black(image))
    width, height = image.size
    k = max(width, height) // 2 + 1
    array = np.asarray(image)
    padded = Image.fromarray(np.pad(array, ((k, k), (k, k)) + ((0, 0),) * (array.ndim - 2), mode="edge"))
    turned = padded.rotate(degrees, resample=Image.Resampling.BICUBIC)
    return turned.crop((k, k, k + width, k + height))


def grayscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.convert("L")


def brightness(image: Image.Image, rng: np.random.Generator, *, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def contrast(image: Image.Image, rng: np.random.Generator, *, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(image).enhance(factor)


def gamma(image: Image.Image, rng: np.random.Generator, *, value: float) -> Image.Image:
    table = [round(255 * (v / 255) ** value) for v in range(256)]
    return image.point(table * len(image.getbands()))


def colour_jitter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Hue turned by 4 to 10 % of the circle either way, saturation scaled by 0.7 to 1.3."""
    hsv = np.asarray(image.convert("RGB").convert("HSV")).astype(np.float64)
    hue = rng.uniform(0.04, 0.10) * rng.choice([-1, 1]) * 256
    hsv[..., 0] = np.mod(hsv[..., 0] + hue, 256)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.3), 0, 255)
    return Image.fromarray(np.rint(hsv).astype(np.uint8), "HSV").convert("RGB")


def noise(image: Image.Image, rng: np.random.Generator, *, sigma: float) -> Image.Image:
    array = np.asarray(image).astype(np.float64)
    noisy = array + rng.normal(0.0, sigma, array.shape)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), image.mode)


def blur(image: Image.Image, rng: np.random.Generator, *, radius: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def caption(image: Image.Image, rng: np.random.Generator, *, height: float = 0.15) -> Image.Image:
    """A dark band along the bottom with a light word in it, as a caption."""
    out = image.copy()
    width, full = out.size
    band = max(2, round(height * full))
    draw = ImageDraw.Draw(out)
    dark, light = (20, 235) if out.mode == "L" else ((20, 20, 20), (235, 235, 235))
    draw.rectangle((0, full - band, width - 1, full - 1), fill=dark)
    draw.text((max(1, width // 16), full - band), _word(rng, 4, 10), fill=light,
              font=_font(round(band * 0.85)))
    return out


def logo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A rectangle of 25 % x 15 % of the sides in a random corner, with a disc inside."""
    out = image.copy()
    width, height = out.size
    w, h = max(2, round(0.25 * width)), max(2, round(0.15 * height))
    margin_x, margin_y = round(0.05 * width), round(0.05 * height)
    x = margin_x if rng.integers(2) else width - margin_x - w
    y = margin_y if rng.integers(2) else height - margin_y - h
    draw = ImageDraw.Draw(out)
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=_fill(out, rng))
    draw.ellipse((x + w // 4, y + h // 4, x + w - 1 - w // 4, y + h - 1 - h // 4), fill=_fill(out, rng))
    return out


def solid_band(image: Image.Image, rng: np.random.Generator, *, area: float) -> Image.Image:
    """A flat band across the image, horizontal or vertical, covering ``area`` of it."""
    out = image.copy()
    width, height = out.size
    draw = ImageDraw.Draw(out)
    if rng.integers(2):
        h = max(1, round(area * height))
        y = int(rng.integers(0, height - h + 1))
        draw.rectangle((0, y, width - 1, y + h - 1), fill=_fill(out, rng))
    else:
        w = max(1, round(area * width))
        x = int(rng.integers(0, width - w + 1))
        draw.rectangle((x, 0, x + w - 1, height - 1), fill=_fill(out, rng))
    return out


def border(image: Image.Image, rng: np.random.Generator, *, fraction: float) -> Image.Image:
    width, height = image.size
    bx, by = max(1, round(fraction * width)), max(1, round(fraction * height))
    return ImageOps.expand(image, border=(bx, by, bx, by), fill=_fill(image, rng))


@dataclass(frozen=True)
class Edit:
    name: str
    steps: tuple[Step, ...]
    mild: bool = False
    colour_only: bool = False  # meaningless on a grayscale image

    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        for step in self.steps:
            image = step(image, rng)
        return image

    @property
    def label(self) -> str:
        return f"{self.name} *" if self.mild else self.name


def _edit(name: str, *steps: Step, mild: bool = False, colour_only: bool = False) -> Edit:
    return Edit(name, steps, mild=mild, colour_only=colour_only)


EDITS: tuple[Edit, ...] = (
    _edit("resize 0.5x", partial(resize, fx=0.5), mild=True),
    _edit("resize 2x", partial(resize, fx=2.0), mild=True),
    _edit("aspect +10 % (width)", partial(resize, fx=1.1, fy=1.0), mild=True),
    _edit("JPEG q50", partial(jpeg, quality=50)),
    _edit("JPEG q70", partial(jpeg, quality=70), mild=True),
    _edit("JPEG q90", partial(jpeg, quality=90), mild=True),
    _edit("shift 1 px", partial(shift, pixels=1), mild=True),
    _edit("shift 5 % of side", partial(shift, fraction=0.05)),
    _edit("crop 85 % area", partial(crop, area=0.85)),
    _edit("crop 70 % area", partial(crop, area=0.70)),
    _edit("flip horizontal", mirror),
    _edit("flip vertical", flip),
    _edit("rotate 90", partial(quarter_turn, degrees=90)),
    _edit("rotate 180", partial(quarter_turn, degrees=180)),
    _edit("rotate 270", partial(quarter_turn, degrees=270)),
    _edit("rotate +5 black fill", partial(rotate, degrees=5, fill="black")),
    _edit("rotate +5 edge fill", partial(rotate, degrees=5, fill="edge")),
    _edit("rotate -10 black fill", partial(rotate, degrees=-10, fill="black")),
    _edit("rotate -10 edge fill", partial(rotate, degrees=-10, fill="edge")),
    _edit("grayscale", grayscale, colour_only=True),
    _edit("brightness +10 %", partial(brightness, factor=1.10), mild=True),
    _edit("brightness -10 %", partial(brightness, factor=0.90), mild=True),
    _edit("brightness +25 %", partial(brightness, factor=1.25)),
    _edit("brightness -25 %", partial(brightness, factor=0.75)),
    _edit("contrast -20 %", partial(contrast, factor=0.80)),
    _edit("contrast +25 %", partial(contrast, factor=1.25)),
    _edit("gamma 0.7", partial(gamma, value=0.7)),
    _edit("gamma 1.4", partial(gamma, value=1.4)),
    _edit("colour jitter", colour_jitter, colour_only=True),
    _edit("noise sigma 3", partial(noise, sigma=3.0), mild=True),
    _edit("noise sigma 8", partial(noise, sigma=8.0)),
    _edit("blur radius 1", partial(blur, radius=1.0)),
    _edit("caption band 15 %", caption),
    _edit("logo rectangle", logo),
    _edit("solid band 20 %", partial(solid_band, area=0.20)),
    _edit("border 10 %", partial(border, fraction=0.10)),
    _edit("flip + JPEG q70", mirror, partial(jpeg, quality=70)),
    _edit("crop 85 % + bright +10 %", partial(crop, area=0.85), partial(brightness, factor=1.10)),
    _edit("rotate +5 + noise 3", partial(rotate, degrees=5, fill="black"), partial(noise, sigma=3.0)),
    _edit("caption + resize 0.5x", caption, partial(resize, fx=0.5)),
    # A flip or quarter turn with a second edit (added after the four above; the rows above keep
    # their random draws).
    _edit("flip + crop 85 %", mirror, partial(crop, area=0.85)),
    _edit("flip + crop 70 %", mirror, partial(crop, area=0.70)),
    _edit("flip vertical + rotate +5", flip, partial(rotate, degrees=5, fill="edge")),
    _edit("rotate 90 + caption", partial(quarter_turn, degrees=90), caption),
    _edit("rotate 180 + band 20 %", partial(quarter_turn, degrees=180), partial(solid_band, area=0.20)),
)


# ---- sets, the evaluator and the anchor ---------------------------------------------------------

def write_set(folder: Path, images: list[Image.Image], ids: list[str], role: str, *,
              sources: list[str] | None = None, license: str | None = None) -> tuple[SampleSet, list[Path]]:
    """PNG files and a manifest in ``folder``, read back as the CLI reads a set."""
    folder.mkdir(parents=True)
    records, paths = [], []
    for index, (image, item_id) in enumerate(zip(images, ids)):
        name = f"{index:05d}.png"
        image.save(folder / name, format="PNG")
        paths.append(folder / name)
        record: dict[str, Any] = {"id": item_id, "modality": IMAGE, "path": name}
        if role == REFERENCE:
            record.update(source=sources[index] if sources else item_id, license=license)
        records.append(record)
    write_manifest(folder, records)
    return load_sample_set(folder, role=role), paths


def phash_bits(paths: list[Path]) -> np.ndarray:
    """(N, 64) bool: imagehash's pHash of each file as saved."""
    bits = []
    for path in paths:
        with Image.open(path) as image:
            bits.append(imagehash.phash(image).hash.ravel())
    return np.stack(bits)


@dataclass
class KindResult:
    kind: Kind
    # edit -> (n, ours caught, ours other id, pHash caught, erased: left out of n)
    rows: dict[str, tuple[int, int, int, int, int]]
    distinct_ours: int
    # The distinct images made half size, ours and pHash's (None: not measured).
    distinct_halved_ours: int | None
    distinct_halved_phash: int | None
    distinct_phash: int
    phash_pairs: int
    errors: int
    seconds_build: float
    seconds_evaluator: float
    seconds_phash: float


def measure(kind: Kind, evaluator: Evaluator, per_edit: int, seed: int, kind_index: int,
            chosen: frozenset[str] | None = None, halved: bool = True) -> KindResult:
    started = time.perf_counter()
    n_train = len(kind.training)
    train_ids = [f"train-{i:04d}" for i in range(n_train)]
    copies, truth, edit_of = [], [], []
    for e, edit in enumerate(EDITS):
        if edit.colour_only and not kind.colour or chosen is not None and edit.name not in chosen:
            continue
        rng = np.random.default_rng([seed, 100 + kind_index, e])
        sources = rng.choice(n_train, per_edit, replace=per_edit > n_train)
        for source in sources:
            copies.append(edit.apply(kind.training[int(source)], rng))
            truth.append(int(source))
            edit_of.append(edit.name)
    halves = [resize(image, None, fx=0.5) for image in kind.distinct] if halved else []
    sample_images = copies + kind.distinct + halves
    sample_ids = ([f"copy-{i:05d}" for i in range(len(copies))]
                  + [f"distinct-{i:04d}" for i in range(len(kind.distinct))]
                  + [f"halved-{i:04d}" for i in range(len(halves))])
    with tempfile.TemporaryDirectory(prefix=f"detect-image-copy-{kind.name}-") as tmp:
        reference, train_paths = write_set(Path(tmp) / "reference", kind.training, train_ids, REFERENCE,
                                           sources=kind.sources, license=kind.license)
        samples, sample_paths = write_set(Path(tmp) / "samples", sample_images, sample_ids, SAMPLES)
        built = time.perf_counter()
        evaluation = evaluator.evaluate(samples, reference)
        evaluated = time.perf_counter()
        train_bits, sample_bits = phash_bits(train_paths), phash_bits(sample_paths)
    results = {r.item_id: r for r in evaluation.items}
    n_copies = len(copies)
    phash_to_truth = (sample_bits[:n_copies] != train_bits[truth]).sum(axis=1) if n_copies else np.zeros(0)
    n_distinct = len(kind.distinct)
    distinct_d = (sample_bits[n_copies:n_copies + n_distinct, None, :] != train_bits[None, :, :]).sum(axis=2)
    halved_d = (sample_bits[n_copies + n_distinct:, None, :] != train_bits[None, :, :]).sum(axis=2)
    phashed = time.perf_counter()

    rows: dict[str, list[int]] = {}
    for i, (name, source) in enumerate(zip(edit_of, truth)):
        row = rows.setdefault(name, [0, 0, 0, 0, 0])
        if (np.asarray(copies[i].convert("RGB"), np.float64).reshape(-1, 3).std(axis=0) < ERASED_STD).all():
            row[4] += 1
            continue
        result = results.get(sample_ids[i])
        flagged = result is not None and result.flagged
        right = flagged and result.evidence.get(MATCH_ID) == train_ids[source]
        row[0] += 1
        row[1] += right
        row[2] += flagged and not right
        row[3] += bool(phash_to_truth[i] <= PHASH_RADIUS)

    def flagged(ids: list[str]) -> int:
        return sum(bool(results.get(i) and results[i].flagged) for i in ids)

    distinct_ours = flagged(sample_ids[n_copies:n_copies + n_distinct])
    return KindResult(
        kind, {name: tuple(row) for name, row in rows.items()}, distinct_ours,
        flagged(sample_ids[n_copies + n_distinct:]) if halved else None,
        int((halved_d.min(axis=1, initial=64) <= PHASH_RADIUS).sum()) if halved else None,
        int((distinct_d.min(axis=1, initial=64) <= PHASH_RADIUS).sum()),
        int((distinct_d <= PHASH_RADIUS).sum()),
        len(evaluation.errors), built - started, evaluated - built, phashed - evaluated)


# ---- output -------------------------------------------------------------------------------------

def _share(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.2f} %)" if total else "0/0"


def print_kind(result: KindResult, evaluator_name: str, chosen: frozenset[str] | None = None) -> None:
    kind = result.kind
    n_train, n_distinct = len(kind.training), len(kind.distinct)
    print(f"\n## {kind.name}: {n_train} training, {n_distinct} distinct images; {kind.note}")
    print(f"   licence: {kind.license}")
    print(f"   build {result.seconds_build:.1f} s, {evaluator_name} {result.seconds_evaluator:.1f} s, "
          f"pHash anchor {result.seconds_phash:.1f} s")
    width = max(len(e.label) for e in EDITS) + 2
    print(f"{'edit (* mild)':{width}} {'n':>4} {'ours':>7} {'other id':>9} {'pHash<=10':>10} {'erased':>7}")
    for edit in EDITS:
        row = result.rows.get(edit.name)
        if chosen is not None and edit.name not in chosen:
            continue
        if row is None:
            print(f"{edit.label:{width}} {'-':>4} {'n/a (grayscale kind)':>28}")
            continue
        n, ours, other, anchor, erased = row
        if not n:
            print(f"{edit.label:{width}} {n:4d} {'-':>7} {other:9d} {'-':>10} {erased:7d}")
            continue
        print(f"{edit.label:{width}} {n:4d} {ours / n:7.3f} {other:9d} {anchor / n:10.3f} {erased:7d}")
    pairs = n_train * n_distinct
    few = "" if pairs >= 5000 else " (fewer than the 5,000 wanted)"
    print(f"false positives on distinct images, {pairs:,} pairs tried ({n_distinct} x {n_train}){few}:")
    print(f"   ours:      {_share(result.distinct_ours, n_distinct)} items flagged")
    print(f"   pHash<=10: {_share(result.distinct_phash, n_distinct)} items flagged; "
          f"{result.phash_pairs} of {pairs:,} pairs within {PHASH_RADIUS} "
          f"({100 * result.phash_pairs / max(pairs, 1):.3f} %)")
    if result.distinct_halved_ours is not None:
        print(f"   made half size: ours {_share(result.distinct_halved_ours, n_distinct)}, pHash<=10 "
              f"{_share(result.distinct_halved_phash, n_distinct)} items flagged")
    if kind.identical:
        print(f"   ({kind.identical} distinct image(s) equal a training image pixel for pixel in the "
              "source data)")
    if result.errors:
        print(f"   {result.errors} sample image(s) could not be read by the evaluator (counted as not "
              "flagged)")


def print_summary(results: list[KindResult]) -> None:
    print("\n## minimum recall per edit across kinds (the kind that sets it in brackets)")
    width = max(len(e.label) for e in EDITS) + 2
    print(f"{'edit (* mild)':{width}} {'ours':>7} {'':11} {'pHash<=10':>10}")
    for edit in EDITS:
        cells = []
        for column in (1, 3):
            scores = [(r.rows[edit.name][column] / r.rows[edit.name][0], r.kind.name)
                      for r in results if edit.name in r.rows and r.rows[edit.name][0]]
            cells.append(min(scores) if scores else None)
        if cells[0] is None:
            continue
        (ours, ours_kind), (anchor, anchor_kind) = cells
        print(f"{edit.label:{width}} {ours:7.3f} {'(' + ours_kind + ')':11} {anchor:10.3f} ({anchor_kind})")


def _params(cls: type[Evaluator], given: list[str]) -> dict[str, Any]:
    declared = {p.name: p for p in cls.params}
    params: dict[str, Any] = {}
    for text in given:
        name, _, value = text.partition("=")
        if name not in declared:
            raise ValueError(f"--param {text!r}: {cls.name} has no parameter {name!r}; valid ones are "
                             f"{sorted(declared)}")
        kind = declared[name].kind
        try:
            params[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        except ValueError:
            raise ValueError(f"--param {text!r}: {name} takes a {kind.__name__}; got {value!r}") from None
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-edit", type=int, default=50, help="planted copies per edit per kind")
    parser.add_argument("--train", type=int, default=300,
                        help="training images per kind (photos: at most 60 of its 120 tiles)")
    parser.add_argument("--distinct", type=int, default=300, help="distinct same-kind images per kind")
    parser.add_argument("--kinds", default=",".join(k for k in KINDS if k not in DEVELOPMENT_KINDS),
                        help=f"comma-separated, of {list(KINDS)}; default: all but the development kinds "
                        f"{list(DEVELOPMENT_KINDS)}")
    parser.add_argument("--evaluator", default="image_near_duplicate",
                        help=f"a registered evaluator; one of {registry.names()}")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="an evaluator parameter (repeatable); default: the evaluator's defaults")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--edits", help="only the edits whose names contain one of these comma-separated "
                        "words (e.g. 'caption,logo,band'); default: all")
    parser.add_argument("--no-halved", dest="halved", action="store_false",
                        help="leave out the distinct images made half size")
    args = parser.parse_args()
    for option in ("per_edit", "train", "distinct"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1; got {getattr(args, option)}")
    unknown = [k for k in args.kinds.split(",") if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; valid kinds are {list(KINDS)}")
    try:
        cls = registry.get(args.evaluator)
        if IMAGE not in cls.modalities or not cls.needs_reference:
            parser.error(f"{args.evaluator} does not compare images with a reference set")
        evaluator = cls(**_params(cls, args.param))
    except (AuditError, ValueError) as error:
        parser.error(str(error))
    chosen = None
    if args.edits:
        words = [w.strip() for w in args.edits.split(",") if w.strip()]
        chosen = frozenset(e.name for e in EDITS if any(w in e.name for w in words))
        if not chosen:
            parser.error(f"--edits {args.edits!r} names no edit; edits are {[e.name for e in EDITS]}")
    started = time.perf_counter()
    print(f"evaluator {cls.name} with {evaluator.params_}; anchor: imagehash.phash, "
          f"Hamming <= {PHASH_RADIUS}")
    print(f"{args.per_edit} planted copies per edit per kind; seed {args.seed}")
    results = []
    for name in args.kinds.split(","):
        kind = KINDS[name](args.train, args.distinct, args.seed)
        results.append(measure(kind, evaluator, args.per_edit, args.seed, list(KINDS).index(name), chosen,
                               args.halved))
        print_kind(results[-1], cls.name, chosen)
    print_summary(results)
    print(f"\ntotal wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
