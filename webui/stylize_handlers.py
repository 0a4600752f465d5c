"""Handlers of the Stylize tab: the page's `Controls` → `Settings` → a throttled stream of frames.

The run goes through the run service (`webui.runs`): a `Stylization` job yields a `Frame`
after every step, with the image at most every `interval` seconds (and at the last step),
so the browser gets about two images a second whatever the step rate. `Stylizer` turns
frames into what the page shows (image, loss curve, run record, status, progress), as
`{name: value}` dicts named after the fields of `webui.stylize_tab.StylizePage`, and into
the `/stylize` API's images. The service ends a run at the step where its visitor pressed
Stop or left the page (`webui.visitors`), so the last image shown stays; a run that
reaches the wall-time cap (`webui.limits`) ends with its last image and a notice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
import pandas as pd
from gradio.utils import get_upload_folder
from PIL import Image

from nst.config import Settings
from nst.errors import NSTError
from nst.images import ImageSource
from nst.methods import METHODS
from nst.recipe import recipe_of, save_with_recipe
from nst.record import RunRecord, run_record
from nst.request import Request

from . import gpu, your_runs
from .controls import NO_FUSION, Controls, takes_controls
from .errors import one_line_errors, visitor_error
from .limits import RunLimits
from .model import SharedModel
from .page import Outputs
from .runs import Frame, Runs, Stylization
from .text import format_seconds
from .visitors import Visitors, session_of

__all__ = ["Shown", "loss_table", "caption", "Stylizer"]

_LOG = logging.getLogger(__name__)
# The longest Stop waits for the run to end: a step at 2048 px on two CPU cores takes about 20 s.
STOP_WAIT = 30.0
_HISTORY_LENGTH = 24
_PLOT_POINTS = 300


@dataclass(frozen=True)
class Shown:
    """A frame the page shows: its image, and the losses of every step since the previous one."""

    frame: Frame
    losses: tuple[tuple[int, dict[str, float]], ...]

    @property
    def image(self) -> Image.Image:
        assert self.frame.image is not None  # `Stylizer.frames` passes on only frames with an image
        return self.frame.image


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
    """'poly · γ 5' or 'bn+poly · γ 5 (stopped)' for the gallery of earlier runs (`record`: a
    `RunRecord.to_dict`)."""
    run = RunRecord.from_dict(record)
    settings = run.settings
    names = "+".join(m for m, _ in settings.fusion) if settings.fusion else settings.method
    finished = run.steps_done == settings.steps or run.stopped is not None
    return f"{names} · γ {run.gamma:g}" + ("" if finished else " (stopped)")


class Stylizer:
    """The Stylize tab's handlers, bound to the process's shared model, the visitors' runs
    and the caps of a run."""

    def __init__(self, model: SharedModel, *, interval: float = 0.5, visitors: Visitors | None = None,
                 limits: RunLimits | None = None) -> None:
        self.model = model
        self.interval = interval
        self.limits = limits or RunLimits()
        self.visitors = visitors or Visitors(self.limits.per_visitor)
        self.runs = Runs(model, self.visitors)

    # ----- the stream, shared by the page and the API

    def inputs(self, content: str | None, style: str | None | list[str | None], settings: Settings,
               mask: ImageSource | None = None) -> Request:
        """The run's images read and checked once, refused at once: missing images, a mask that
        cannot apply, over a cap (the run service refuses the rest before a GPU is reserved)."""
        with one_line_errors():
            paintings = style if isinstance(style, list) else [style]
            if content is None or paintings[0] is None:
                missing = " and ".join(n for n, v in (("content image", content), ("style image", paintings[0]))
                                       if v is None)
                raise NSTError(f"add a {missing} first (the content image sets the output's shape)")
            inputs = Request(content, paintings, settings, mask=mask)
            self.limits.check(settings)
            return inputs

    def frames(self, inputs: Request, request: gr.Request | None = None) -> Iterator[Shown]:
        """The run service's frames of `inputs` that carry an image, with every library error as a
        one-line error. Raises here, before a GPU is reserved, for no weights or too long a run;
        the run ends at the step where its visitor stops it."""
        with one_line_errors():
            job = self.runs.job(Stylization(inputs, self.interval, self.limits.max_seconds))
            stream = self.runs.stream(job, session_of(request))
        return self._shown(stream)

    @staticmethod
    def _shown(stream: Iterator[Frame]) -> Iterator[Shown]:
        with one_line_errors(), contextlib.closing(stream):  # type: ignore[type-var]  # closing frees the slot now
            pending: list[tuple[int, dict[str, float]]] = []
            frame: Frame | None = None
            for frame in stream:
                pending.append((frame.step, frame.losses))
                if frame.image is not None:
                    try:
                        yield Shown(frame, tuple(pending))
                    except GeneratorExit:  # Gradio cancelled the event: Stop, or the tab went away
                        _LOG.info("run stopped by its visitor after step %d of %d", frame.step, frame.steps)
                        raise
                    pending = []
                if frame.timed_out:
                    _LOG.info("run reached the time cap after step %d of %d", frame.step, frame.steps)
            if frame is not None and not frame.final:  # the stream ended early: its visitor stopped it
                _LOG.info("run stopped by its visitor after step %d of %d", frame.step, frame.steps)

    @takes_controls
    def stylize(self, content: str | None, style: str | None, progress: gr.Progress = gr.Progress(),
                request: gr.Request | None = None, **controls: Any) -> Iterator[Image.Image | str]:
        """Stylize a photo with the style of a painting (neural style transfer as distribution alignment);
        yields the image as it improves, then the final one as a PNG file that carries its recipe.

        Args:
            content: the photo to stylize (an image file or URL)
            style: the painting whose style is transferred (an image file or URL)
        """
        settings = _settings(controls, self.model.device.type)
        inputs = self.inputs(content, _paintings(style, controls), settings, _mask(controls))
        record = self.record(inputs)
        for shown in self.frames(inputs, request):
            _report(progress, shown.frame)
            yield _result(shown, record, inputs)

    def example(self, content: str, style: str, method: str, gamma: float) -> Iterator[Image.Image | str]:
        """An example pair with the device's default size and steps and the library's other defaults."""
        settings = Settings(method=method, gamma=float(gamma), **self.model.defaults).on_device(self.model.device.type)
        inputs = self.inputs(content, style, settings)
        record = self.record(inputs)
        for shown in self.frames(inputs):
            yield _result(shown, record, inputs)

    # ----- the page

    @takes_controls
    def run(self, content: str | None, style: str | None, progress: gr.Progress = gr.Progress(),
            request: gr.Request | None = None, **controls: Any) -> Iterator[Outputs]:
        """The Stylize button: yields the result, losses, record and status while the run goes on,
        and at the end the photo and the result side by side for the before-and-after slider."""
        settings = _settings(controls, self.model.device.type)
        inputs = self.inputs(content, _paintings(style, controls), settings, _mask(controls))
        record = self.record(inputs)
        frames = self.frames(inputs, request)  # refused here, before "Starting…", when it cannot run
        history: list[tuple[int, dict[str, float]]] = []
        # The plot keeps the previous curve until this run has data (an empty table would blank it).
        yield {"result": None, "record": record.to_dict(), "status": "Starting…"}
        for shown in frames:
            frame = shown.frame
            history.extend(shown.losses)
            _report(progress, frame)
            outputs = {"result": shown.image, "status": _status(frame),
                       "losses": loss_table(history, settings.content_weight, settings.tv_weight)}
            if frame.final:
                record = _finished(record, frame)
                outputs["record"] = record.to_dict()
                outputs["result"] = _result(shown, record, inputs)
                outputs["compare"] = (inputs.content.resize(shown.image.size, Image.Resampling.LANCZOS), shown.image)
            yield outputs

    def record(self, inputs: Request) -> RunRecord:
        """The record of running `inputs` here, before its first step: the settings, the device,
        the network and weights, the inputs by name (no image data)."""
        with one_line_errors():
            return run_record(inputs, self.model(inputs.settings.pooling), device=self.model.device_name)

    def remember(self, result: str | None, record: dict[str, Any] | None, history: Any,
                 images: dict[str, str] | None) -> Outputs:
        """Add the shown result to this visitor's runs (once per run; also a stopped run's last image).

        `history` is the browser's list of runs (`webui.your_runs`), `images` this session's
        full images by run id. Gives both back and the gallery: newest first, captioned, shown
        once there is a run. A `history` that does not read starts again empty, with a warning.
        """
        runs, images = _read_runs(history), dict(images or {})
        # A run is remembered once: the success event after a Stop brings the same image and record again.
        if result and record and not any(h["record"] == record for h in runs):
            with one_line_errors():  # the record comes back from the page: an API client may send anything
                RunRecord.from_dict(record)
                with Image.open(result) as image:
                    new = your_runs.entry(image, record)
            runs, images[new["id"]] = your_runs.add(runs, new), result
        return {"history": runs, "images": images, **_gallery(runs, images)}

    def load_runs(self, history: Any) -> Outputs:
        """The page's load: the runs this browser kept, in the gallery (checked; empty with a
        warning when they do not read)."""
        runs = _read_runs(history)
        return {"history": runs, **_gallery(runs, {})}

    def stop(self, result: str | None, record: dict[str, Any] | None, history: Any,
             images: dict[str, str] | None, request: gr.Request | None = None) -> Outputs:
        """The Stop button: end this visitor's run at its current step (the click also cancels the
        event, which drops a run still waiting in the queue), keep the last image and say so.

        It answers once the run has ended (at most `STOP_WAIT` seconds), so that no frame the
        run sent before it stopped lands after this status.
        """
        self.visitors.stop(session_of(request), wait=STOP_WAIT)
        status = "Stopped. The last image stays here and in your runs below." if result else "Stopped."
        return {**self.remember(result, record, history, images), "status": status}

    def restore(self, history: Any, images: dict[str, str] | None, evt: gr.SelectData) -> Outputs:
        """A gallery click: that run's record, every control set as it was, and its image (the
        thumbnail kept in the browser once this session no longer has the image)."""
        runs = _read_runs(history)
        if not 0 <= evt.index < len(runs):
            return {}
        entry = runs[evt.index]
        with one_line_errors():
            image = (images or {}).get(entry["id"]) or your_runs.thumb_image(entry["thumb"])
            return restored(RunRecord.from_dict(entry["record"]), image)

    @staticmethod
    def mask_canvas(content: str | None) -> Outputs:
        """The regions editor with the new photo to paint on, or empty without one."""
        if content is None:
            return {"mask": None}
        return {"mask": {"background": content, "layers": [], "composite": content}}

    def estimate(self, size: int, steps: int, method: str, fuse_with: str = NO_FUSION,
                 scales: str | int | None = "auto") -> str:
        """Where the run will execute, its scales, and about how long it takes (a square image: the most pixels)."""
        try:
            settings = Controls(size=size, steps=steps, method=method, fuse_with=fuse_with,
                                scales=scales).to_settings().on_device(self.model.device.type)
        except NSTError as exc:
            return f"These settings cannot run: {exc}."
        if self.model.problem is not None:
            return "No network is loaded here, so nothing can run yet: see the notice at the top of the page."
        plan = " → ".join(f"{s} px × {n}" for s, n in settings.scale_plan())
        text = f"Runs on **{self.model.device_name}** with **{self.model.label}**: {plan} steps takes up to " \
               f"{format_seconds(self.model.run_seconds(settings))}."
        if self.model.device.type == "cpu":
            text += f" No GPU here, so the page starts at {self.model.defaults['steps']} steps and goes coarse " \
                    f"to fine when scales is auto."
        if gpu.on_zero_gpu() and gpu.needed_seconds(settings) > gpu.MAX_SECONDS:
            text += f" That is more than the {gpu.MAX_SECONDS} s ZeroGPU lends at once: lower size or steps."
        return text

    @staticmethod
    def default_gamma(method: str) -> float:
        return METHODS[method].default_gamma


def restored(run: RunRecord, image: str | Image.Image) -> Outputs:
    """The page showing `run`: its image and record, and every control set as it was but the
    regions, which stay painted on the photo as they are (the before-and-after slider empties)."""
    with one_line_errors():
        controls = Controls.from_settings(run.settings).values()
    del controls["mask"]
    return {"result": image, "record": run.to_dict(), "compare": None, **controls}


def _read_runs(history: Any) -> list[dict[str, Any]]:
    """The browser's runs, checked; a value that does not read is dropped with a warning of one line."""
    try:
        return your_runs.read(history)
    except NSTError as exc:
        gr.Warning(f"Your runs kept in this browser could not be read ({exc}); they start again empty.")
        return []


