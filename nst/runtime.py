"""Where a run executes and roughly how long it will take.

A step costs about `overhead + per_pixel · pixels` (one forward and backward pass of
the VGG and the loss), so the real loop timed at two sizes fixes the line for a
device; the extra cost per pixel of the methods that declare one (the Gaussian MMD,
`Method.extra_per_pixel`) is timed apart. A tiled scale (`nst.tiled`) costs, per step,
one such step per tile on the pixels of its crop (halos included), plus a forward pass of
the tile's photo patch for its content target. `step_times` times every step of a real
run (the benchmark uses it).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from PIL import Image

from .budget import ScaleLayout, scale_layouts
from .config import Settings
from .features import VGGFeatures
from .images import ImageSource
from .methods import METHODS, fusion_weights
from .stylize import iter_stylize

__all__ = ["CONTENT_PASS_SHARE", "SpeedModel", "describe_device", "measure_speed", "step_times"]

# A tile's content target: a forward pass of its photo patch to relu4_2 without gradient, this share
# of a step's forward and backward pass to relu5_1 (a 2048 px square step in 16 tiles on two CPU
# cores, the paper's VGG-19: 30 s against 84 s; 37 s when the pass went on to relu5_1).
CONTENT_PASS_SHARE = 0.35


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def describe_device(device: str | torch.device) -> str:
    """A short name: 'NVIDIA H100 80GB HBM3', 'Apple GPU (MPS)', 'CPU (2 cores)'."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple GPU (MPS)"
    cores = _cpu_cores()
    return f"CPU ({cores} core{'s' if cores != 1 else ''})"


@dataclass(frozen=True)
class SpeedModel:
    """Seconds per optimizer step ≈ `overhead + pixels · (per_pixel + extra)`.

    `extra` is the additional cost per pixel of the costlier methods in the run
    (`extra_per_pixel`, e.g. the Gaussian MMD's pair sums); the other methods cost
    about the same as each other, since the VGG's forward and backward pass dominates.
    """

    overhead: float
    per_pixel: float
    extra_per_pixel: tuple[tuple[str, float], ...] = ()

    def step_seconds(self, pixels: int, methods: Iterable[str] = ()) -> float:
        extra = sum(cost for name, cost in self.extra_per_pixel if name in set(methods))
        return self.overhead + (self.per_pixel + extra) * pixels

    def estimate(self, size: int, steps: int, methods: Iterable[str] = (), aspect: float = 1.0) -> float:
        """Seconds for `steps` steps at long edge `size` with `methods`; `aspect` = short / long edge (≤ 1)."""
        pixels = round(size * size * min(max(aspect, 0.0), 1.0))
        return steps * self.step_seconds(pixels, methods)

    def tiled_step_seconds(self, layout: ScaleLayout, methods: Iterable[str] = ()) -> float:
        """Seconds of one step of a scale laid out as `layout`: one step per tile (as many as a
        step has on average) on the pixels its crops hold, each with its photo patch's forward pass."""
        per_pixel = self.step_seconds(1, methods) - self.overhead
        return (1 + CONTENT_PASS_SHARE) * (layout.mean_tiles() * self.overhead + layout.seen_pixels() * per_pixel)

    def run_seconds(self, settings: Settings, aspect: float = 1.0, device: str | torch.device | None = None) -> float:
        """Seconds for the whole run `settings` describes: every scale of its plan, with its methods.
        With a `device`, the scales that do not fit its memory budget are counted in tiles
        (`nst.budget.scale_layouts`); without, every scale whole."""
        methods = tuple(fusion_weights(settings.method, settings.fusion))
        plan = settings.scale_plan()
        if device is None:
            return sum(self.estimate(size, count, methods, aspect) for size, count in plan)
        shape = (1_000_000, round(1_000_000 * min(max(aspect, 0.0), 1.0)))  # (width, height): only the ratio counts
        layouts = scale_layouts(settings, shape, [], device)
        return sum(count * self.tiled_step_seconds(layout, methods) if layout.tiled
                   else self.estimate(size, count, methods, aspect) for (size, count), layout in zip(plan, layouts))


def _noise_image(size: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def step_times(extractor: VGGFeatures, content: ImageSource, style: ImageSource,
               settings: Settings) -> list[float]:
    """Wall-clock seconds of each of the `settings.steps` steps of the real loop.

    The first includes loading the images and building the targets. The loop reads the
    loss every step, so CUDA is synchronised at each time stamp.
    """
    stamps = [time.perf_counter()]
    for _ in iter_stylize(content, style, settings, extractor=extractor):
        stamps.append(time.perf_counter())
    return [b - a for a, b in zip(stamps, stamps[1:])]


def _time_step(extractor: VGGFeatures, size: int, method: str, steps: int = 2) -> float:
    """Median seconds of `steps` steps of the real loop at `size` px, after one untimed step."""
    settings = Settings(method=method, size=size, steps=steps + 1)
    return statistics.median(step_times(extractor, _noise_image(size, 0), _noise_image(size, 1), settings)[1:])


def measure_speed(extractor: VGGFeatures, sizes: tuple[int, int] | None = None) -> SpeedModel:
    """Time the loop at two sizes with Gram matching, and each costlier method (the Gaussian MMD) at
    the larger; fit the line.

    The default sizes are 64 and 128 px on a CPU, 256 and 1024 px on a GPU (where small
    images cost no more than kernel launches). The weights' values do not matter, so a
    random extractor on the same device serves.
    """
    small, large = sizes or ((64, 128) if extractor.device.type == "cpu" else (256, 1024))
    t_small, t_large = (_time_step(extractor, size, "poly") for size in (small, large))
    per_pixel = max(t_large - t_small, 0.0) / (large * large - small * small)
    overhead = max(t_small - per_pixel * small * small, 0.0)
    extra = tuple((m.name, max(_time_step(extractor, large, m.name) - t_large, 0.0) / (large * large))
                  for m in METHODS.values() if m.extra_per_pixel > 0)
    return SpeedModel(overhead=overhead, per_pixel=per_pixel, extra_per_pixel=extra)

