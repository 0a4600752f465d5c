"""How visible the tile borders of a tiled result are, as one number.

    seam ratio = mean |x[:, r] − x[:, r−1]| over the border rows r (and likewise columns)
                 / mean |x[:, i] − x[:, i−1]| over every other pair of neighbouring rows (columns)

The pairs across a border against those elsewhere, in the same direction, pooled over
rows and columns and the three channels. 1 means a border looks like any other place in
the image; a seam (a jump of colour or texture along it) raises it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .errors import NSTError

__all__ = ["seam_ratio"]


def seam_ratio(image: Tensor, rows: Sequence[int], cols: Sequence[int]) -> float:
    """The seam ratio of `image` `(1, 3, H, W)` (or `(3, H, W)`) with tile borders before rows
    `rows` and columns `cols` (each border lies between index r − 1 and r, 0 < r < H or W)."""
    image = image.reshape(-1, *image.shape[-2:]).float()  # (C, H, W)
    down = (image[:, 1:] - image[:, :-1]).abs()  # (C, H-1, W): pair (i-1, i) at index i-1
    right = (image[:, :, 1:] - image[:, :, :-1]).abs()  # (C, H, W-1)
    at_row = torch.zeros(down.shape[1], dtype=torch.bool)
    at_col = torch.zeros(right.shape[2], dtype=torch.bool)
    for border, mask, limit in ((rows, at_row, image.shape[1]), (cols, at_col, image.shape[2])):
        for r in border:
            if not 0 < r < limit:
                raise NSTError(f"a tile border at {r} is outside the image's 1..{limit - 1}")
            mask[r - 1] = True
    if not (at_row.any() or at_col.any()):
        raise NSTError("no tile border to measure: the image was one tile")
    across = torch.cat([down[:, at_row].flatten(), right[:, :, at_col].flatten()])
    elsewhere = torch.cat([down[:, ~at_row].flatten(), right[:, :, ~at_col].flatten()])
    return float(across.mean() / elsewhere.mean().clamp_min(1e-12))