def _gallery(runs: list[dict[str, Any]], images: dict[str, str]) -> Outputs:
    """The gallery of `runs`: this session's images, else the browser's thumbnails."""
    items = [(images.get(r["id"]) or your_runs.thumb_image(r["thumb"]), caption(r["record"])) for r in runs]
    return {"gallery": gr.update(value=items, visible=bool(items))}


def _paintings(style: str | None, controls: dict[str, Any]) -> str | None | list[str | None]:
    """The style image alone, or with the other paintings to blend in."""
    more = controls.get("more_styles") or []
    return [style, *more] if more else style


def _mask(controls: dict[str, Any]) -> ImageSource | None:
    """The regions: a mask file (the API), or the strokes painted in the page's editor as one
    RGBA image (unpainted pixels transparent: no painting); None without a stroke."""
    value = controls.get("mask")
    if not isinstance(value, dict):
        return value or None
    strokes: Image.Image | None = None
    for layer in value.get("layers") or []:
        layer = layer.convert("RGBA")
        strokes = layer if strokes is None else Image.alpha_composite(strokes, layer)
    if strokes is None or strokes.getextrema()[3][1] == 0:
        return None
    return strokes


def _settings(controls: dict[str, Any], device_type: str) -> Settings:
    """The run the controls describe, as it goes on this device (`Settings.on_device`)."""
    try:
        return Controls(**controls).to_settings().on_device(device_type)
    except NSTError as exc:
        raise visitor_error(str(exc)) from None
    except TypeError as exc:  # an API call naming a control that does not exist
        raise visitor_error(f"unknown control: {exc}") from None


