"""Handlers of the Stylize tab: the page's controls → `Settings` → a throttled stream of frames.

The GPU work is one generator, `stream_frames`, wrapped by `spaces.GPU` on ZeroGPU. It
runs `nst.iter_stylize` and yields a `Frame` at most every `interval` seconds (and
after the last step), whatever the step rate, so the browser gets about two images a
second. `Stylizer` turns frames into what the page shows (image, loss curve, run
record, status, progress) and into the `/stylize` API's images. Closing a handler's
generator (Gradio does so when the Stop button cancels the event) closes the loop at
its current step; the last image shown stays on the page.
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

from nst.config import STYLE_LAYERS, Settings, field_spec
from nst.errors import NSTError
from nst.images import ImageSource
from nst.methods import METHODS, fusion_weights
from nst.stylize import iter_stylize
from nst.weights import load_extractor

from .gpu import ZERO_GPU_SPEED, gpu, on_zero_gpu
from .model import SharedModel, page_defaults
from .text import format_seconds

__all__ = [
    "CONTROLS",
    "NO_FUSION",
    "GAMMA_CHOICES",
    "ZERO_GPU_MAX_SECONDS",
    "Frame",
    "settings_from_controls",
    "controls_from_settings",
    "parse_layer_weights",
    "gpu_seconds",
    "stream_frames",
    "loss_table",
    "caption",
    "Stylizer",
]

# The order of the controls after the two images, shared by the UI event, the
# /stylize API and the restore-from-gallery event.
CONTROLS = ("method", "gamma", "content_weight", "style_layers", "size", "steps", "init", "seed",
            "fuse_with", "fusion_balance", "optimizer", "lr", "layer_weights", "tv_weight")
NO_FUSION = "none"
# Log-spaced balance factors; each method's default is added where missing.
GAMMA_CHOICES: tuple[float, ...] = tuple(sorted(
    {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0} | {m.default_gamma for m in METHODS.values()}))
# ZeroGPU lends a GPU for a few minutes at most; shorter requests get served sooner.
ZERO_GPU_MAX_SECONDS = 120
_HISTORY_LENGTH = 24
_PLOT_POINTS = 300


def parse_layer_weights(text: str | None) -> tuple[float, ...] | None:
    """'1, 0.5, 0.25' → (1.0, 0.5, 0.25); empty → None (equal weights)."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise NSTError(f"layer weights: expected numbers separated by commas, got {text!r}") from None


def settings_from_controls(method: str, gamma: float | None, content_weight: float, style_layers: list[str],
                           size: int, steps: int, init: str, seed: int, fuse_with: str | None = NO_FUSION,
                           fusion_balance: float = 0.5, optimizer: str | None = None, lr: float | None = None,
                           layer_weights: str | None = "", tv_weight: float | None = None) -> Settings:
    """The validated `Settings` the page's controls describe (`NSTError` with one line if not valid).

    A fusion mixes `method` with weight `1 - fusion_balance` and `fuse_with` with weight
    `fusion_balance`. Style layers keep VGG order whatever order they were ticked in.
    """
    mix = ((method, 1.0 - fusion_balance), (fuse_with, fusion_balance)) if fuse_with not in (None, "",
                                                                                                NO_FUSION) else ()
    return Settings(
        method=method, mix=mix, gamma=None if gamma is None else float(gamma),
        content_weight=float(content_weight),
        style_layers=tuple(layer for layer in STYLE_LAYERS if layer in (style_layers or ())),
        layer_weights=parse_layer_weights(layer_weights), size=int(size), steps=int(steps), init=init,
        seed=int(seed) if seed is not None else field_spec("seed")["default"],
        optimizer=optimizer or field_spec("optimizer")["default"], lr=float(lr) if lr else None,
        tv_weight=field_spec("tv_weight")["default"] if tv_weight is None else float(tv_weight))


