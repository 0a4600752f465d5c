"""Handlers of the Stylize tab: the page's `Controls` → `Settings` → a throttled stream of frames.

The GPU work is one generator, `stream_frames`, wrapped by `webui.gpu.gpu` (`spaces.GPU`
on ZeroGPU). It runs `nst.iter_stylize` and yields a `Frame` at most every `interval`
seconds (and after the last step), whatever the step rate, so the browser gets about
two images a second. `Stylizer` turns frames into what the page shows (image, loss
curve, run record, status, progress), as `{name: value}` dicts named after the fields
of `webui.stylize_tab.StylizePage`, and into the `/stylize` API's images. Closing a
handler's generator (Gradio does so when the Stop button cancels the event) closes the
loop at its current step; the last image shown stays on the page.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr
import pandas as pd
import torch
from PIL import Image

from nst.config import Settings
from nst.errors import NSTError
from nst.images import ImageSource
from nst.methods import METHODS, fusion_weights
from nst.stylize import iter_stylize
from nst.weights import load_extractor

from . import gpu
from .controls import NO_FUSION, Controls, takes_controls
from .model import SharedModel
from .page import Outputs
from .text import format_seconds

__all__ = ["Frame", "stream_frames", "loss_table", "caption", "Stylizer"]

_HISTORY_LENGTH = 24
_PLOT_POINTS = 300


@dataclass(frozen=True)
class Frame:
    """What the GPU generator reports: the image after `step` of `steps`, and the losses
    of every step since the previous frame as `(step, {term: value})` pairs."""

    step: int
    steps: int
    losses: tuple[tuple[int, dict[str, float]], ...]
    image: Image.Image
    elapsed: float

    @property
    def final(self) -> bool:
        return self.step == self.steps


def _reservation(content: ImageSource, style: ImageSource, settings: Settings, weights: str = "auto",
                 device: str | None = None, interval: float = 0.5) -> int:
    """`webui.gpu.reservation` for `stream_frames` called with the same arguments."""
    return gpu.reservation(settings.size, settings.steps, fusion_weights(settings.method, settings.mix))


@gpu.gpu(duration=_reservation)
def stream_frames(content: ImageSource, style: ImageSource, settings: Settings, weights: str = "auto",
                  device: str | None = None, interval: float = 0.5) -> Iterator[Frame]:
    """Run the optimisation and yield a `Frame` at step 1, then at most every `interval` seconds, and at the end."""
    extractor = load_extractor(weights, pooling=settings.pooling, device=device)
    pending: list[tuple[int, dict[str, float]]] = []
    last_emit = -math.inf
    steps = iter_stylize(content, style, settings, extractor=extractor)
    try:
        for step in steps:
            pending.append((step.step, step.losses))
            now = time.monotonic()
            if now - last_emit >= interval or step.step == step.steps:
                last_emit = now
                yield Frame(step.step, step.steps, tuple(pending), step.pil(), step.elapsed)
                pending = []
    finally:
        steps.close()  # frees the optimizer and targets now, also when the caller stops early


def loss_table(history: list[tuple[int, dict[str, float]]], content_weight: float, tv_weight: float = 0.0,
               max_points: int = _PLOT_POINTS) -> pd.DataFrame:
    """The objective's weighted parts per step for `gr.LinePlot`: columns step, term, value.

    Terms are always "content" (α·L_content), "style" (γ·Σ β_m L_m, all methods of a fusion
    together) and "total" (their sum, with the small smoothing term λ·TV). The same three names in every run matter: Gradio's
    plot fixes its colour domain from the first data it draws and later only swaps data.
    At most `max_points` steps are kept, always including the last.
    """
    stride = max(1, math.ceil(len(history) / max_points))
    kept = history[::stride] + (history[-1:] if (len(history) - 1) % stride else [])
    rows = []
    for step, losses in kept:
        content = content_weight * losses.get("content", 0.0)
        style = losses["total"] - content - tv_weight * losses.get("tv", 0.0)
        rows += [(step, "content", content), (step, "style", style),
                 (step, "total", losses["total"])]
    return pd.DataFrame(rows, columns=["step", "term", "value"]).astype({"step": "int64", "term": "str",
                                                                          "value": "float64"})


def caption(record: dict[str, Any]) -> str:
    """'poly · γ 5' or 'bn+poly · γ 5 (stopped)' for the gallery of earlier runs."""
    settings = Settings.from_dict(record["settings"])
    names = "+".join(m for m, _ in settings.mix) if settings.mix else settings.method
    gamma = settings.gamma_used()
    return f"{names} · γ {gamma:g}" + ("" if "seconds" in record else " (stopped)")


class Stylizer:
    """The Stylize tab's handlers, bound to the process's shared model."""

    def __init__(self, model: SharedModel, *, interval: float = 0.5) -> None:
        self.model = model
        self.interval = interval
        self._runs = itertools.count(1)

    # ----- the stream, shared by the page and the API

    def frames(self, content: str | None, style: str | None, settings: Settings) -> Iterator[Frame]:
        """`stream_frames` for this model, with every library error as a one-line `gr.Error`."""
        try:
            self._preflight(content, style, settings)
            yield from stream_frames(content, style, settings, self.model.weights, str(self.model.device),
                                     self.interval)
        except NSTError as exc:
            raise gr.Error(str(exc)) from None
        except torch.OutOfMemoryError:
            raise gr.Error(f"out of GPU memory at {settings.size} px; choose a smaller output size") from None

    def _preflight(self, content: str | None, style: str | None, settings: Settings) -> None:
        """Refuse at once, before a GPU is reserved: missing images, no weights, too long for ZeroGPU."""
        if content is None or style is None:
            missing = " and ".join(n for n, v in (("content image", content), ("style image", style)) if v is None)
            raise NSTError(f"add a {missing} first (the content image sets the output's shape)")
        self.model(settings.pooling)
        gpu.refuse_if_too_long(settings.size, settings.steps, fusion_weights(settings.method, settings.mix))

    @takes_controls
    def stylize(self, content: str | None, style: str | None, progress: gr.Progress = gr.Progress(),
                **controls: Any) -> Iterator[Image.Image]:
        """Stylize `content` with the style of `style`; yields the image as it improves, then the final one."""
        settings = _settings(controls)
        for frame in self.frames(content, style, settings):
            _report(progress, frame)
            yield frame.image

    def example(self, content: str, style: str, method: str, gamma: float) -> Iterator[Image.Image]:
        """An example pair with the device's default size and steps and the library's other defaults."""
        settings = Settings(method=method, gamma=float(gamma), **self.model.defaults)
        for frame in self.frames(content, style, settings):
            yield frame.image

    # ----- the page

    @takes_controls
    def run(self, content: str | None, style: str | None, progress: gr.Progress = gr.Progress(),
            **controls: Any) -> Iterator[Outputs]:
        """The Stylize button: yields the result, losses, record and status while the run goes on."""
        settings = _settings(controls)
        record = self._record(settings)
        history: list[tuple[int, dict[str, float]]] = []
        # The plot keeps the previous curve until this run has data (an empty table would blank it).
        yield {"result": None, "record": record, "status": "Starting…"}
        for frame in self.frames(content, style, settings):
            history.extend(frame.losses)
            _report(progress, frame)
            shown = {"result": frame.image, "status": _status(frame),
                     "losses": loss_table(history, settings.content_weight, settings.tv_weight)}
            if frame.final:
                record = {**record, "size": list(frame.image.size), "seconds": round(frame.elapsed, 2),
                          "final_losses": history[-1][1]}
                shown["record"] = record
            yield shown

    def _record(self, settings: Settings) -> dict[str, Any]:
        """What reproduces the run: the settings, the device, the weights (no image data)."""
        try:
            extractor = self.model(settings.pooling)
            network, weights = extractor.label, extractor.weights_name
        except NSTError:
            network, weights = "unavailable", f"unavailable ({self.model.weights})"
        return {"run": next(self._runs), "settings": json.loads(settings.to_json()),
                "device": self.model.device_name, "network": network, "weights": weights,
                "optimizer": settings.optimizer_used()}

    def remember(self, result: str | None, record: dict[str, Any] | None,
                 history: list[dict[str, Any]]) -> Outputs:
        """Add the shown result to this visitor's runs (once per run; also a stopped run's last image).

        Gives the new history and the gallery: newest first, captioned, shown once there is a run.
        """
        history = list(history or [])
        if result and record and not any(h["record"]["run"] == record["run"] for h in history):
            history = [{"image": result, "record": record}, *history][:_HISTORY_LENGTH]
        items = [(h["image"], caption(h["record"])) for h in history]
        return {"history": history, "gallery": gr.update(value=items, visible=bool(items))}

    def stop(self, result: str | None, record: dict[str, Any] | None, history: list[dict[str, Any]]) -> Outputs:
        """The Stop button (its click also cancels the run): keep the last image and say so."""
        status = "Stopped. The last image stays here and in your runs below." if result else "Stopped."
        return {**self.remember(result, record, history), "status": status}

    def restore(self, history: list[dict[str, Any]], evt: gr.SelectData) -> Outputs:
        """A gallery click: that run's image, record and every control set as it was."""
        entry = history[evt.index]
        controls = Controls.from_settings(Settings.from_dict(entry["record"]["settings"]))
        return {"result": entry["image"], "record": entry["record"], **controls.values()}

    def estimate(self, size: int, steps: int, method: str, fuse_with: str = NO_FUSION) -> str:
        """Where the run will execute and about how long it takes (a square image: the most pixels)."""
        methods = (method, fuse_with)
        seconds = self.model.speed.estimate(int(size), int(steps), methods)
        text = f"Runs on **{self.model.device_name}** with **{self.model.label}**: {int(size)} px × " \
               f"{int(steps)} steps takes up to {format_seconds(seconds)}."
        if self.model.device.type == "cpu":
            text += f" No GPU here, so the defaults are smaller ({self.model.defaults['size']} px, " \
                    f"{self.model.defaults['steps']} steps)."
        if gpu.on_zero_gpu() and gpu.needed_seconds(int(size), int(steps), methods) > gpu.MAX_SECONDS:
            text += f" That is more than the {gpu.MAX_SECONDS} s ZeroGPU lends at once: lower size or steps."
        return text

    @staticmethod
    def default_gamma(method: str) -> float:
        return METHODS[method].default_gamma


def _settings(controls: dict[str, Any]) -> Settings:
    try:
        return Controls(**controls).to_settings()
    except NSTError as exc:
        raise gr.Error(str(exc)) from None
    except TypeError as exc:  # an API call naming a control that does not exist
        raise gr.Error(f"unknown control: {exc}") from None


def _report(progress: gr.Progress, frame: Frame) -> None:
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    progress((frame.step, frame.steps), desc=f"{format_seconds(left)} left", unit="steps")


def _status(frame: Frame) -> str:
    if frame.final:
        return f"Done: {frame.steps} steps in {frame.elapsed:.1f} s. Download the PNG with the button on the image."
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    return f"Step {frame.step} of {frame.steps} · {frame.elapsed:.0f} s so far · {format_seconds(left)} left"
