"""Where a run executes and roughly how long it will take.

The app tells a visitor, before a run starts, which device it runs on and about how
many seconds the chosen size and steps will cost; ZeroGPU needs the same number to
reserve a GPU. A step costs about `overhead + per_pixel · pixels` (one forward and
backward pass of VGG-19), so two timed steps at two small sizes fix the line for a
device. On a CPU the app starts from smaller defaults so that a run takes about a
minute instead of half an hour.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from .config import CONTENT_LAYER, STYLE_LAYERS, field_spec
from .features import VGG19Features

__all__ = [
    "CPU_SIZE",
    "CPU_STEPS",
    "ZERO_GPU_SPEED",
    "SpeedModel",
    "on_zero_gpu",
    "describe_device",
    "run_defaults",
    "measure_speed",
    "format_seconds",
]

# 256 px costs about 0.6 s per step on two CPU cores, so 100 steps take about a minute.
CPU_SIZE = 256
CPU_STEPS = 100


def on_zero_gpu() -> bool:
    """True on a Hugging Face ZeroGPU Space (the `spaces` package reads the same variable)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def describe_device(device: str | torch.device) -> str:
    """A short name for the page: 'NVIDIA H100 80GB HBM3', 'CPU (2 cores)', 'ZeroGPU (…)'."""
    dev = torch.device(device)
    if dev.type == "cuda" and on_zero_gpu():
        # The main process of a ZeroGPU Space holds no GPU, so the name cannot be queried.
        return "ZeroGPU (a shared NVIDIA H200 slice, lent for each run)"
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple GPU (MPS)"
    cores = _cpu_cores()
    return f"CPU ({cores} core{'s' if cores != 1 else ''})"


def run_defaults(device: str | torch.device) -> dict[str, int]:
    """Default output size and steps: the library's on a GPU, `CPU_SIZE`/`CPU_STEPS` on a CPU."""
    if torch.device(device).type == "cpu":
        return {"size": CPU_SIZE, "steps": CPU_STEPS}
    return {"size": field_spec("size")["default"], "steps": field_spec("steps")["default"]}


@dataclass(frozen=True)
class SpeedModel:
    """Seconds per optimizer step ≈ `overhead + per_pixel · pixels`."""

    overhead: float
    per_pixel: float

    def step_seconds(self, pixels: int) -> float:
        return self.overhead + self.per_pixel * pixels

    def estimate(self, size: int, steps: int, aspect: float = 1.0) -> float:
        """Seconds for `steps` steps at long edge `size`; `aspect` = short edge / long edge (≤ 1)."""
        pixels = round(size * size * min(max(aspect, 0.0), 1.0))
        return steps * self.step_seconds(pixels)


# Measured on one NVIDIA H200 with this loop; a ZeroGPU slice (3 of the 7 compute
# slices of an H200) is assumed proportionally slower. Used where no GPU can be timed
# in advance: the main process of a ZeroGPU Space.
_H200_SPEED = SpeedModel(overhead=0.004, per_pixel=1.6e-8)
ZERO_GPU_SPEED = SpeedModel(overhead=_H200_SPEED.overhead, per_pixel=_H200_SPEED.per_pixel * 7 / 3)


def _time_step(extractor: VGG19Features, size: int) -> float:
    layers = (*STYLE_LAYERS, CONTENT_LAYER)
    image = torch.rand(1, 3, size, size, device=extractor.device, requires_grad=True)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize(extractor.device)
    start = time.perf_counter()
    feats = extractor(image, layers)
    sum(f.float().square().mean() for f in feats.values()).backward()
    if extractor.device.type == "cuda":
        torch.cuda.synchronize(extractor.device)
    return time.perf_counter() - start


def measure_speed(extractor: VGG19Features, sizes: tuple[int, int] = (64, 128)) -> SpeedModel:
    """Time one forward and backward pass at two sizes (after a warm-up) and fit the line.

    The weights' values do not matter, so a random extractor on the same device serves.
    """
    small, large = sizes
    _time_step(extractor, small)  # warm-up: allocator, kernels, thread pool
    t_small = min(_time_step(extractor, small) for _ in range(2))
    t_large = min(_time_step(extractor, large) for _ in range(2))
    per_pixel = max(t_large - t_small, 0.0) / (large * large - small * small)
    overhead = max(t_small - per_pixel * small * small, 0.0)
    return SpeedModel(overhead=overhead, per_pixel=per_pixel)


def format_seconds(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 2.5 h'."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
