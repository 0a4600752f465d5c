"""What every optimizer step shares, whole image or tile: the `Step` it reports, the seed of
its random draws and its deterministic cuDNN kernels."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from .images import to_pil

__all__ = ["Step", "step_seed", "deterministic_cudnn"]


@dataclass(frozen=True)
class Step:
    """What the loop reports after optimizer step `step` of `steps` (1-based), on scale `scale`
    of `scales`; on a tiled scale after each of the step's `tiles` tiles, `tile` the one just
    updated (`box` its core, (top, left, bottom, right) in pixels of that scale).

    `image` is a detached copy `(1, 3, H, W)` in [0, 1] on the run's device: the whole image as
    the last complete step left it (inside a tiled step, the one before it). `losses` holds
    the terms evaluated at the start of the step; on a tiled scale, their mean over the
    step's tiles so far, each weighted by its core's pixels. `stopped`: on the last step of a
    run that early stopping ended before step `steps` (`nst.stopping`), why; else None.
    """

    step: int
    steps: int
    losses: dict[str, float]
    image: Tensor
    elapsed: float
    scale: int = 1
    scales: int = 1
    tile: int = 1
    tiles: int = 1
    box: tuple[int, int, int, int] | None = None
    stopped: str | None = None

    @property
    def complete(self) -> bool:
        """Whether step `step` is done: its last tile (every tile of it) has been updated."""
        return self.tile == self.tiles

    @property
    def last(self) -> bool:
        """Whether this is the run's last step: its `steps`-th, complete, or one early stopping ended it at."""
        return (self.step == self.steps and self.complete) or self.stopped is not None

    def pil(self) -> Image.Image:
        return to_pil(self.image)


def step_seed(seed: int, step: int) -> int:
    """Seed of the Gaussian pair sample at `step`: fixed within a step, new at each."""
    return (seed * 1_000_003 + step) % 2**63


def deterministic_cudnn() -> contextlib.AbstractContextManager:
    """cuDNN limited to deterministic kernels: on an H200 the same seed then gives the
    same image bit for bit, where autotuned kernels made runs differ by up to 148 grey levels."""
    return torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True)
