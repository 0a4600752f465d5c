"""Regions: a mask on the photo that says which painting, or none, governs each part of it.

A mask is an image of the photo's shape. Each pixel's red, green and blue are read as on
(≥ 128) or off, which puts the pixel at a corner of the RGB cube: red, green, blue,
yellow, magenta and cyan paint paintings 1 to 6 (`PALETTE`), black and white keep the
photo there. Transparent pixels count as white (`nst.images.load_image` flattens them
onto white), so strokes on an empty layer are a mask too. Reading corners rather than
exact colours keeps anti-aliased stroke edges and JPEG noise in their region.

The mask becomes a label map `(H, W)` of int64: 0 for no painting, k for painting k.
At each VGG layer a region is the set of positions whose label wins the vote of the
pixels under them (`layer_regions`); `nst.objective` matches the feature vectors at those
positions to that painting's distribution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import NSTError
from .images import ImageSource, load_image

__all__ = ["PALETTE", "NO_PAINTING", "MASK_HELP", "palette_hex", "read_mask", "labels_from_rgb", "check_labels",
           "check_shape", "painted", "fit_labels", "layer_regions"]

# (name, RGB) of paintings 1, 2, …: the six corners of the RGB cube that are neither black nor white.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (255, 0, 0)),
    ("green", (0, 255, 0)),
    ("blue", (0, 0, 255)),
    ("yellow", (255, 255, 0)),
    ("magenta", (255, 0, 255)),
    ("cyan", (0, 255, 255)),
)
NO_PAINTING = 0
# Corner index r·4 + g·2 + b → label: black (0) and white (7) keep the photo.
_CORNER_LABEL = np.zeros(8, dtype=np.int64)
for _label, (_, _rgb) in enumerate(PALETTE, start=1):
    _CORNER_LABEL[(_rgb[0] // 255) * 4 + (_rgb[1] // 255) * 2 + _rgb[2] // 255] = _label
MASK_HELP = ("an image of the photo's shape that paints each painting into its region: "
             + ", ".join(name for name, _ in PALETTE) + " for paintings 1 to 6; black, white or transparent "
             "parts keep the photo")
# A mask's aspect ratio may differ from the photo's by this fraction (rounding of a resize).
_ASPECT_TOLERANCE = 0.03


def palette_hex(count: int = len(PALETTE)) -> list[str]:
    """'#ff0000', … for paintings 1 … `count`: the brush colours of a mask."""
    return ["#{:02x}{:02x}{:02x}".format(*rgb) for _, rgb in PALETTE[:count]]


def labels_from_rgb(rgb: np.ndarray) -> Tensor:
    """`(H, W, 3)` uint8 pixels → `(H, W)` int64 labels, each channel read as on at ≥ 128."""
    on = (np.asarray(rgb)[..., :3] >= 128).astype(np.int64)
    return torch.from_numpy(_CORNER_LABEL[on[..., 0] * 4 + on[..., 1] * 2 + on[..., 2]])


def read_mask(source: ImageSource, *, name: str = "mask") -> Tensor:
    """The mask image `source` as `(H, W)` int64 labels (0: no painting, k: painting k)."""
    return labels_from_rgb(np.asarray(load_image(source, name=name)))


def painted(labels: Tensor) -> list[int]:
    """The paintings (1-based) that have a region in `labels`, in order."""
    return [int(k) for k in torch.unique(labels) if k != NO_PAINTING]


def check_labels(labels: Tensor, paintings: int) -> None:
    """Refuse a mask that paints no region, or one for a painting that was not given."""
    used = painted(labels)
    if not used:
        colours = ", ".join(f"{name} for painting {k}" for k, (name, _) in enumerate(PALETTE[:max(paintings, 1)], 1))
        raise NSTError(f"the mask paints no region: paint with {colours}; black, white and transparent "
                       "parts keep the photo")
    if used[-1] > paintings:
        name = PALETTE[used[-1] - 1][0]
        given = "1 painting was" if paintings == 1 else f"{paintings} paintings were"
        raise NSTError(f"the mask paints a region {name}, for painting {used[-1]}, but only {given} given")


def check_shape(labels: Tensor, shape: tuple[int, int]) -> None:
    """Refuse labels `(h, w)` whose aspect ratio is not that of the photo's `shape` (H, W):
    the mask was drawn on another image."""
    h, w = labels.shape
    height, width = shape
    if abs((w / h) / (width / height) - 1) > _ASPECT_TOLERANCE:
        raise NSTError(f"the mask is {w}x{h} but the photo is {width}x{height} here: draw the mask on the photo, "
                       "at its shape")


def fit_labels(labels: Tensor, shape: tuple[int, int]) -> Tensor:
    """Labels `(h, w)` resized to the photo's `shape` (H, W) by nearest neighbour (`check_shape` first)."""
    check_shape(labels, shape)
    return F.interpolate(labels[None, None].float(), size=shape, mode="nearest")[0, 0].long()


def layer_regions(labels: Tensor, shape: tuple[int, int], paintings: int) -> dict[int, Tensor]:
    """Painting index (0-based) → the flat positions `(M_k,)` of its region at a layer of `shape` (h, w).

    `labels` `(H, W)` are at the image's size. A layer position takes the label that
    covers most of the pixels under it (its share of the area of each label, by
    adaptive average pooling of the one-hot map; ties go to the lower label). Paintings
    with no position at this layer are left out.
    """
    one_hot = F.one_hot(labels, paintings + 1).permute(2, 0, 1)[None].float()  # (1, K+1, H, W)
    votes = F.adaptive_avg_pool2d(one_hot, shape)[0]  # (K+1, h, w)
    winner = votes.argmax(dim=0).flatten()  # (h·w,)
    found = {}
    for k in range(1, paintings + 1):
        positions = torch.nonzero(winner == k).flatten()
        if positions.numel():
            found[k - 1] = positions
    return found
