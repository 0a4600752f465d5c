"""GPU and queue policy of the app, in one place for every tab.

- `QUEUE_SIZE`: how many requests may wait; Gradio shows each its place in the queue.
- `HEAVY`: the queue settings of every event that runs the network. They share one
  concurrency group with one slot, so a stylization, an analysis and a figure cell
  wait for each other instead of competing for the same GPU. `LIGHT`: events that run
  no network (the playground's animations) share a group of their own with more slots,
  so they never wait behind a stylization.
- `reservation`: the seconds to ask ZeroGPU for, from the speed model of a ZeroGPU
  slice (`ZERO_GPU_SPEED`) with a margin for loading weights, capped at what ZeroGPU
  lends at once (`MAX_SECONDS`); `refuse_if_too_long` turns away a run that would not
  fit before any GPU is asked for.
- `gpu(duration)`: `spaces.GPU(duration=duration)` where the `spaces` package is
  installed (it does nothing off ZeroGPU), a pass-through elsewhere. It decorates one
  function, `webui.runs.run_on_gpu`, which runs in another process on ZeroGPU: it takes
  a picklable `webui.runs.Job` and returns CPU data.

Every estimate takes the run's `Settings`, so it follows its scale plan and its methods.
"""

from __future__ import annotations

import math
import os
from typing import Callable, TypeVar

import torch

from nst.config import Settings
from nst.errors import NSTError
from nst.methods import METHODS
from nst.runtime import SpeedModel, describe_device

from .text import format_seconds

try:  # ZeroGPU needs `spaces` imported before CUDA is touched; app.py imports it first.
    import spaces
except ImportError:
    spaces = None

__all__ = ["QUEUE_SIZE", "HEAVY", "LIGHT", "MAX_SECONDS", "ZERO_GPU_SPEED", "on_zero_gpu", "device_name", "needed_seconds", "reservation",
           "refuse_if_too_long", "gpu"]

# Requests waiting beyond the running ones; one more gets Gradio's "Queue is full".
QUEUE_SIZE = 16
HEAVY = {"concurrency_id": "gpu", "concurrency_limit": 1}
LIGHT = {"concurrency_id": "light", "concurrency_limit": 8}
# ZeroGPU lends a GPU for a few minutes at most; shorter requests get served sooner.
MAX_SECONDS = 120
# Loading the weights onto the lent GPU and building the style targets.
_START_SECONDS = 15
# The speed model is a fit; a run's real time scatters around it.
_MARGIN = 1.5

# Measured on one NVIDIA H200 with the loop of `nst.stylize` (poly up to 2048 px: 7.4 ms
# at 256 px, 47 ms at 2048; each costlier method's extra cost per pixel is its
# `Method.extra_per_pixel`, measured there too). A ZeroGPU slice holds 3 of the
# 7 compute slices of an H200, so its per-pixel costs are taken 7/3 times higher. Used
# where no GPU can be timed in advance: the main process of a ZeroGPU Space.
_H200_SPEED = SpeedModel(overhead=0.0068, per_pixel=1.43e-8, extra_per_pixel=tuple(
    (m.name, m.extra_per_pixel) for m in METHODS.values() if m.extra_per_pixel > 0))
ZERO_GPU_SPEED = SpeedModel(overhead=_H200_SPEED.overhead, per_pixel=_H200_SPEED.per_pixel * 7 / 3,
                            extra_per_pixel=tuple((m, c * 7 / 3) for m, c in _H200_SPEED.extra_per_pixel))

F = TypeVar("F", bound=Callable)


def on_zero_gpu() -> bool:
    """True on a Hugging Face ZeroGPU Space (the `spaces` package reads the same variable)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def device_name(device: torch.device) -> str:
    """The device for the page; on ZeroGPU the main process holds no GPU to ask for its name."""
    if device.type == "cuda" and on_zero_gpu():
        return "ZeroGPU (a shared NVIDIA H200 slice, lent for each run)"
    return describe_device(device)


def needed_seconds(settings: Settings) -> float:
    """GPU seconds that the run `settings` describes needs on a ZeroGPU slice (every scale of
    its plan, with its methods), start-up and margin included."""
    return _START_SECONDS + _MARGIN * ZERO_GPU_SPEED.run_seconds(settings)


def reservation(settings: Settings) -> int:
    """Seconds of GPU to reserve: `needed_seconds`, at most `MAX_SECONDS`."""
    return min(MAX_SECONDS, math.ceil(needed_seconds(settings)))


def refuse_if_too_long(settings: Settings) -> None:
    """On ZeroGPU, raise `NSTError` for work that `reservation` would cut short."""
    need = needed_seconds(settings)
    if on_zero_gpu() and need > MAX_SECONDS:
        raise NSTError(f"this run needs {format_seconds(need)} of GPU time, more than the {MAX_SECONDS} s "
                       f"ZeroGPU lends at once: lower the size or the steps")


def gpu(duration: Callable[..., int]) -> Callable[[F], F]:
    """Decorate GPU work: `duration` takes the same arguments and returns seconds to reserve."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)
