"""Where the tiles of one step of a tiled scale lie: cores that partition the image, each
with a halo of context around it.

Along each edge of length D the cores are cut at o + kL (k = 0, 1, …) for a core length L
and an offset o drawn afresh at every step, so that no border stays in one place: a border
where two tiles met in one step lies inside a tile in the next. Every pixel belongs to
exactly one core per step, so each gets exactly one update per step. A tile's crop is its
core grown by `halo` pixels on every side (clipped to the image): the network sees the
pixels around the core, and only the core is updated.

Cuts, offsets and halos are multiples of `ALIGN` = 16 px, VGG's stride at relu5_1, so a
tile's feature positions sit on the whole image's grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["ALIGN", "Tile", "cuts", "core_length", "tile_grid", "grid_borders"]

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
