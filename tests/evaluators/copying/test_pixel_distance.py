import numpy as np
import pytest
from PIL import Image

from aigc_audit.evaluators.copying.pixel_distance import (
    FAINT_STD,
    MAX_CLIPPED,
    MIN_STD,
    NOISE_FLOOR,
    _level_middles,
    _matching_tables,
    block_levels,
    block_spread,
    border_mask,
    gaussian_blur,
    grain_agreement,
    grain_spread,
    known_blocks,
    level_distance,
    match_histogram,
    noise_level,
    paired_tiled_distance,
    remapped_colour_distance,
    remapped_distance,
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


def test_the_noise_level_is_read_from_the_finest_detail_not_from_edges():
    rng = np.random.default_rng(4)
    gradient = np.tile(np.linspace(60, 190, 32), (32, 1))[None]
    for sigma in (2.0, 5.0, 10.0):
        noisy = gradient + rng.normal(0, sigma, gradient.shape)
        assert noise_level(noisy)[0] == pytest.approx(sigma, rel=0.15)
    # A plane and a picture of flat regions with sharp edges hold no noise.
    assert noise_level(gradient)[0] == pytest.approx(0.0, abs=1e-9)
    assert noise_level(_disc()[None])[0] == 0.0


def test_strong_noise_on_a_faint_textured_picture_is_taken_out_of_the_smoothed_distance():
    rng = np.random.default_rng(5)
    # A faint patch of a photograph (some 6 grey levels of spread, 32 px) and a copy under noise of
    # sigma 4 at the comparison size (some 8 in a 64 px original): smoothed, the noise left in the
    # noisiest tile kept this copy above 0.2 before it was taken out.
    faint = 120 + 6 * gaussian_blur(_field(7)[None], 1.0)
    noisy = faint + rng.normal(0, 4, faint.shape)
    assert smoothed_distance(noisy, faint, 4)[0, 0] < 0.15
    # Another faint patch under the same noise stays far: what differs is more than the noise.
    other = 120 + 6 * gaussian_blur(_field(8)[None], 1.0)
    assert smoothed_distance(noisy, other, 4)[0, 0] > 0.8
    # Without noise, nothing is taken out: the distance of two clean pictures is as it was.
    assert noise_level(faint)[0] < 0.5


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


def _field(seed: int, side: int = 32, blur: float = 2.0) -> np.ndarray:
    """A smooth random field (mean 0, standard deviation 1), as a patch of a photograph."""
    field = gaussian_blur(np.random.default_rng(seed).normal(size=(1, side, side)), blur)[0]
    return (field - field.mean()) / field.std()


def test_paired_distance_is_the_diagonal_of_the_matrix():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 16, 16)), rng.normal(size=(5, 16, 16))
    mask = border_mask(16, 1, 2)
    assert np.allclose(paired_tiled_distance(a, b, 4, mask), np.diag(tiled_distance(a, b, 4, mask)))
    # One mask per pair: a pair compared only on its first tile row by hand.
    rows = np.zeros((5, 16, 16))
    rows[:, :4, :] = 1.0
    by_hand = np.sqrt(((a - b) ** 2)[:, :4, :].reshape(5, 4, 4, 4).mean(axis=(1, 3))).max(axis=1)
    assert np.allclose(paired_tiled_distance(a, b, 4, rows), by_hand)


def test_histogram_matching_undoes_an_increasing_curve():
    picture = np.clip(np.rint(128 + 40 * _field(1)), 0, 255).astype(np.uint8)
    # A gamma of 0.6 keeps every grey level distinct: matched, the curve is undone to the level.
    curved = np.rint(255 * (picture / 255.0) ** 0.6).astype(np.uint8)
    assert np.abs(match_histogram(curved[None], picture)[0] - picture).max() <= 1.0
    assert remapped_distance(curved[None], picture[None], 4)[0, 0] < 0.02
    assert tiled_distance(standardise(curved[None]), standardise(picture[None]), 4)[0, 0] > 0.05
    # A level many pixels share (a clipped highlight) takes the quantile in the middle of its run.
    two = np.array([[[10, 10, 10, 200]]], np.uint8)
    assert match_histogram(two, np.array([[1, 2, 3, 4]], np.uint8)).tolist() == [[[2.0, 2.0, 2.0, 4.0]]]


