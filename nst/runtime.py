"""Where a run executes and roughly how long it will take.

A step costs about `overhead + per_pixel · pixels` (one forward and backward pass of
the VGG and the loss), so the real loop timed at two sizes fixes the line for a
device; the extra cost per pixel of the methods that declare one (the Gaussian MMD,
`Method.extra_per_pixel`) is timed apart. `step_times` times
every step of a real run (the benchmark uses it).
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

from .config import Settings
from .features import VGGFeatures
from .images import ImageSource
from .methods import METHODS, fusion_weights
from .stylize import iter_stylize

__all__ = ["SpeedModel", "describe_device", "measure_speed", "step_times"]


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

    def run_seconds(self, settings: Settings, aspect: float = 1.0) -> float:
        """Seconds for the whole run `settings` describes: every scale of its plan, with its methods."""
        methods = tuple(fusion_weights(settings.method, settings.fusion))
        return sum(self.estimate(size, count, methods, aspect) for size, count in settings.scale_plan())


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