def _finished(record: RunRecord, frame: Frame) -> RunRecord:
    """`record` of a run that ended at `frame`."""
    return dataclasses.replace(record, steps_done=frame.step, final_losses=frame.losses,
                               seconds=round(frame.elapsed, 3), stopped=frame.stopped)


def _result(shown: Shown, record: RunRecord, inputs: Request) -> Image.Image | str:
    """What the result image shows: the frame's image, and at the end the path of a PNG that
    carries the run's recipe (`nst.recipe`). It is written into Gradio's cache folder, which
    serves it as it is and clears it with the rest of the cache (`delete_cache` in app.py)."""
    if not shown.frame.final:
        return shown.image
    recipe = recipe_of(_finished(record, shown.frame), inputs)
    return str(save_with_recipe(shown.image, Path(get_upload_folder()) / "nst" / uuid.uuid4().hex / "stylized.png",
                                recipe))


def _report(progress: gr.Progress, frame: Frame) -> None:
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    progress((frame.step, frame.steps), desc=f"{format_seconds(left)} left", unit="steps")


def _status(frame: Frame) -> str:
    if frame.timed_out:
        return (f"Stopped at the time limit of one run here ({frame.elapsed:.0f} s), after step {frame.step} of "
                f"{frame.steps}: this is the image at that step. Lower the size or the steps for a full run.")
    if frame.final:
        return f"Done: {frame.step} steps in {frame.elapsed:.1f} s. Download the PNG with the button on the image."
    left = frame.elapsed / frame.step * (frame.steps - frame.step)
    # A print's tiled step takes minutes: the scale and the tile show where it is.
    where = [f"scale {frame.scale} of {frame.scales}"] if frame.scales > 1 else []
    where += [f"tile {frame.tile} of {frame.tiles}"] if frame.tiles > 1 else []
    return " · ".join([f"Step {frame.step} of {frame.steps}", *where, f"{frame.elapsed:.0f} s so far",
                       f"{format_seconds(left)} left"])
