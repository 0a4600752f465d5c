"""The memory budget of a run and the tiles it leads to: per scale, the whole image in one
step, or tiles no larger than the budget holds.

A step holds every VGG activation of the image for the backward pass, so its memory grows
with the pixels it sees: about `STEP_BYTES_PER_PIXEL` for the network and Gram-type terms,
plus each method's `Method.extra_bytes_per_pixel` (the Gaussian MMD's Fourier features,
the sliced Wasserstein's sorted projections). A scale whose whole image does not fit
`Settings.memory_budget_gb` is optimised in tiles (`nst.tiles`): each step sees one crop,
so the memory is that of the crop plus the few whole-image tensors the run keeps (the
image and its gradient, the photo, Adam's two moments, the images shown). The budget
counts the run's tensors; the process adds torch and the network (about 0.8 GB on a CPU).
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch

from .config import CPU_BUDGET_GB, GPU_BUDGET_SHARE, Settings
from .errors import NSTError
from .images import long_edge_size
from .methods import fusion_weights, get_method
from .tiles import ALIGN, core_length

__all__ = ["STEP_BYTES_PER_PIXEL", "TARGET_BYTES_PER_PIXEL", "HALO", "MIN_TILE", "default_budget_gb", "budget_bytes",
           "step_bytes_per_pixel", "ScaleLayout", "layout_scale", "scale_layouts", "release_free_memory"]

# Peak resident memory of a step per pixel the network sees, on two CPU cores (VGG-19 to
# relu5_1, Gram matching, float32; benchmarks/memory.py: 2420, the slope between 384 and 640 px,
# the painting held at 256 px). Whole 2048 px steps measured 2200 (benchmarks/prints.py).
STEP_BYTES_PER_PIXEL = 2400
# The painting's targets, per pixel of the painting: its forward pass without gradient, its style layers
# kept while the terms are built (benchmarks/memory.py, the painting at 384 and 640 px: 330 bytes for
# Gram matching, 830 for the sliced Wasserstein's sorted projections, the most of the methods).
TARGET_BYTES_PER_PIXEL = 900
# Whole-image float32 RGB tensors a tiled scale keeps: the image, its step's gradient, Adam's two
# moments, the photo, the photo the network sees (its luminance in that colour mode), the image
# shown and the one before.
_TILED_IMAGES = 8
_RGB_BYTES = 3 * 4
# L-BFGS keeps two image-sized vectors per step of its history (at most 50 pairs).
_LBFGS_HISTORY = 50
# Context around each tile's core, in pixels: the receptive field of relu5_1 reaches 78 px on each
# side, that of relu4_2 (content) 42.
HALO = 64
# The smallest core a tile may have.
MIN_TILE = 2 * ALIGN


def default_budget_gb(device: torch.device | str) -> float:
    """The memory budget of a run on `device` when `Settings.memory_budget_gb` is None, in GB (10⁹ bytes):
    `GPU_BUDGET_SHARE` of a CUDA device's memory; elsewhere `CPU_BUDGET_GB`, or a quarter of the
    machine's memory where that is less."""
    device = torch.device(device)
    if device.type == "cuda":
        return GPU_BUDGET_SHARE * torch.cuda.get_device_properties(device).total_memory / 1e9
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):  # not on Linux or macOS
        return CPU_BUDGET_GB
    return min(CPU_BUDGET_GB, physical / 4)


def budget_bytes(settings: Settings, device: torch.device | str) -> float:
    """`settings.memory_budget_gb`, or the device's default, in bytes."""
    gb = settings.memory_budget_gb if settings.memory_budget_gb is not None else default_budget_gb(device)
    return gb * 1e9


def step_bytes_per_pixel(methods: Iterable[str]) -> int:
    """Memory of a step per pixel the network sees with these style methods."""
    return STEP_BYTES_PER_PIXEL + sum(get_method(m).extra_bytes_per_pixel for m in set(methods))


