import numpy as np
import pytest
from PIL import Image

from aigc_audit.evaluators.copying.pixel_distance import (
    MIN_STD,
    NOISE_FLOOR,
    border_mask,
    gaussian_blur,
    smoothed_distance,
    standardise,
    thumbnail,
    tiled_distance,
    value_thumbnail,
)


def test_one_differing_tile_by_hand():
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    b[0, :2, :2] = 2.0  # one of the four 2x2 tiles differs by 2 at every pixel
    assert tiled_distance(a, b, 2)[0, 0] == pytest.approx(2.0)   # that tile's RMS
    assert tiled_distance(a, b, 1)[0, 0] == pytest.approx(1.0)   # sqrt(4 * 4 / 16)
    # Masking the differing pixels out leaves nothing to tell the images apart.
    mask = np.ones((4, 4))
    mask[:2, :2] = 0.0
    assert tiled_distance(a, b, 2, mask)[0, 0] == pytest.approx(0.0)


def test_matrix_of_distances_matches_the_direct_computation():
    rng = np.random.default_rng(0)
    q, r = standardise(rng.integers(0, 256, (3, 16, 16))), standardise(rng.integers(0, 256, (5, 16, 16)))
    distance = tiled_distance(q, r, 4)
    direct = np.array([[max(np.sqrt(((q[i] - r[j])[y:y + 4, x:x + 4] ** 2).mean())
                            for y in range(0, 16, 4) for x in range(0, 16, 4)) for j in range(5)]
                       for i in range(3)])
    assert distance.shape == (3, 5) and np.allclose(distance, direct)


def test_brightness_and_contrast_do_not_count():
    rng = np.random.default_rng(1)
    image = rng.integers(20, 200, (1, 8, 8)).astype(np.float64)
    brighter = standardise(image * 1.2 + 15)
    assert tiled_distance(standardise(image), brighter, 2)[0, 0] == pytest.approx(0.0, abs=1e-9)
    unrelated = standardise(rng.integers(0, 256, (1, 8, 8)))
    assert tiled_distance(standardise(image), unrelated, 1)[0, 0] > 1.0
    # A flat image is not blown up to unit variance: two near-flat images stay close.
    flat, flat_brighter = standardise(np.full((1, 8, 8), 100.0)), standardise(np.full((1, 8, 8), 101.0))
    assert tiled_distance(flat, flat_brighter, 1)[0, 0] < 0.6


def test_border_mask_and_thumbnail():
    mask = border_mask(8, 1, 2)
    assert mask.sum() == 6 * 4 and mask[0].sum() == 0 and mask[:, 0].sum() == 0
    assert thumbnail(Image.new("RGB", (40, 30), (255, 255, 255)), 16).shape == (16, 16)


def test_tiles_must_divide_the_side():
    with pytest.raises(ValueError, match=r"tiles must divide the image side 8; got 3"):
        tiled_distance(np.zeros((1, 8, 8)), np.zeros((1, 8, 8)), 3)
    with pytest.raises(ValueError, match=r"same square size; got \(1, 8, 8\) and \(1, 4, 4\)"):
        tiled_distance(np.zeros((1, 8, 8)), np.zeros((1, 4, 4)), 1)


def _regions(colours) -> Image.Image:
    """Four flat quadrants of the given RGB colours."""
    array = np.zeros((16, 16, 3), np.uint8)
    for (y, x), colour in zip([(0, 0), (0, 8), (8, 0), (8, 8)], colours):
        array[y:y + 8, x:x + 8] = colour
    return Image.fromarray(array)


def test_value_channel_ignores_a_turned_hue_that_moves_grey_levels():
    original = _regions([(200, 40, 40), (40, 160, 40), (40, 40, 120), (90, 90, 90)])
    # Each colour's channels rotated (R -> G -> B): the hue turned by a third, value and saturation kept.
    turned = _regions([(40, 200, 40), (40, 40, 160), (120, 40, 40), (90, 90, 90)])
    grey = tiled_distance(standardise(thumbnail(turned, 8)[None]),
                          standardise(thumbnail(original, 8)[None]), 2)
    value = tiled_distance(standardise(value_thumbnail(turned, 8)[None]),
                           standardise(value_thumbnail(original, 8)[None]), 2)
    assert grey[0, 0] > 1.0 and value[0, 0] == pytest.approx(0.0, abs=1e-9)
    # The value of each quadrant is its largest channel.
    assert value_thumbnail(original, 16)[[4, 4, 12, 12], [4, 12, 4, 12]].tolist() == [200, 160, 120, 90]
    # A grey image's value channel is its grey level.
    flat = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    assert np.array_equal(value_thumbnail(flat, 16), thumbnail(flat, 16))


def test_gaussian_blur_matches_scipy():
    from scipy.ndimage import gaussian_filter

    images = np.random.default_rng(2).integers(0, 256, (2, 12, 12)).astype(np.float64)
    for sigma in (1.5, 2.9):
        expected = np.stack([gaussian_filter(image, sigma, mode="nearest", truncate=3.0) for image in images])
        assert np.allclose(gaussian_blur(images, sigma), expected)
    assert np.array_equal(gaussian_blur(images, 0.0), images)


def _disc(side: int = 32, level: float = 200.0) -> np.ndarray:
    y, x = np.mgrid[:side, :side]
    return np.where((x - 13) ** 2 + (y - 17) ** 2 < 60, level, 40.0)


def test_a_blurred_copy_is_close_only_when_compared_smoothed():
    sharp = _disc()[None]
    blurred = gaussian_blur(sharp, 2.0)  # the copier's blur, at the comparison size
    assert tiled_distance(standardise(blurred), standardise(sharp), 4)[0, 0] > 0.3
    assert smoothed_distance(blurred, sharp, 4)[0, 0] < 0.1
    # A different picture stays far when both are smoothed.
    other = np.roll(_disc(), 8, axis=1)[None]
    assert smoothed_distance(other, sharp, 4)[0, 0] > 0.5


def test_noise_on_a_near_flat_image_is_not_blown_up_when_smoothed():
    rng = np.random.default_rng(3)
    # A faint gradient (std about 6 grey levels), as a patch of sky, and a copy with noise of
    # sigma 2 at the comparison size (about 4 in a 64 px original).
    sky = np.tile(np.linspace(110, 130, 32), (32, 1))[None]
    noisy = sky + rng.normal(0, 2, sky.shape)
    assert tiled_distance(standardise(noisy), standardise(sky), 4)[0, 0] > 0.3
    assert smoothed_distance(noisy, sky, 4)[0, 0] < 0.15
    assert NOISE_FLOOR > MIN_STD


def test_flat_training_images_are_not_compared_smoothed():
    # Two different pictures of one luminance (a mark on a plain ground, grey levels within 3):
    # with the noise floor they would look alike, so a flat training image is not compared at all.
    mark, other = np.full((1, 32, 32), 120.0), np.full((1, 32, 32), 120.0)
    mark[0, 4:10, 20:26] = 123.0
    other[0, 24:30, 2:30] = 118.0
    assert smoothed_distance(other, mark, 4)[0, 0] == np.inf
    assert tiled_distance(standardise(other), standardise(mark), 4)[0, 0] > 0.5
    # With structure to compare, the same pair is compared (and far apart).
    assert 0.5 < smoothed_distance(other * 30 - 3500, mark * 30 - 3500, 4)[0, 0] < np.inf
