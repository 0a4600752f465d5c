"""Image loading: modes, orientation, bad files, limits; resizing and tensors."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from nst import NSTError
from nst import images
from nst.config import Limits


def encode(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    loaded = images.load_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert loaded.size == (20, 40)


def test_transparency_is_flattened_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    loaded = images.load_image(encode(img))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((0, 0)) == (255, 0, 0) and loaded.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "LA"])
def test_other_modes_become_rgb(mode):
    base = Image.linear_gradient("L").resize((16, 16))
    img = base.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(base, dtype=np.uint16) * 200)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    loaded = images.load_image(encode(img, fmt))
    assert loaded.mode == "RGB" and loaded.size == (16, 16)
    array = np.asarray(loaded)
    assert array[-1].mean() > array[0].mean() + 100  # the gradient survived the conversion


def test_corrupt_and_missing_files_give_one_line_errors(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(NSTError, match="content image: not a readable image file"):
        images.load_image(bad, name="content image")
    with pytest.raises(NSTError, match="does not exist"):
        images.load_image(tmp_path / "nope.png")
    with pytest.raises(NSTError, match="not a readable image"):
        images.load_image(b"")
    truncated = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")[:60]
    with pytest.raises(NSTError, match="not a readable image"):
        images.load_image(truncated)


def test_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(images, "LIMITS", Limits(max_input_pixels=1000))
    with pytest.raises(NSTError, match="more than 1,000 pixels"):
        images.load_image(encode(Image.new("RGB", (50, 50))))


def test_resize_long_edge_keeps_aspect():
    assert images.resize_long_edge(Image.new("RGB", (300, 200)), 150).size == (150, 100)
    assert images.resize_long_edge(Image.new("RGB", (200, 300)), 600).size == (400, 600)


def test_tensor_round_trip(tmp_path):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8))
    tensor = images.to_tensor(img)
    assert tensor.shape == (1, 3, 12, 20) and 0 <= tensor.min() and tensor.max() <= 1
    assert np.array_equal(np.asarray(images.to_pil(tensor)), np.asarray(img))
    path = images.save_png(tensor, tmp_path / "sub" / "out.png")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(img))
    assert images.to_pil(torch.full((3, 2, 2), 2.0)).getpixel((0, 0)) == (255, 255, 255)