def test_a_brightened_copy_with_clipped_highlights_is_close_when_matched_in_histogram():
    picture = np.clip(np.rint(150 + 45 * _field(2)), 0, 255).astype(np.uint8)
    brighter = np.clip(np.rint(picture * 1.35), 0, 255).astype(np.uint8)
    clipped = (brighter == 255).mean()
    assert 0.1 < clipped <= MAX_CLIPPED
    # Standardised, the clipped highlights are far from the training image's; matched, with the
    # clipped pixels left out, what remains is the same picture.
    assert tiled_distance(standardise(brighter[None]), standardise(picture[None]), 4)[0, 0] > 0.2
    assert remapped_distance(brighter[None], picture[None], 4)[0, 0] < 0.05
    # Another picture stays far: matching the histogram does not move where light and dark lie.
    other = np.clip(np.rint(150 + 45 * _field(3)), 0, 255).astype(np.uint8)
    assert remapped_distance(brighter[None], other[None], 4)[0, 0] > 1.0
    # A picture almost all clipped keeps nothing to leave out: it is compared whole, and is far.
    white = np.clip(np.rint(picture * 3.0), 0, 255).astype(np.uint8)
    assert (white == 255).mean() > MAX_CLIPPED
    assert remapped_distance(white[None], picture[None], 4)[0, 0] > 0.5