def controls_from_settings(settings: Settings) -> dict[str, Any]:
    """Inverse of `settings_from_controls`: the control values that reproduce `settings`."""
    method, fuse_with, balance = settings.method, NO_FUSION, 0.5
    if settings.mix:
        method = settings.mix[0][0]
        if len(settings.mix) > 1:
            (_, w1), (fuse_with, w2) = settings.mix[:2]
            balance = w2 / (w1 + w2) if w1 + w2 > 0 else 0.5
    gamma = settings.gamma_used()
    return {
        "method": method, "gamma": gamma, "content_weight": settings.content_weight,
        "style_layers": list(settings.style_layers), "size": settings.size, "steps": settings.steps,
        "init": settings.init, "seed": settings.seed, "fuse_with": fuse_with, "fusion_balance": balance,
        "optimizer": settings.optimizer, "lr": settings.lr,
        "layer_weights": ", ".join(f"{w:g}" for w in settings.layer_weights or ()),
        "tv_weight": settings.tv_weight,
    }


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


def gpu_seconds(content: ImageSource, style: ImageSource, settings: Settings, weights: str = "auto",
                device: str | None = None, interval: float = 0.5) -> int:
    """GPU seconds to reserve on ZeroGPU for `stream_frames` with the same arguments (capped)."""
    expected = ZERO_GPU_SPEED.estimate(settings.size, settings.steps, fusion_weights(settings.method, settings.mix))
    return int(min(ZERO_GPU_MAX_SECONDS, 15 + 1.5 * expected))


