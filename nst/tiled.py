"""One scale optimised in tiles, for images whose whole step does not fit the memory budget
(`nst.budget`).

A step visits the tiles of `nst.tiles.tile_grid` one after another, their cores cut at a
new random offset each step. For each tile the network sees its crop (core and halo):

- the content target is the relu4_2 features of the photo's own patch under the crop,
  so both sides of the content term see the same crop edges;
- the style terms are the scale's `StyleTargets`, built once from the whole paintings:
  the crop's feature vectors are a sample of the image's positions, matched to the
  painting's distribution, which is the paper's view of style;
- regions (a mask) are cut to the crop, each region's positions in it matched to its painting.

The crop's loss, times its pixel count as in the whole-image loop, gives its gradient;
weighted by the tile's `nst.tiles.blend_window` it is added into the step's gradient of
the whole image, which the windows cover exactly once. At the step's end one optimizer
step updates the whole image. The windows cross-fade the tiles' gradients over
2·`ScaleLayout.blend` px around each cut. Updating each core from its own tile alone left
a seam where the last step's tiles met, since each tile's style gradient follows its own
sample of positions: a 2048 px print on the paper's VGG-19, one tiled step, had a seam
ratio (`nst.seams`) of 1.31; cross-faded, 1.08.

The optimizer is torch's Adam with its two moments over the whole image (2 × 12 bytes a
pixel, 400 MB for a 4096 px square). L-BFGS is not used here: its history of 50
image-sized pairs would take 100 times the image's memory (20 GB at 4096 px), and a
print scale has too few steps for it (`Settings.optimizer_at`). With one tile that covers
the image this is Adam on the whole image, step for step (tested).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Generator

import torch
from torch import Tensor

from .budget import ScaleLayout, release_free_memory
from .config import Settings
from .errors import NSTError
from .features import VGGFeatures
from .objective import Objective, StyleTargets
from .step import Step, deterministic_cudnn, step_seed
from .tiles import blend_window, tile_grid

__all__ = ["optimise_tiled"]


def optimise_tiled(extractor: VGGFeatures, targets: StyleTargets, content: Tensor, regions: Tensor | None,
                   start_image: Tensor, settings: Settings, layout: ScaleLayout, *, done: int, count: int,
                   start: float, show: Callable[[Tensor], Tensor], scale: int = 1,
                   scales: int = 1) -> Generator[Step, None, Tensor]:
    """Steps `done + 1` … `done + count` of the run on one scale, in tiles of `layout`, from
    `start_image` `(1, 3, H, W)`, against the photo `content` `(1, 3, H, W)` (as the network
    sees it), the paintings' `targets` and the `regions` `(H, W)` (None: no mask).

    Yields a `Step` after every tile; its image, `show` of the whole image, is renewed when
    the step's last tile is done. `start_image` is optimised in place (at 4096 px a copy
    would take 200 MB of the budget): pass a tensor of the run's own. Returns the optimised
    image, clamped to [0, 1].
    """
    if layout.tile is None:
        raise NSTError("optimise_tiled needs a tiled layout")
    image = start_image.detach()
    size = max(image.shape[-2:])
    adam = torch.optim.Adam([image], lr=settings.lr_at(size, tiled=True))
    placement = torch.Generator().manual_seed(settings.seed)  # the offsets of the cuts
    height, width = image.shape[-2:]
    shown = show(image.clamp(0, 1))
    for step in range(done + 1, done + count + 1):
        tiles = tile_grid(height, width, layout.tile, layout.halo, placement)
        generator = torch.Generator().manual_seed(step_seed(settings.seed, step))
        image.grad = torch.zeros_like(image)
        sums: dict[str, float] = {}
        covered = 0
        for index, tile in enumerate(tiles, start=1):
            rows, cols = tile.crop_slices
            crop = image.detach()[..., rows, cols].clone().requires_grad_(True)
            objective = Objective(extractor, content[..., rows, cols], targets, settings,
                                  None if regions is None else regions[rows, cols])
            pixels = crop.shape[-1] * crop.shape[-2]
            with deterministic_cudnn():
                total, parts = objective(crop, generator)
                (total * pixels).backward()
            values = {name: float(v.detach()) for name, v in parts.items()}
            if not math.isfinite(values["total"]):
                raise NSTError(f"the loss stopped being finite at step {step}; try a smaller learning rate")
            assert crop.grad is not None
            window = blend_window(tile, height, width, layout.blend).to(crop.grad)
            image.grad[..., rows, cols] += window * crop.grad
            covered += tile.core_pixels
            del crop, objective, window
            release_free_memory()  # the next tile's crop has another shape (see release_free_memory)
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * tile.core_pixels
            if index == len(tiles):
                adam.step()
                shown = show(image.detach().clamp(0, 1))
            yield Step(step, settings.steps, {name: value / covered for name, value in sums.items()}, shown,
                       time.perf_counter() - start, scale, scales, index, len(tiles), tile.core)
    image.grad = None
    return image.detach().clamp(0, 1)
