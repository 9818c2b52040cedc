"""Opening one image item: every decode and every conversion is inside the per-item guard, only the
formats the audit means to read are opened, and a file over the size limit is not read at all."""

import os
import re

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from aigc_audit.errors import AuditError, ItemError
from aigc_audit.images import FORMATS, MAX_IMAGE_BYTES_ENV, open_image, open_image_file
from aigc_audit.sampleset import Item

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
       b"newpath 0 0 moveto 8 0 lineto 8 8 lineto closepath fill showpage\n%%EOF\n")


def _item(path) -> Item:
    return Item(id="x", modality="image", path=path)


def test_lab_tiff_is_read_in_both_modes(tmp_path):
    # Pillow converts LAB to RGB only; grayscale used to fail outside the per-item guard and end the run.
    path = tmp_path / "lab.tif"
    Image.new("LAB", (16, 16), (255, 128, 128)).save(path)  # L* = 100, a* = b* = 0: white
    assert open_image(_item(path), mode="RGB").getpixel((0, 0)) == (254, 255, 254)
    assert open_image(_item(path), mode="L").getpixel((0, 0)) >= 254


def test_a_conversion_that_fails_is_an_item_error_naming_the_mode(tmp_path, monkeypatch):
    def unsupported(image, mode):
        raise ValueError(f"conversion from {image.mode} to {mode} not supported")

    monkeypatch.setattr("aigc_audit.images._normalise_mode", unsupported)
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 0, 0, 0)).save(path)
    with pytest.raises(ItemError, match=r"cannot convert image cmyk\.jpg from colour mode CMYK to L: "
                                        r"conversion from CMYK to L not supported"):
        open_image(_item(path))


def test_eps_named_png_is_refused_without_reaching_its_plugin(tmp_path, monkeypatch):
    def refuse(self):
        raise AssertionError("the EPS plugin (and so Ghostscript) was reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    path = tmp_path / "picture.png"
    path.write_bytes(EPS)
    with pytest.raises(ItemError, match=r"picture\.png starts with the signature of image format EPS, "
                                        r"which the audit does not read \(it reads PNG, JPEG, GIF, BMP, "
                                        r"TIFF, WEBP\)"):
        open_image(_item(path))


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "PCX", "TGA"])
def test_other_formats_are_item_errors_naming_the_format_when_known(tmp_path, fmt):
    path = tmp_path / "image.png"
    Image.new("RGB", (16, 16), (1, 2, 3)).save(path, format=fmt)
    with pytest.raises(ItemError) as caught:
        open_image(_item(path))
    if fmt == "TGA":  # no signature of its own: its first bytes may pass for another format's, or none
        assert re.search(r"image\.png starts with the signature of image format|not an image file Pillow "
                         r"can read: image\.png", caught.value.reason), caught.value.reason
    else:
        assert f"image.png starts with the signature of image format {fmt}, which the audit does not read" \
            in caught.value.reason


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_allowed_format_opens(tmp_path, fmt):
    path = tmp_path / f"image.{fmt.lower()}"
    Image.new("RGB", (16, 12), (200, 100, 50)).save(path, format=fmt)
    image = open_image_file(path, item_id="x", mode="RGB")
    assert image.size == (16, 12) and image.mode == "RGB"


def test_a_corrupt_file_of_an_allowed_format_is_not_blamed_on_its_format(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ItemError, match=r"not an image file Pillow can read: broken\.png|cannot decode"):
        open_image(_item(path))


def test_file_over_the_size_limit_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    size = path.stat().st_size
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, str(size - 1))
    with pytest.raises(ItemError, match=rf"image file of {size} bytes exceeds the limit of {size - 1} bytes "
                                        rf"\(set {MAX_IMAGE_BYTES_ENV} to change it\)"):
        open_image(_item(path))
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, str(size))
    assert open_image(_item(path)).size == (64, 64)
    monkeypatch.setenv(MAX_IMAGE_BYTES_ENV, "-5")
    with pytest.raises(AuditError, match=rf"{MAX_IMAGE_BYTES_ENV} must be a whole number of bytes >= 1"):
        open_image(_item(path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_fifo_is_an_item_error_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ItemError, match=r"pipe\.png is a FIFO \(named pipe\), not a regular file"):
        open_image(_item(fifo))


def test_a_folder_or_missing_file_is_an_item_error(tmp_path):
    with pytest.raises(ItemError, match=r"is a folder, not a regular file"):
        open_image(_item(tmp_path))
    with pytest.raises(ItemError, match=r"file not found: .*gone\.png"):
        open_image(_item(tmp_path / "gone.png"))


# Every mode a TIFF can hold (La, RGBa and HSV cannot be saved, so no file can carry them).
@pytest.mark.parametrize("mode", ["1", "P", "PA", "LA", "RGBX", "CMYK", "YCbCr", "I", "I;16", "F"])
def test_every_mode_ends_in_the_asked_mode_or_an_item_error(tmp_path, mode):
    image = Image.new(mode, (8, 8))
    path = tmp_path / "m.tif"
    image.save(path)
    for want in ("L", "RGB"):
        try:
            assert open_image(_item(path), mode=want).mode == want
        except ItemError as error:
            assert "m.tif" in error.reason
