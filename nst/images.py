"""Image input and output: reading any Pillow-readable file safely, resizing, tensors, PNG.

Every failure becomes an `NSTError` with a one-line message: a corrupt file, an image
too large to decode safely, an empty file. Limits come from `nst.config.LIMITS`.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Iterator, Union

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError
from torch import Tensor

from .config import LIMITS
from .errors import NSTError

__all__ = ["ImageSource", "check_image_file", "load_image", "load_tensor", "fit_tensor", "check_fits", "to_rgb",
           "resize_long_edge", "long_edge_size", "to_tensor", "to_pil", "save_png", "read_png_text"]

ImageSource = Union[str, os.PathLike, bytes, BinaryIO, Image.Image]


def check_image_file(path: str | os.PathLike, *, name: str = "image") -> None:
    """Refuse `path` at once when `load_image` would, reading only its header: a missing,
    oversized or unreadable file, or one that declares too many pixels."""
    path = Path(path)
    _check_file(path, name)
    with _readable(name), Image.open(path) as img:
        _check_pixels(img, name)


def _check_file(path: Path, name: str) -> None:
    if not path.is_file():
        raise NSTError(f"{name}: file {str(path)!r} does not exist")
    if path.stat().st_size > LIMITS.max_file_bytes:
        raise NSTError(f"{name}: file is larger than {LIMITS.max_file_bytes // 2**20} MB")


@contextlib.contextmanager
def _readable(name: str) -> Iterator[None]:
    """Pillow's many errors for an unreadable or oversized image as one `NSTError` each."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except NSTError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NSTError(_too_many_pixels(name)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise NSTError(f"{name}: not a readable image file; use a PNG, JPEG or WebP image") from None


def _too_many_pixels(name: str, size: tuple[int, int] | None = None) -> str:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return f"{name}: image has more than {LIMITS.max_input_pixels:,} pixels{shown}; use a smaller image"


def load_image(source: ImageSource, *, name: str = "image") -> Image.Image:
    """Open `source` as an upright RGB image.

    Honours EXIF orientation; flattens transparency onto white; converts grayscale,
    palette, CMYK and 16-bit modes to RGB. `name` labels the image in error messages.
    """
    if isinstance(source, Image.Image):
        return to_rgb(ImageOps.exif_transpose(source))
    if isinstance(source, (str, os.PathLike)):
        _check_file(Path(source), name)
    elif isinstance(source, bytes):
        source = io.BytesIO(source)
    with _readable(name), Image.open(source) as img:
        _check_pixels(img, name)
        img.load()
        return to_rgb(ImageOps.exif_transpose(img))


def load_tensor(source: ImageSource, size: int, device: torch.device | str = "cpu", *,
                name: str = "image") -> Tensor:
    """`load_image`, resized to long edge `size`, as `(1, 3, H, W)` in [0, 1] on `device` (`fit_tensor`)."""
    return fit_tensor(load_image(source, name=name), size, device, name=name)


def fit_tensor(img: Image.Image, size: int, device: torch.device | str = "cpu", *, name: str = "image") -> Tensor:
    """An upright RGB image (`load_image`) resized to long edge `size`, as `(1, 3, H, W)` in [0, 1]
    on `device`; refused as `check_fits` says."""
    check_fits(img, size, name=name)
    return to_tensor(resize_long_edge(img, size), device)


def check_fits(img: Image.Image, size: int, *, name: str = "image") -> None:
    """Refuse an image whose short edge would be under `LIMITS.min_size` at long edge `size`:
    VGG halves it four times before relu5_1."""
    w, h = long_edge_size(img.size, size)
    if min(w, h) < LIMITS.min_size:
        raise NSTError(f"{name} is {w}x{h} at size {size}: its short edge must be at "
                       f"least {LIMITS.min_size} px (VGG halves it four times); use a larger size")


def _check_pixels(img: Image.Image, name: str) -> None:
    w, h = img.size
    if w * h > LIMITS.max_input_pixels:
        raise NSTError(_too_many_pixels(name, (w, h)))
    if w < 1 or h < 1:
        raise NSTError(f"{name}: image is empty")


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB copy of `img`; transparent pixels become white."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(img, dtype=np.float64)
        span = max(array.max() - array.min(), 1e-12)
        img = Image.fromarray(((array - array.min()) / span * 255).astype(np.uint8))
    return img.convert("RGB")


def resize_long_edge(img: Image.Image, size: int) -> Image.Image:
    """Resize so that the longer edge is `size` pixels, keeping the aspect ratio (Lanczos)."""
    new = long_edge_size(img.size, size)
    return img if new == img.size else img.resize(new, Image.Resampling.LANCZOS)


def long_edge_size(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """(width, height) `shape` scaled so that its longer edge is `size`."""
    w, h = shape
    scale = size / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    """RGB image → float tensor `(1, 3, H, W)` in [0, 1]."""
    array = np.asarray(to_rgb(img), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)  # (1, 3, H, W)


def to_pil(image: Tensor) -> Image.Image:
    """Tensor `(3, H, W)` or `(1, 3, H, W)` in [0, 1] → RGB image."""
    image = image.detach().float().squeeze(0).clamp(0, 1)  # (3, H, W)
    array = (image.permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)  # (H, W, 3)
    return Image.fromarray(array, "RGB")


def save_png(image: Tensor | Image.Image, path: str | os.PathLike, *, text: dict[str, str] | None = None) -> Path:
    """Write `image` as PNG, creating parent folders, with each of `text` as a compressed
    UTF-8 text chunk (iTXt) before the pixels; returns the path. The file is written whole
    under a temporary name, then renamed, so an interrupted run never leaves a half-written
    PNG that looks finished."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value, zip=True)
    tmp = path.with_name(f".{path.name}.tmp")
    (image if isinstance(image, Image.Image) else to_pil(image)).save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)
    return path


def read_png_text(path: str | os.PathLike, key: str, *, name: str = "image") -> str | None:
    """The text chunk `key` of the PNG at `path` (None when it has none, or is no PNG),
    reading its header and the chunks before the pixels only. Refused in one line: a
    missing or oversized file, one that is not an image or declares too many pixels, and
    text chunks over Pillow's caps (`PngImagePlugin.MAX_TEXT_CHUNK` unpacked,
    `MAX_TEXT_MEMORY` in all)."""
    path = Path(path)
    _check_file(path, name)
    with _readable(name):
        try:
            with Image.open(path) as img:
                _check_pixels(img, name)
                value = img.info.get(key) if img.format == "PNG" else None
        except ValueError as exc:
            # Pillow says which cap a text chunk broke only in a plain ValueError's words.
            if "MAX_TEXT" not in str(exc):
                raise
            raise NSTError(f"{name}: a text chunk unpacks to more than Pillow reads "
                           f"({PngImagePlugin.MAX_TEXT_CHUNK:,} bytes)") from None
    return None if value is None else str(value)
