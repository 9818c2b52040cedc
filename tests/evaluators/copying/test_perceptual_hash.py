import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aigc_audit.evaluators.copying.perceptual_hash import (
    dhash_from_pixels,
    hash_hex,
    pack_bits,
    pass_order,
    perceptual_hashes,
    phash_from_pixels,
    resize_gray,
    unpack_bits,
)


def _images() -> list[Image.Image]:
    """Digits-like small images, random RGB and grayscale of odd sizes, flat and binary images
    (where the pHash median sits on ties), and modes imagehash converts itself."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    digits = load_digits().images[:60]
    bilinear = Image.Resampling.BILINEAR
    images = [Image.fromarray(np.rint(d * 255 / 16).astype(np.uint8)).resize((16, 16), bilinear)
              for d in digits]
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(4, 120, 2))
        images.append(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB"))
        images.append(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"))
        images.append(Image.new("L", (w, h), int(rng.integers(0, 256))))
        images.append(Image.fromarray((rng.integers(0, 2, (h, w)) * 255).astype(np.uint8)))
    images.append(Image.fromarray(rng.integers(0, 256, (20, 30, 4), dtype=np.uint8), "RGBA"))
    images.append(Image.new("RGB", (50, 40), (10, 200, 30)).convert("P"))
    return images


def test_hashes_identical_to_imagehash_for_the_same_image():
    images = _images()
    phash, dhash = perceptual_hashes(images)
    assert phash.dtype == np.uint64 and dhash.dtype == np.uint64 and len(phash) == len(images)
    for index, image in enumerate(images):
        assert hash_hex(phash[index]) == str(imagehash.phash(image)), index
        assert hash_hex(dhash[index]) == str(imagehash.dhash(image)), index
        assert int(phash[index]) == int(str(imagehash.phash(image)), 16)


def test_batch_size_does_not_change_a_hash():
    images = _images()[:30]
    together = perceptual_hashes(images)
    alone = [perceptual_hashes([image]) for image in images]
    assert list(together[0]) == [p[0] for p, _ in alone]
    assert list(together[1]) == [d[0] for _, d in alone]


@pytest.mark.parametrize("step_cells", [1, 3000, 1 << 16])
def test_steps_within_a_batch_do_not_change_a_hash(monkeypatch, step_cells):
    """Many images of one size, hashed in steps of one image, of a few, and of the default."""
    import aigc_audit.evaluators.copying.perceptual_hash as module

    monkeypatch.setattr(module, "_STEP_CELLS", step_cells)
    rng = np.random.default_rng(2)
    images = [Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)) for _ in range(70)]
    images += [Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), "RGB") for _ in range(30)]
    phash, dhash = perceptual_hashes(images)
    assert [hash_hex(v) for v in phash] == [str(imagehash.phash(i)) for i in images]
    assert [hash_hex(v) for v in dhash] == [str(imagehash.dhash(i)) for i in images]


def test_bit_order_is_imagehash_order():
    bits = np.zeros((2, 64), bool)
    bits[0, 0] = True           # first bit of the 8x8 matrix: the most significant
    bits[1, [1, 63]] = True
    packed = pack_bits(bits)
    assert int(packed[0]) == 1 << 63 and int(packed[1]) == (1 << 62) + 1
    assert hash_hex(packed[1]) == str(imagehash.ImageHash(bits[1].reshape(8, 8)))
    random = np.random.default_rng(1).integers(0, 2, (50, 64)).astype(bool)
    assert (unpack_bits(pack_bits(random)) == random).all()


def test_known_dhash_by_hand():
    # Left-to-right increasing in every row: every "right brighter than left" bit is set.
    rising = np.tile(np.arange(9, dtype=np.uint8) * 20, (8, 1))[None]
    assert int(dhash_from_pixels(rising)[0]) == (1 << 64) - 1
    assert int(dhash_from_pixels(rising[:, :, ::-1])[0]) == 0
    assert perceptual_hashes([])[0].shape == (0,)


@pytest.mark.parametrize("call, shape, message", [
    (phash_from_pixels, (2, 16, 16), r"\(N, 32, 32\) array of pixels; got shape \(2, 16, 16\)"),
    (dhash_from_pixels, (8, 9), r"\(N, 8, 9\) array of pixels; got shape \(8, 9\)"),
    (pack_bits, (3, 32), r"\(N, 64\) boolean array; got shape \(3, 32\)"),
])
def test_wrong_shapes_are_refused_with_the_expected_shape(call, shape, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros(shape, np.uint8))


def test_batched_resize_is_pillows_lanczos_bit_for_bit_in_both_pass_orders():
    """Sizes up and down, odd, one axis unchanged, and tall images that Pillow resizes vertically
    first."""
    rng = np.random.default_rng(5)
    shapes = [(16, 16, 32, 32), (49, 92, 32, 32), (92, 49, 32, 32), (5, 300, 9, 8), (200, 31, 9, 8),
              (32, 70, 32, 32), (70, 32, 32, 32), (3, 3, 32, 32)]
    shapes += [tuple(int(v) for v in rng.integers(3, 150, 2)) + (32, 32) for _ in range(10)]
    orders = set()
    for width, height, out_w, out_h in shapes:
        pixels = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
        ours = resize_gray(pixels, (out_w, out_h))
        theirs = np.stack([np.asarray(Image.fromarray(p).resize((out_w, out_h), Image.Resampling.LANCZOS))
                           for p in pixels])
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{width}x{height} -> {out_w}x{out_h}")
        orders.add(pass_order((width, height), (out_w, out_h)))
    assert "horizontal" in orders and None not in orders


def test_resize_refuses_what_is_not_a_uint8_stack():
    with pytest.raises(ValueError, match=r"\(N, H, W\) uint8 array; got float64 \(2, 3\)"):
        resize_gray(np.zeros((2, 3)), (32, 32))


def _assert_imagehash(images: list[Image.Image]) -> None:
    phash, dhash = perceptual_hashes(images)
    assert [hash_hex(v) for v in phash] == [str(imagehash.phash(i)) for i in images]
    assert [hash_hex(v) for v in dhash] == [str(imagehash.dhash(i)) for i in images]


def _photo_tiles() -> list[Image.Image]:
    """Tiles of the two photos scikit-learn ships, square and not, 16 to 256 px, several of each
    size (so they are hashed as a batch), in colour and in the modes imagehash converts."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8 photos
    tiles = []
    for k, (width, height) in enumerate([(16, 16), (28, 28), (32, 32), (48, 20), (20, 70), (64, 64),
                                         (100, 37), (128, 128), (200, 90), (256, 256), (256, 171)]):
        for j in range(4):
            photo = photos[(k + j) % 2]
            top, left = (37 * j + 11 * k) % (427 - height), (53 * j + 7 * k) % (640 - width)
            tiles.append(Image.fromarray(photo[top:top + height, left:left + width]))
    tiles += [tile.convert(mode) for tile, mode in zip(tiles[::5], ["L", "RGBA", "P", "LA", "1", "I;16"] * 9)]
    return tiles


