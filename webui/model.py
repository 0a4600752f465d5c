"""The one network of the process, shared by every visitor and every tab.

Every tab's handlers are bound to one `SharedModel(network, device)`: calling it returns
the cached extractor (`nst.weights.load_extractor` loads once per process) or raises
`NSTError` saying how to provide weights; GPU functions take its `network` and `device`
instead, as plain arguments, and load the same way in their own process. Style targets and optimizer state
belong to each request, never to this object. It also knows the page's defaults for
its device and how fast that device runs.
"""

from __future__ import annotations

import functools
import os

import torch

from nst.config import CPU_PRESET, Settings, field_spec
from nst.errors import NSTError
from nst.features import VGGFeatures, random_extractor
from nst.runtime import SpeedModel, measure_speed
from nst.weights import default_device, load_extractor

from .gpu import ZERO_GPU_SPEED, device_name, on_zero_gpu

__all__ = ["SharedModel", "page_defaults"]


def page_defaults(device: str | torch.device) -> dict[str, int]:
    """Output size and steps the page starts from: the library's on a GPU, `nst.config.CPU_PRESET`'s
    on a CPU (where its scales, left at auto, go coarse to fine: `Settings.on_device`)."""
    if torch.device(device).type == "cpu":
        return {"size": CPU_PRESET["size"], "steps": CPU_PRESET["steps"]}
    return {"size": field_spec("size")["default"], "steps": field_spec("steps")["default"]}


class SharedModel:
    """The network (a name or a file, as `load_extractor` takes it) and the device that runs it;
    calling it gives the extractor."""

    def __init__(self, network: str | os.PathLike = "auto", device: str | torch.device | None = None) -> None:
        self.network = str(network)
        self.device = torch.device(device) if device is not None else default_device()
        self._problem: str | None = None

    def __call__(self, pooling: str = "avg") -> VGGFeatures:
        """The shared extractor; raises `NSTError` (with how to provide weights) when there are none.

        A failed lookup is not repeated: its reason is kept for the life of the process, so
        every later request is answered at once (provide the weights, then restart).
        """
        if self._problem is not None:
            raise NSTError(self._problem)
        try:
            return load_extractor(self.network, pooling=pooling, device=self.device)
        except NSTError as exc:
            self._problem = str(exc)
            raise

    def preload(self) -> str | None:
        """Load now, so the first visitor does not wait; the problem in one line, or None."""
        try:
            self()
        except NSTError as exc:
            return str(exc)
        return None

    @property
    def problem(self) -> str | None:
        """Why no network could be loaded, once a lookup has failed; None otherwise."""
        return self._problem

    @property
    def defaults(self) -> dict[str, int]:
        """`page_defaults` of this model's device."""
        return page_defaults(self.device)

    @property
    def device_name(self) -> str:
        return device_name(self.device)

    @property
    def label(self) -> str:
        """The network in use, for the page ("VGG-19 (ImageNet, Caffe): the paper's network"), or that there is none."""
        try:
            return self().label
        except NSTError:
            return "no network"

    def run_seconds(self, settings: Settings) -> float:
        """About how long `settings` take here (`SpeedModel.run_seconds`), a print's tiles counted
        from this device's memory budget. ZeroGPU's main process has no GPU to read a budget
        from; there every scale is counted whole, as a slice's memory holds a 4096 px step."""
        device = None if on_zero_gpu() else self.device
        return self.speed.run_seconds(settings, device=device)

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