@gpu(duration=gpu_seconds)
def stream_frames(content: ImageSource, style: ImageSource, settings: Settings, weights: str = "auto",
                  device: str | None = None, interval: float = 0.5) -> Iterator[Frame]:
    """Run the optimisation and yield a `Frame` at step 1, then at most every `interval` seconds, and at the end.

    Plain arguments only (paths, settings, names): on ZeroGPU this runs in another process.
    """
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
        if content is None or style is None:
            missing = " and ".join(n for n, v in (("content image", content), ("style image", style)) if v is None)
            raise NSTError(f"add a {missing} first (the content image sets the output's shape)")
        self.model(settings.pooling)  # no weights: say how to provide them before reserving a GPU
        methods = fusion_weights(settings.method, settings.mix)
        if on_zero_gpu() and (need := ZERO_GPU_SPEED.estimate(settings.size, settings.steps, methods)) > \
                ZERO_GPU_MAX_SECONDS:
            raise NSTError(f"this run needs {format_seconds(need)} of GPU time, more than the "
                           f"{ZERO_GPU_MAX_SECONDS} s ZeroGPU lends at once: lower the size or the steps")

    def stylize(self, content: str | None, style: str | None, method: str, gamma: float, content_weight: float,
                style_layers: list[str], size: int, steps: int, init: str, seed: int, fuse_with: str,
                fusion_balance: float, optimizer: str, lr: float | None = None, layer_weights: str = "",
                tv_weight: float | None = None, progress: gr.Progress = gr.Progress()) -> Iterator[Image.Image]:
        """Stylize `content` with the style of `style`; yields the image as it improves, then the final one.

        method: linear, poly (Gram matrices), gaussian or bn; gamma: style weight against content;
        content_weight: 0 reconstructs the style alone; style_layers: names relu1_1 … relu5_1;
        size: long edge in pixels; steps: optimizer steps; init: content, noise or style;
        fuse_with: a second method or "none"; fusion_balance: its weight 0…1; optimizer: auto, lbfgs or adam
        (auto: L-BFGS, or Adam for the paper's sampled Gaussian estimator); lr: learning rate (empty: the
        optimizer's default); layer_weights: e.g. "1, 1, 0.5" (empty: equal); tv_weight: smoothing (empty: default).
        """
        settings = self._settings(method, gamma, content_weight, style_layers, size, steps, init, seed,
                                  fuse_with, fusion_balance, optimizer, lr, layer_weights, tv_weight)
        for frame in self.frames(content, style, settings):
            _report(progress, frame)
            yield frame.image

    def example(self, content: str, style: str, method: str, gamma: float) -> Iterator[Image.Image]:
        """An example pair with the device's default size and steps and the library's other defaults."""
        settings = Settings(method=method, gamma=float(gamma), **page_defaults(self.model.device))
        for frame in self.frames(content, style, settings):
            yield frame.image

    # ----- the page

    def run(self, content: str | None, style: str | None, *controls: Any,
            progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, ...]]:
        """The Stylize button: yields (image, loss table, run record, status) while the run goes on."""
        settings = self._settings(*controls)
        record = self._record(settings)
        history: list[tuple[int, dict[str, float]]] = []
        # The plot keeps the previous curve until this run has data (an empty table would blank it).
        yield None, gr.skip(), record, "Starting…"
        for frame in self.frames(content, style, settings):
            history.extend(frame.losses)
            _report(progress, frame)
            if frame.final:
                record = {**record, "size": list(frame.image.size), "seconds": round(frame.elapsed, 2),
                          "final_losses": history[-1][1]}
            yield (frame.image, loss_table(history, settings.content_weight, settings.tv_weight),
                   record if frame.final else gr.skip(),
                   _status(frame))

    def _settings(self, *controls: Any) -> Settings:
        try:
            return settings_from_controls(*controls)
        except NSTError as exc:
            raise gr.Error(str(exc)) from None

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

    def remember(self, image: str | None, record: dict[str, Any] | None,
                 history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Add the shown result to this visitor's runs (once per run; also a stopped run's last image).

        Returns the new history and a gallery update: newest first, captioned, shown once there is a run.
        """
        history = list(history or [])
        if image and record and not any(h["record"]["run"] == record["run"] for h in history):
            history = [{"image": image, "record": record}, *history][:_HISTORY_LENGTH]
        items = [(h["image"], caption(h["record"])) for h in history]
        return history, gr.update(value=items, visible=bool(items))

    def stop(self, image: str | None, record: dict[str, Any] | None,
             history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        """The Stop button (its click also cancels the run): keep the last image and say so."""
        history, gallery = self.remember(image, record, history)
        return history, gallery, "Stopped. The last image stays here and in your runs below." if image else "Stopped."

    def restore(self, history: list[dict[str, Any]], evt: gr.SelectData) -> tuple[Any, ...]:
        """A gallery click: that run's image, record and every control set as it was."""
        entry = history[evt.index]
        controls = controls_from_settings(Settings.from_dict(entry["record"]["settings"]))
        return (entry["image"], entry["record"], *(controls[name] for name in CONTROLS))

    def estimate(self, size: int, steps: int, method: str, fuse_with: str = NO_FUSION) -> str:
        """Where the run will execute and about how long it takes (a square image: the most pixels)."""
        seconds = self.model.speed.estimate(int(size), int(steps), (method, fuse_with))
        text = f"Runs on **{self.model.device_name}** with **{self.model.label}**: {int(size)} px × " \
               f"{int(steps)} steps takes up to {format_seconds(seconds)}."
        if self.model.device.type == "cpu":
            defaults = page_defaults("cpu")
            text += f" No GPU here, so the defaults are smaller ({defaults['size']} px, {defaults['steps']} steps)."
        if on_zero_gpu() and seconds > ZERO_GPU_MAX_SECONDS:
            text += f" That is more than the {ZERO_GPU_MAX_SECONDS} s ZeroGPU lends at once: lower size or steps."
        return text

    @staticmethod
    def default_gamma(method: str) -> float:
        return METHODS[method].default_gamma


def _report(progress: gr.Progress, frame: Frame) -> None:
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    progress((frame.step, frame.steps), desc=f"{format_seconds(left)} left", unit="steps")


def _status(frame: Frame) -> str:
    if frame.final:
        return f"Done: {frame.steps} steps in {frame.elapsed:.1f} s. Download the PNG with the button on the image."
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    return f"Step {frame.step} of {frame.steps} · {frame.elapsed:.0f} s so far · {format_seconds(left)} left"