@dataclass(frozen=True)
class ScaleLayout:
    """How one scale of `height` × `width` px is optimised: whole (`tile` None) or in tiles whose
    cores are at most `tile` px a side, each seen with `halo` px around it (`nst.tiles.tile_grid`)."""

    height: int
    width: int
    tile: int | None = None
    halo: int = 0

    @property
    def tiled(self) -> bool:
        return self.tile is not None

    @property
    def blend(self) -> int:
        """Half-width of the band over which two tiles' gradients cross-fade at a cut
        (`nst.tiles.blend_window`): half the halo, so the band keeps as far from the crops' edges."""
        return self.halo // 2

    def _lengths(self) -> list[int]:
        """The core length L along the height and the width (`nst.tiles.core_length`)."""
        return [edge if self.tile is None else core_length(edge, self.tile) for edge in (self.height, self.width)]

    def largest_crop(self) -> int:
        """Pixels of the largest crop a step can have: a core of L × L' px and its halos (clipped to the image)."""
        rows, cols = (min(edge, length + 2 * self.halo) for edge, length in zip((self.height, self.width),
                                                                                  self._lengths()))
        return rows * cols

    def mean_cuts(self) -> tuple[float, float]:
        """Cuts a step makes along the height and the width, on average over its offset: edge / L
        where the edge is cut (a cut every L px from an offset uniform over L), else none."""
        rows, cols = (edge / length if length < edge else 0.0
                      for edge, length in zip((self.height, self.width), self._lengths()))
        return rows, cols

    def most_tiles(self) -> int:
        """The most tiles a step can have: along a cut edge, one more core than the ⌈edge / L⌉ of a step
        cut at no offset."""
        rows, cols = (math.ceil(edge / length) + (length < edge)
                      for edge, length in zip((self.height, self.width), self._lengths()))
        return rows * cols

    def mean_tiles(self) -> float:
        """Tiles of a step, on average over its offset: one more core than cuts along each edge."""
        rows, cols = self.mean_cuts()
        return (rows + 1) * (cols + 1)

    def seen_pixels(self) -> float:
        """Pixels the network sees in one step, on average over its offset: the image, plus the
        halos on both sides of each cut."""
        rows, cols = self.mean_cuts()
        return (self.height + 2 * self.halo * rows) * (self.width + 2 * self.halo * cols)


def layout_scale(settings: Settings, height: int, width: int, steps: int, budget: float,
                 painting_pixels: int = 0) -> ScaleLayout:
    """The layout of a scale of `height` × `width` px and `steps` steps under `budget` bytes:
    whole when a step of the whole image fits (with L-BFGS's history when it runs L-BFGS),
    else tiles as large as fit beside the tiled scale's whole-image tensors. `painting_pixels`:
    the largest painting at this scale, whose targets are computed whole.

    Raises `NSTError` when not even the smallest tile or the painting's targets fit.
    """
    methods = fusion_weights(settings.method, settings.fusion)
    per_pixel = step_bytes_per_pixel(methods)
    pixels = height * width
    history = 2 * min(steps, _LBFGS_HISTORY) * _RGB_BYTES if settings.optimizer_at(max(height, width)) == "lbfgs" \
        else 0
    if painting_pixels * TARGET_BYTES_PER_PIXEL + 2 * pixels * _RGB_BYTES > budget:
        most = math.isqrt(int(max(budget - 2 * pixels * _RGB_BYTES, 0) / TARGET_BYTES_PER_PIXEL))
        raise NSTError(f"the painting's features at {max(height, width)} px need more than the memory budget of "
                       f"{budget / 1e9:.2g} GB (it holds a painting of about {most} px square): lower style_scale "
                       "or raise memory_budget_gb")
    if pixels * (per_pixel + history + 2 * _RGB_BYTES) <= budget:
        return ScaleLayout(height, width)
    free = budget - pixels * _TILED_IMAGES * _RGB_BYTES
    # The largest tile whose biggest crop fits: each edge is split in near-equal cores
    # (`core_length`), so a tile a little larger than a square crop allows may still fit.
    fits = [tile for tile in range(MIN_TILE, ALIGN * math.ceil(max(height, width) / ALIGN) + 1, ALIGN)
            if ScaleLayout(height, width, tile, HALO).largest_crop() * per_pixel <= free]
    if not fits:
        least = (pixels * _TILED_IMAGES * _RGB_BYTES
                 + ScaleLayout(height, width, MIN_TILE, HALO).largest_crop() * per_pixel) / 1e9
        raise NSTError(f"a memory budget of {budget / 1e9:.2g} GB is too small for a {max(height, width)} px scale: "
                       f"it needs at least {least:.2g} GB; raise memory_budget_gb or lower the size")
    return ScaleLayout(height, width, max(fits), HALO)


def scale_layouts(settings: Settings, content_size: tuple[int, int], painting_sizes: Sequence[tuple[int, int]],
                  device: torch.device | str) -> tuple[ScaleLayout, ...]:
    """`layout_scale` of every scale of `settings.scale_plan()` on `device`, for a photo and
    paintings of these (width, height) sizes at full resolution."""
    budget = budget_bytes(settings, device)
    layouts = []
    for size, steps in settings.scale_plan():
        width, height = long_edge_size(content_size, size)
        edge = settings.painting_edge(size)
        painting = max((math.prod(long_edge_size(p, edge)) for p in painting_sizes), default=0)
        layouts.append(layout_scale(settings, height, width, steps, budget, painting))
    return tuple(layouts)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no process-wide CDLL(None)
        return None


def release_free_memory() -> bool:
    """Return the memory the C allocator holds free to the system (glibc's `malloc_trim(0)`);
    True when some was returned. A no-op, False, without glibc.

    Each tile of a tiled step has a crop of another shape, so the activations one tile frees
    leave holes in the heap that the next tile's do not fit; glibc keeps those pages
    resident, and the process grew by every step. A 1024 px scale in 12 tiles (a 0.8 GB
    budget, VGG-19, two CPU cores) went from 1.44 to 2.04 GiB over six steps; trimmed after
    each tile, from 1.36 to 1.47 GiB, in the same time (about 24 s a step).
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