def test_colour_channels_clipped_each_their_own_way_are_matched_one_by_one():
    # Red varies widely, green sits near the top (a brightening clips most of it), blue is faint.
    red, green, blue = 120 + 40 * _field(4), 205 + 25 * _field(5), 60 + 6 * _field(6)
    picture = np.clip(np.rint(np.stack([red, green, blue], axis=-1)), 0, 255).astype(np.uint8)
    brighter = np.clip(np.rint(picture * 1.25), 0, 255).astype(np.uint8)
    assert (brighter[..., 1] == 255).mean() > MAX_CLIPPED  # green: left out, nothing to match
    assert 0.0 < (brighter[..., 0] == 255).mean() <= MAX_CLIPPED  # red: its clipped pixels left out
    grey = (picture @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
    grey_brighter = (brighter @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
    # The grey levels are bent by no single curve: matched as a whole, they stay apart.
    assert remapped_distance(grey_brighter[None], grey[None], 4)[0, 0] > 0.2
    # Channel by channel, within the check's default threshold (0.2): the faint blue, brightened and
    # rounded again, keeps a little rank noise.
    assert remapped_colour_distance(brighter, picture[None], 4)[0] < 0.15
    other = np.clip(np.rint(np.stack([120 + 40 * _field(7), 205 + 25 * _field(8), 60 + 6 * _field(9)],
                                     axis=-1)), 0, 255).astype(np.uint8)
    assert remapped_colour_distance(brighter, other[None], 4)[0] > 1.0
    # All three channels clipped on most of the picture: nothing left to compare.
    assert remapped_colour_distance(np.full_like(picture, 255), picture[None], 4)[0] == np.inf


def test_a_flat_training_image_matches_nothing_in_histogram():
    # Flat to within 2 grey levels, as a shape drawn in its background's luminance: matched in
    # histogram, any picture takes its one level and would be close; it is not compared at all.
    flat = np.full((1, 32, 32), 120, np.uint8)
    flat[0, 10:14, 10:20] = 123
    picture = np.clip(np.rint(128 + 40 * _field(10)), 0, 255).astype(np.uint8)
    assert remapped_distance(picture[None], flat, 4)[0, 0] == np.inf
    coloured = np.repeat(flat[0][..., None], 3, axis=2)
    assert remapped_colour_distance(np.repeat(picture[..., None], 3, axis=2), coloured[None], 4)[0] == np.inf


def test_matching_tables_are_np_interp_per_reference_to_the_last_bit():
    # The lookup tables of all references at once must be those of one np.interp per reference
    # (as match_histogram builds them), bit for bit: matched distances confirm copies at a threshold.
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 256, size=(3, 16, 16)).astype(np.uint8)
    queries[0, :, :4] = 255  # a clipped highlight: one level holding many pixels
    queries[1] = queries[1] // 64 * 64  # few levels: middles on whole pixels and between them
    references = rng.integers(0, 256, size=(5, 16, 16)).astype(np.uint8)
    references[1] = 9  # flat
    middles = _level_middles(queries)
    tables = _matching_tables(middles, np.sort(references.reshape(5, -1).astype(np.float64), axis=1))
    for c, reference in enumerate(references.astype(np.float64)):
        levels = np.sort(reference.ravel())
        expected = np.interp(middles - 0.5, np.arange(levels.size), levels)
        assert np.array_equal(tables[:, c], expected)
        assert np.array_equal(np.take_along_axis(tables[:, c], queries.reshape(3, -1).astype(np.intp), axis=1)
                              .reshape(queries.shape), match_histogram(queries, reference))


def _sky(seed: int, side: int = 32) -> np.ndarray:
    """A pale sky as a thumbnail holds it: one gradient every tile of it shares (some 5 grey levels
    across), and its own grain of about one grey level, rounded to whole levels."""
    ramp = 200.0 + np.linspace(0.0, 5.0, side)[None, :] + np.linspace(0.0, 1.5, side)[:, None]
    grain = gaussian_blur(np.random.default_rng(seed).normal(0.0, 1.6, (1, side, side)), 0.6)[0]
    return np.rint(ramp + grain)


def test_a_faint_pictures_grain_survives_noise_and_a_curve_and_tells_it_from_another_like_it():
    from aigc_audit.evaluators.copying.image_near_duplicate import MIN_GRAIN_AGREEMENT

    rng = np.random.default_rng(1)
    source, other = _sky(1), _sky(2)
    noisy = np.rint(source + rng.normal(0.0, 1.5, source.shape))  # noise of sigma 3 at 64 px, halved
    curved = np.rint(255.0 * (source / 255.0) ** 0.7)  # gamma 0.7
    _, agreement = grain_agreement(np.stack([noisy, curved]), np.stack([source, other]))
    assert (agreement[:, 0] >= MIN_GRAIN_AGREEMENT).all()
    assert (np.abs(agreement[:, 1]) < 4).all()
    # Standardised, the noise is as large as the picture: the grey levels keep the copy far from
    # its source (a copy is within 0.2).
    assert tiled_distance(standardise(noisy[None]), standardise(source[None]), 4)[0, 0] > 0.4


def test_the_grains_own_correlation_is_counted_in_its_standard_error():
    # Grains smoothed over a pixel or two correlate with themselves: a naive error (one over the
    # root of the pixel count) would put unrelated pairs past 8; Bartlett's keeps them at chance.
    rng = np.random.default_rng(3)
    fields = 200.0 + gaussian_blur(rng.normal(0.0, 4.0, (60, 32, 32)), 1.0)
    correlation, agreement = grain_agreement(fields[:30], fields[30:])
    naive = correlation * 32
    assert naive.std() > 1.6 and np.abs(naive).max() > 5
    assert 0.7 < agreement.std() < 1.3 and np.abs(agreement).max() < 5


def test_only_a_faint_pictures_spread_grain_is_compared():
    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 1.0, (1, 32, 32))
    assert 0.25 < grain_spread(200.0 + noise)[0] < 0.4  # white noise fills a third
    drawing = np.full((1, 32, 32), 120.0)
    drawing[0, 8:20, 10:14] = 124.0  # a faint mark: its grain is two edges
    assert grain_spread(drawing)[0] < 0.1
    assert grain_spread(np.full((1, 32, 32), 90.0))[0] == 0.0
    # A drawing's grain, and a picture with structure (grey levels spread past FAINT_STD), are not
    # compared at all, however well they agree: a look-alike's edges line up with them too.
    textured = 120.0 + 3.0 * FAINT_STD * _field(5)[None] + noise
    for reference in (drawing, textured):
        correlation, agreement = grain_agreement(reference, reference)
        assert correlation[0, 0] == agreement[0, 0] == -np.inf
    correlation, agreement = grain_agreement(200.0 + noise, 200.0 + noise)
    assert correlation[0, 0] == pytest.approx(1.0) and agreement[0, 0] > 15


def test_a_caption_or_logo_over_a_faint_picture_is_left_out_of_its_grain(monkeypatch):
    import aigc_audit.evaluators.copying.pixel_distance as pixel_distance
    from aigc_audit.evaluators.copying.image_near_duplicate import MIN_GRAIN_AGREEMENT

    source = _sky(6)
    logo, captioned = source.copy(), source.copy()
    logo[2:10, 22:30] = 40.0
    captioned[27:, :] = 20.0
    captioned[28:31, 3:29:3] = 235.0  # letters
    _, agreement = grain_agreement(np.stack([logo, captioned]), source[None])
    assert (agreement[:, 0] >= MIN_GRAIN_AGREEMENT).all()
    # Their edges, a hundred times the grain, would otherwise swamp the correlation.
    monkeypatch.setattr(pixel_distance, "GRAIN_OUTLIER", np.inf)
    _, agreement = grain_agreement(np.stack([logo, captioned]), source[None])
    assert (agreement[:, 0] < 4).all()


