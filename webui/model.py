"""The one network of the process, shared by every visitor and every tab.

`SharedModel(weights)` is the zero-argument `get_extractor` the tabs take: calling it
returns the cached extractor (`nst.weights.load_extractor` loads once per process) or
raises `NSTError` saying how to provide weights. Style targets and optimizer state
belong to each request, never to this object.

`gpu(duration)` is `spaces.GPU(duration=duration)` where the `spaces` package is
installed (it does nothing off ZeroGPU) and a plain pass-through elsewhere.
"""

from __future__ import annotations

import functools
import os
from typing import Callable, TypeVar

import torch

from nst.errors import NSTError
from nst.features import VGGFeatures, random_extractor
from nst.runtime import ZERO_GPU_SPEED, SpeedModel, describe_device, measure_speed, on_zero_gpu
from nst.weights import default_device, load_extractor

try:  # ZeroGPU needs `spaces` imported before CUDA is touched; app.py imports it first.
    import spaces
except ImportError:
    spaces = None

__all__ = ["SharedModel", "gpu"]

F = TypeVar("F", bound=Callable)


def gpu(duration: Callable[..., int]) -> Callable[[F], F]:
    """Decorate the GPU work: `duration` takes the same arguments and returns seconds to reserve."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


class SharedModel:
    """Where the weights come from and which device runs them; calling it gives the extractor."""

    def __init__(self, weights: str | os.PathLike = "auto", device: str | torch.device | None = None) -> None:
        self.weights = str(weights)
        self.device = torch.device(device) if device is not None else default_device()

    def __call__(self, pooling: str = "avg") -> VGGFeatures:
        """The shared extractor; raises `NSTError` (with how to provide weights) when there are none."""
        return load_extractor(self.weights, pooling=pooling, device=self.device)

    def preload(self) -> str | None:
        """Load now, so the first visitor does not wait; the problem in one line, or None."""
        try:
            self()
        except NSTError as exc:
            return str(exc)
        return None

    @property
    def device_name(self) -> str:
        return describe_device(self.device)

    @property
    def label(self) -> str:
        """The network and weights in use, for the page ("VGG-16 (HED) stand-in"), or why there are none."""
        try:
            return self().label
        except NSTError:
            return "no weights yet"

    @functools.cached_property
    def speed(self) -> SpeedModel:
        """Seconds per step on this device, timed once per process (no timing possible on ZeroGPU)."""
        if self.device.type == "cuda" and on_zero_gpu():
            return ZERO_GPU_SPEED
        try:
            extractor = self()
        except NSTError:  # the speed does not depend on the weights' values
            extractor = random_extractor(0).to(self.device)
        return measure_speed(extractor)
