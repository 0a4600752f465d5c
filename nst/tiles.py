"""Where the tiles of one step of a tiled scale lie: cores that partition the image, each
with a halo of context around it, and how their gradients blend.

Along each edge of length D the cores are cut at o + kL (k = 0, 1, …) for a core length L
and an offset o drawn afresh at every step, so that no border stays in one place: a border
where two tiles met in one step lies inside a tile in the next. A tile's crop is its core
grown by `halo` pixels on every side (clipped to the image): the network sees the pixels
around the core. The step's gradient is the tiles' gradients weighted by `blend_window`s,
which sum to 1 at every pixel and cross-fade across each cut.

Cuts, offsets and halos are multiples of `ALIGN` = 16 px, VGG's stride at relu5_1, so a
tile's feature positions sit on the whole image's grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ALIGN", "Tile", "cuts", "core_length", "tile_grid", "grid_borders", "blend_window"]

ALIGN = 16


@dataclass(frozen=True)
class Tile:
    """One tile: its core (the pixels it updates) and its crop (what the network sees), both as
    (top, left, bottom, right) with bottom and right exclusive."""

    core: tuple[int, int, int, int]
    crop: tuple[int, int, int, int]

    @property
    def crop_slices(self) -> tuple[slice, slice]:
        top, left, bottom, right = self.crop
        return slice(top, bottom), slice(left, right)

    @property
    def core_in_crop(self) -> tuple[slice, slice]:
        """The core's rows and columns within the crop."""
        top, left, bottom, right = self.core
        return slice(top - self.crop[0], bottom - self.crop[0]), slice(left - self.crop[1], right - self.crop[1])

    @property
    def core_pixels(self) -> int:
        top, left, bottom, right = self.core
        return (bottom - top) * (right - left)


def core_length(edge: int, largest: int) -> int:
    """The core length L along an edge of `edge` px when no core may exceed `largest` px (a
    multiple of `ALIGN`): the edge in n = ⌈edge / largest⌉ near-equal parts, rounded up to `ALIGN`."""
    parts = math.ceil(edge / largest)
    return min(largest, ALIGN * math.ceil(edge / parts / ALIGN))


def cuts(edge: int, length: int, offset: int) -> list[int]:
    """Where cores meet along an edge of `edge` px: o + kL inside (0, edge), for k = 0, 1, …
    (o = `offset`, L = `length`). One core (no cut) when L covers the edge."""
    if length >= edge:
        return []
    return [c for c in range(offset, edge, length) if c > 0]


def _segments(edge: int, length: int, offset: int) -> list[tuple[int, int]]:
    bounds = [0, *cuts(edge, length, offset), edge]
    return list(zip(bounds, bounds[1:]))


def tile_grid(height: int, width: int, largest: int, halo: int, generator: torch.Generator) -> list[Tile]:
    """The tiles of one step over a `height` × `width` image, row by row: cores of at most
    `largest` px (a multiple of `ALIGN`) per edge, cut at an offset drawn from `generator`
    (uniform over the multiples of `ALIGN` below the core length, one per edge), each
    cropped with `halo` px around it. An edge that one core covers draws no offset."""
    rows, cols = (_segments(edge, length, _offset(edge, length, generator))
                  for edge, length in ((height, core_length(height, largest)), (width, core_length(width, largest))))
    return [Tile((top, left, bottom, right),
                 (max(0, top - halo), max(0, left - halo), min(height, bottom + halo), min(width, right + halo)))
            for top, bottom in rows for left, right in cols]


def _offset(edge: int, length: int, generator: torch.Generator) -> int:
    if length >= edge:
        return 0
    return ALIGN * int(torch.randint(length // ALIGN, (1,), generator=generator))


def grid_borders(tiles: list[Tile]) -> tuple[list[int], list[int]]:
    """The rows and columns where the cores of one step meet (the first row or column of the
    core below or to the right of a border), sorted."""
    rows = sorted({t.core[0] for t in tiles if t.core[0] > 0})
    cols = sorted({t.core[1] for t in tiles if t.core[1] > 0})
    return rows, cols


def _ramp(positions: Tensor, cut: int, blend: int) -> Tensor:
    """s(p) = clamp((p − cut + blend) / (2·blend), 0, 1): 0 before the cut's band, 1 after it."""
    return ((positions - cut + blend) / (2 * blend)).clamp(0, 1)


def blend_window(tile: Tile, height: int, width: int, blend: int) -> Tensor:
    """The weight `(h, w)` of each pixel of `tile`'s crop in the step's gradient, float32.

    Along each edge a core [a, e) weighs s_a(p) − s_e(p), `_ramp`s across its two cuts (s_a = 1
    where a is the image's edge, s_e = 0 where e is): 1 inside, falling linearly to 0 across a
    band of 2·`blend` px centred on each cut, so that the windows of a step's tiles sum to 1 at
    every pixel (the sum telescopes) and the gradient passes from one tile's to the next
    without a step. The 2-D weight is the product of the two edges' (a tensor product of
    partitions of unity is one). `blend` ≤ the crop's halo keeps each window inside its crop.
    """
    top, left, bottom, right = tile.crop
    rows = torch.arange(top, bottom, dtype=torch.float32)
    cols = torch.arange(left, right, dtype=torch.float32)
    weights = []
    for positions, (start, stop), edge in ((rows, (tile.core[0], tile.core[2]), height),
                                           (cols, (tile.core[1], tile.core[3]), width)):
        up = _ramp(positions, start, blend) if start > 0 else torch.ones_like(positions)
        down = _ramp(positions, stop, blend) if stop < edge else torch.zeros_like(positions)
        weights.append(up - down)
    return weights[0][:, None] * weights[1][None, :]