def test_the_grains_error_is_never_below_that_of_grains_without_correlation_of_their_own():
    # A dark picture with one bright patch (a galaxy in a black sky, turned into black corners) has
    # a grain that is one offset over the black once its edges are left out as outliers: it
    # correlates with itself at every lag, and an error resting on the side lobes of two such
    # autocorrelations cancelling came out near 0 (8 standard errors from a correlation of 0.01 on
    # the blind photographs). Recentred, and floored at the error of two grains without any
    # correlation of their own, the agreement is at most the correlation times the root of n.
    rng = np.random.default_rng(0)
    skies = np.stack([np.rint(200 + np.linspace(0, 5, 32)[None, :]
                              + gaussian_blur(rng.normal(0, 1.6, (1, 32, 32)), blur)[0])
                      for blur in (0.0, 0.3, 0.6, 0.9) * 3])
    pictures = []
    for seed in range(10):
        dark = np.zeros((32, 32))
        top, left = (int(v) for v in rng.integers(16, 26, 2))
        dark[top:top + 7, left:left + 7] = np.clip(240 + 10 * rng.normal(size=(7, 7)), 0, 255)
        pictures += [dark, 120 + 50 * _field(seed), _sky(100 + seed)]
    mask = border_mask(32, 1, 1)
    correlation, agreement = grain_agreement(np.stack(pictures), skies, mask)
    assert (np.abs(agreement) <= np.abs(correlation) * np.sqrt(mask.sum()) + 1e-9).all()
    assert np.abs(agreement[0::3]).max() < 5  # the dark pictures: at chance


def test_block_levels_are_the_mean_grey_level_of_each_block():
    thumbnails = np.zeros((1, 8, 8), np.uint8)
    thumbnails[0, :4, 4:] = 100            # the top right block of four
    thumbnails[0, 4:, :4] = [[1, 2, 3, 4]]  # the bottom left: columns of 1 to 4
    levels = block_levels(thumbnails, blocks=2)
    assert levels.tolist() == [[0.0, 100.0, 2.5, 0.0]]
    with pytest.raises(ValueError, match="blocks must divide the thumbnail side 8; got 3"):
        block_levels(thumbnails, blocks=3)
    # Within each block: flat but for the bottom left, whose columns 1 to 4 spread sqrt(1.25).
    np.testing.assert_allclose(block_spread(thumbnails, blocks=2), [[0.0, 0.0, np.sqrt(1.25), 0.0]])


def test_level_distance_is_the_root_mean_square_difference_in_grey_levels():
    rng = np.random.default_rng(0)
    queries, references = rng.uniform(0, 255, (3, 64)), rng.uniform(0, 255, (5, 64))
    expected = np.sqrt(((queries[:, None, :] - references[None, :, :]) ** 2).mean(axis=2))
    np.testing.assert_allclose(level_distance(queries, references), expected, rtol=1e-9)
    # A level half a grey level off everywhere, at the levels of a pale sky: no rounding in the
    # expanded product.
    sky = np.full((1, 64), 230.0)
    np.testing.assert_allclose(level_distance(sky + 0.5, sky), [[0.5]], rtol=1e-6)


def test_level_distance_over_known_blocks_leaves_the_others_out():
    rng = np.random.default_rng(1)
    queries, references = rng.uniform(0, 255, (3, 64)), rng.uniform(0, 255, (5, 64))
    known = rng.random((3, 64)) < 0.6
    known[2] = False  # nothing left to compare: infinitely far
    got = level_distance(queries, references, known)
    for q in range(2):
        expected = np.sqrt(((queries[q, known[q]] - references[:, known[q]]) ** 2).mean(axis=1))
        np.testing.assert_allclose(got[q], expected, rtol=1e-9)
    assert np.isinf(got[2]).all()
    # Every block known: the distance over all blocks.
    np.testing.assert_allclose(level_distance(queries, references, np.ones((3, 64), bool)),
                               level_distance(queries, references), rtol=1e-9)


def test_a_block_is_known_when_every_pixel_of_it_is():
    known = np.ones((1, 8, 8), bool)
    known[0, 0, 0] = False   # one pixel of the top left block
    known[0, 4:, 4:] = False  # the whole bottom right block
    assert known_blocks(known, blocks=2).tolist() == [[False, True, True, False]]
