"""The run service: every tab's GPU work as one picklable `Job`, one GPU entry point, one stream.

A `Job` says what to run (a `Stylization`, a `PaperCell`, the explain tab's `Features` or
the Explore tab's `Exploration`), on which network and device, and the GPU seconds to
reserve (`webui.gpu.reservation`).
`run_on_gpu` is the one function wrapped by `webui.gpu.gpu`: on ZeroGPU it runs in another
process, so the job is pickled there and what it yields comes back on the CPU. The
kinds thin out their frames on the GPU side (an image at most every `interval` seconds,
a cell's ~10 previews), so that images are not converted or sent at every step.

`Runs.stream(job, visitor)` refuses at once, before a GPU is reserved (no weights, more
than a ZeroGPU loan), then passes on the job's frames as a run of `visitor`
(`webui.visitors`): Stop and leaving the page end it at the current step, and the slot
and the generator are released however it ends. The tabs' handlers only turn frames
into their outputs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from PIL import Image

from nst import explain, explore
from nst.config import Settings
from nst.features import VGGFeatures
from nst.images import ImageSource
from nst.paper import Cell, CellProgress, iter_render_cell
from nst.request import Request
from nst.stylize import iter_stylize
from nst.weights import load_extractor

from . import gpu
from .model import SharedModel
from .visitors import Visitors

__all__ = ["Frame", "Stylization", "PaperCell", "Features", "Exploration", "Job", "run_on_gpu", "Runs"]

# A streamed cell render shows about this many intermediate images.
_PREVIEWS = 10


@dataclass(frozen=True)
class Frame:
    """What a stylization reports after every step: the losses of `step` of `steps` and,
    every `interval` seconds and at the end, the image. `timed_out`: the run reached its
    wall-time cap at this step, which ends it. `complete`: false for a tile of a tiled step
    other than its last (`nst.step.Step.complete`). `stopped`: why early stopping ended the run
    at this step (`nst.step.Step.stopped`). `scale` of `scales` and `tile` of `tiles` say where
    the run is, as `nst.step.Step` does."""

    step: int
    steps: int
    losses: dict[str, float]
    image: Image.Image | None
    elapsed: float
    timed_out: bool = False
    complete: bool = True
    stopped: str | None = None
    scale: int = 1
    scales: int = 1
    tile: int = 1
    tiles: int = 1

    @property
    def final(self) -> bool:
        return (self.step == self.steps and self.complete) or self.timed_out or self.stopped is not None


@dataclass(frozen=True)
class Stylization:
    """The Stylize tab's run of `request`: a `Frame` per step, the image at most every
    `interval` seconds, ending at the last step or the first to reach `max_seconds`."""

    request: Request
    interval: float = 0.5
    max_seconds: float = math.inf

    @property
    def settings(self) -> Settings:
        return self.request.settings

    def frames(self, extractor: VGGFeatures) -> Iterator[Frame]:
        """A frame per step (so the caller may stop at any step), with the image at step 1, then
        at most every `interval` seconds, and at the last step."""
        last_shown = -math.inf
        steps = iter_stylize(self.request, extractor=extractor)
        try:
            for step in steps:
                now = time.monotonic()
                timed_out = step.elapsed >= self.max_seconds and step.step < step.steps
                show = now - last_shown >= self.interval or step.last or timed_out
                last_shown = now if show else last_shown
                yield Frame(step.step, step.steps, step.losses, step.pil() if show else None, step.elapsed, timed_out,
                            step.complete, step.stopped, step.scale, step.scales, step.tile, step.tiles)
                if timed_out:
                    return
        finally:
            steps.close()  # frees the optimizer and targets now, also when the caller stops early


@dataclass(frozen=True)
class PaperCell:
    """Rendering a paper cell into `cache`: about `_PREVIEWS` intermediate steps, then the
    finished cell, with images on the CPU; None for each step in between."""

    cell: Cell
    cache: Path

    @property
    def settings(self) -> Settings:
        return self.cell.settings

    def frames(self, extractor: VGGFeatures) -> Iterator[CellProgress | None]:
        every = max(1, self.settings.steps // _PREVIEWS)
        for progress in iter_render_cell(self.cell, self.cache, extractor):
            step = progress.step
            if progress.done or (step.step % every == 0 and step.step < step.steps):
                yield CellProgress(dataclasses.replace(step, image=step.image.cpu()), progress.rendered)
            else:
                yield None  # a step where the caller may stop the render


@dataclass(frozen=True)
class Features:
    """The explain tab's feature pass: one frame, label → layer → `(N, M)` CPU features of
    `images` (paths or PIL images) at long edge `size`."""

    images: dict[str, ImageSource]
    size: int

    @property
    def settings(self) -> Settings:
        # Three forward passes (content, style, result) cost about as much as 1.5 optimizer
        # steps (a step is a forward and a backward pass), so a reservation for two covers them.
        return Settings(size=self.size, steps=2, scales=1)

    def frames(self, extractor: VGGFeatures) -> Iterator[dict[str, dict[str, torch.Tensor]]]:
        yield explain.layer_features(extractor, self.images, size=self.size)


@dataclass(frozen=True)
class Exploration:
    """The Explore tab's cells from `request`'s inputs: None after each step (where the caller
    may stop) and an `nst.explore.Explored` per finished cell, measured on the `judge`
    network (a name for `load_extractor`; None: the run's own network)."""

    request: Request
    cells: tuple[explore.ExploreCell, ...]
    judge: str | None

    @property
    def settings(self) -> Settings:
        # All the cells' steps at the costliest cell's price: what the reservation must cover.
        costliest = max(self.cells, key=lambda c: gpu.needed_seconds(c.settings)).settings
        return costliest.replace(steps=sum(c.settings.steps for c in self.cells))

    def frames(self, extractor: VGGFeatures) -> Iterator[explore.Explored | None]:
        judge = None if self.judge is None else load_extractor(self.judge, device=extractor.device)
        yield from explore.iter_explore(self.request, self.cells, extractor, judge)


# What a job may run: each kind has the `settings` it reserves for and yields `frames` from an extractor.
Work = Stylization | PaperCell | Features | Exploration


@dataclass(frozen=True)
class Job:
    """One GPU run, picklable: the `work`, the `network` and `device` as
    `nst.weights.load_extractor` takes them, and the GPU `seconds` to reserve."""

    work: Work
    network: str
    device: str
    seconds: int


def _reserved(job: Job) -> int:
    return job.seconds


@gpu.gpu(duration=_reserved)
def run_on_gpu(job: Job) -> Iterator[Any]:
    """The one GPU entry point: `job`'s frames, on the extractor of its network (loaded here,
    once per process)."""
    extractor = load_extractor(job.network, pooling=job.work.settings.pooling, device=job.device)
    yield from job.work.frames(extractor)


class Runs:
    """The run service of the process's shared model; `visitors` counts and stops the runs."""

    def __init__(self, model: SharedModel, visitors: Visitors | None = None) -> None:
        self.model = model
        self.visitors = visitors or Visitors()

    def job(self, work: Work) -> Job:
        """`work` on the shared model, with its `webui.gpu.reservation`."""
        return Job(work, self.model.network, str(self.model.device), gpu.reservation(work.settings))

    def stream(self, job: Job, visitor: str | None) -> Iterator[Any]:
        """The frames of `job` as a run of `visitor`. Raises `NSTError` here, before a GPU is
        reserved, when there are no weights or the job needs more than a ZeroGPU loan."""
        self.model(job.work.settings.pooling)
        gpu.refuse_if_too_long(job.work.settings)
        return self.visitors.until_stopped(visitor, functools.partial(run_on_gpu, job))