def test_photo_tiles_of_many_sizes_and_modes_hash_as_imagehash():
    tiles = _photo_tiles()
    assert {t.mode for t in tiles} >= {"RGB", "L", "RGBA", "P", "LA", "1", "I;16"}
    _assert_imagehash(tiles)


def test_flat_and_symmetric_images_take_scipys_dct_and_others_do_not(monkeypatch):
    """Where the pHash median ties (flat images; mirror images, whose odd frequencies are zero),
    the last bits of imagehash's own DCT decide; those images, and only those, are hashed again
    with scipy's DCT."""
    import aigc_audit.evaluators.copying.perceptual_hash as module

    rescued = []
    scipy_bits = module._scipy_phash_bits

    def counting(pixels):
        rescued.append(len(pixels))
        return scipy_bits(pixels)

    monkeypatch.setattr(module, "_scipy_phash_bits", counting)
    rng = np.random.default_rng(7)
    flat = [Image.new("L", (size, size), value) for size, value in [(1, 0), (3, 255), (16, 128), (40, 7)]]
    half = rng.integers(0, 256, (24, 12), dtype=np.uint8)
    mirrored = [Image.fromarray(np.hstack([half, half[:, ::-1]])), Image.new("RGB", (30, 20), (9, 99, 199))]
    noisy = [Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)) for _ in range(20)]
    _assert_imagehash(flat + mirrored + noisy)
    rescued.clear()
    perceptual_hashes(noisy)
    assert rescued == []
    perceptual_hashes(flat[2:3] * 3)
    perceptual_hashes(mirrored[:1] + noisy)
    assert rescued == [3, 1]


def test_large_images_by_products_and_by_pillow_hash_alike(monkeypatch):
    import aigc_audit.evaluators.copying.perceptual_hash as module

    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 256, (300, 420, 3), dtype=np.uint8), "RGB") for _ in range(3)]
    images += [Image.fromarray(rng.integers(0, 256, (700, 90), dtype=np.uint8)) for _ in range(2)]
    _assert_imagehash(images)
    monkeypatch.setattr(module, "_MATMUL_PIXELS", 64 * 64)  # the same images through Pillow's resize
    _assert_imagehash(images)


def test_phash_from_pixels_matches_imagehash_on_flat_and_random_pixels():
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (12, 32, 32), dtype=np.uint8)
    pixels[:4] = np.array([0, 1, 128, 255], np.uint8)[:, None, None]  # flat: the median ties
    pixels[4] = np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))  # a ramp: many zero coefficients
    expected = [int(str(imagehash.phash(Image.fromarray(p))), 16) for p in pixels]
    assert [int(v) for v in phash_from_pixels(pixels)] == expected


@pytest.mark.parametrize("width, height, out_w, out_h", [
    (256, 256, 32, 32), (640, 427, 32, 32), (1024, 64, 9, 8), (300, 300, 9, 8), (33, 700, 32, 32)])
def test_banded_resize_of_large_images_is_pillows(width, height, out_w, out_h):
    """Downscales by large factors, where each pass is cut into bands of outputs."""
    from aigc_audit.evaluators.copying.perceptual_hash import _bands

    pixels = np.random.default_rng(width + height).integers(0, 256, (2, height, width), dtype=np.uint8)
    theirs = np.stack([np.asarray(Image.fromarray(p).resize((out_w, out_h), Image.Resampling.LANCZOS))
                       for p in pixels])
    np.testing.assert_array_equal(resize_gray(pixels, (out_w, out_h)), theirs)
    assert len(_bands(max(width, height), 32)) > 1


_small = st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["L", "RGB"]),
                   st.integers(1, 256), st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(_small, min_size=1, max_size=6))
def test_random_small_images_hash_as_imagehash(specs):
    """Any size from 1 px, colour or gray, with few or many grey levels (few levels make ties)."""
    images = []
    for width, height, mode, levels, seed in specs:
        rng = np.random.default_rng(seed)
        shape = (height, width, 3) if mode == "RGB" else (height, width)
        values = (rng.integers(0, levels, shape) * (255 // max(levels - 1, 1))).astype(np.uint8)
        images.append(Image.fromarray(values, mode))
    _assert_imagehash(images)
