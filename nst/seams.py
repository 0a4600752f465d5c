"""How visible the tile borders of a tiled result are, as one number.

    seam ratio = mean |x[:, r] − x[:, r−1]| over the border rows r (and likewise columns)
                 / mean |x[:, i] − x[:, i−1]| over every other pair of neighbouring rows (columns)

The pairs across a border against those elsewhere, in the same direction, pooled over
rows and columns and the three channels. 1 means a border looks like any other place in
the image; a seam (a jump of colour or texture along it) raises it.

With `period` p, "elsewhere" is only the pairs at the borders' positions modulo p. An image
enlarged twice with bilinear weights (each scale of a run starts so, `nst.stylize.upsample`)
alternates two kinds of neighbours: the pair (2k−1, 2k) steps by half a source pixel's
difference, the pair (2k, 2k+1) by a quarter of a two-pixel one. Tile borders fall at
multiples of `nst.tiles.ALIGN` = 16, always the first kind; a 2048 px print (two tiled
steps) had a ratio of 1.14 at every 16th row and column where no border was, and 0.90 at
the odd ones. Against the pairs at multiples of 16 elsewhere (p = 16) a border is compared
with its own kind.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .errors import NSTError

__all__ = ["seam_ratio"]


def seam_ratio(image: Tensor, rows: Sequence[int], cols: Sequence[int], period: int = 1) -> float:
    """The seam ratio of `image` `(1, 3, H, W)` (or `(3, H, W)`) with tile borders before rows
    `rows` and columns `cols` (each border lies between index r − 1 and r, 0 < r < H or W),
    against the pairs elsewhere whose position (that of their second pixel) is a border's
    modulo `period` (1: every pair)."""
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
    like_row, like_col = (_same_phase(len(mask), border, period) & ~mask
                          for mask, border in ((at_row, rows), (at_col, cols)))
    if not (like_row.any() or like_col.any()):
        raise NSTError(f"no other pair of neighbours at the borders' positions modulo {period} to compare with")
    across = torch.cat([down[:, at_row].flatten(), right[:, :, at_col].flatten()])
    elsewhere = torch.cat([down[:, like_row].flatten(), right[:, :, like_col].flatten()])
    return float(across.mean() / elsewhere.mean().clamp_min(1e-12))


def _same_phase(pairs: int, border: Sequence[int], period: int) -> Tensor:
    """Which of `pairs` neighbour pairs (pair i: pixels i and i + 1) sit at a border's position
    modulo `period`: every pair for a period of 1; else none along a direction without borders."""
    if period == 1:
        return torch.ones(pairs, dtype=torch.bool)
    positions = torch.arange(1, pairs + 1)
    residues = torch.tensor(sorted({r % period for r in border}), dtype=torch.long)
    return torch.isin(positions % period, residues)
