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

The crop's loss, times its pixel count as in the whole-image loop, gives the gradient, and
only the core is updated: every pixel once per step, from a crop that saw `halo` pixels of
context around it.

The optimizer is Adam with its two moments over the whole image (2 × 12 bytes a pixel,
400 MB for a 4096 px square), each core updating its own part of them: since each pixel
is updated once per step, its moments and bias correction are exactly those of Adam on
the whole image fed the tiles' gradients. L-BFGS is not used here: its history of 50
image-sized pairs would take 100 times the image's memory (20 GB at 4096 px), and the
tiles' changing objectives would mix in its curvature pairs. With one tile that covers
the image this is Adam on the whole image, step for step (tested against torch's).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Generator

import torch
from torch import Tensor

from .budget import ScaleLayout
from .config import DEFAULT_LR, Settings
from .errors import NSTError
from .features import VGGFeatures
from .objective import Objective, StyleTargets
from .step import Step, deterministic_cudnn, step_seed
from .tiles import tile_grid

__all__ = ["ADAM_BETAS", "ADAM_EPS", "adam_update", "tiled_lr", "optimise_tiled"]

# torch.optim.Adam's defaults, which the whole-image loop runs with.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def adam_update(x: Tensor, grad: Tensor, m: Tensor, v: Tensor, t: int, lr: float) -> None:
    """One Adam step (Kingma and Ba), in place, on `x` and its moments `m`, `v` (views of equal shape):

        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
        x ← x − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    with β = `ADAM_BETAS`, ε = `ADAM_EPS` and `t` the 1-based count of this pixel's updates, in
    torch.optim.Adam's order of operations, so that it gives the same numbers.
    """
    beta1, beta2 = ADAM_BETAS
    m.lerp_(grad, 1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(ADAM_EPS)
    x.addcdiv_(m, denom, value=-lr / (1 - beta1**t))


def tiled_lr(settings: Settings) -> float:
    """Adam's learning rate on a tiled scale: `settings.lr` when the run is an Adam run, else Adam's default
    (an L-BFGS learning rate is a share of its quasi-Newton step, not a step size)."""
    if settings.optimizer_used() == "adam" and settings.lr is not None:
        return settings.lr
    return DEFAULT_LR["adam"]


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
    moments = torch.zeros_like(image), torch.zeros_like(image)
    lr = tiled_lr(settings)
    placement = torch.Generator().manual_seed(settings.seed)  # the offsets of the cuts
    height, width = image.shape[-2:]
    shown = show(image.clamp(0, 1))
    for step in range(done + 1, done + count + 1):
        tiles = tile_grid(height, width, layout.tile, layout.halo, placement)
        generator = torch.Generator().manual_seed(step_seed(settings.seed, step))
        sums: dict[str, float] = {}
        covered = 0
        for index, tile in enumerate(tiles, start=1):
            rows, cols = tile.crop_slices
            crop = image[..., rows, cols].clone().requires_grad_(True)
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
            top, left, bottom, right = tile.core
            core_rows, core_cols = tile.core_in_crop
            with torch.no_grad():
                adam_update(image[..., top:bottom, left:right], crop.grad[..., core_rows, core_cols],
                            moments[0][..., top:bottom, left:right], moments[1][..., top:bottom, left:right],
                            step - done, lr)
            covered += tile.core_pixels
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * tile.core_pixels
            if index == len(tiles):
                shown = show(image.clamp(0, 1))
            yield Step(step, settings.steps, {name: value / covered for name, value in sums.items()}, shown,
                       time.perf_counter() - start, scale, scales, index, len(tiles), tile.core)
    return image.clamp(0, 1)
