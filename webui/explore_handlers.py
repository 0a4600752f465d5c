"""The Explore tab's handlers: every distance on the visitor's photo and painting, measured.

The cells are one `webui.runs.Exploration` job of the run service, which renders them
with `nst.explore` and measures each on the independent judge network when it is
installed (else on the run's own network, and the page says so). `Explorer.explore`
streams the cells as each finishes; `Explorer.pick` turns a clicked cell into the Stylize
tab's controls. Handlers return `{field name: value}` (see `webui.page`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
from typing import Any, Iterator

import gradio as gr
import pandas as pd
from PIL import Image
from nst import explore
from nst.config import Settings
from nst.errors import NSTError
from nst.request import Request
from nst.weights import JUDGE_NETWORK, load_weights

from .controls import Controls
from .errors import one_line_errors, visitor_error
from .model import SharedModel
from .page import Outputs
from .runs import Exploration, Runs
from .visitors import Visitors, session_of

__all__ = ["MODES", "MAP_COLUMNS", "Explorer", "judge_network", "cell_in_range"]

# What the grid compares: every method (optionally with the paper's fusions), or one method over γ.
MODES = {"methods": "every method", "fusions": "every method and the paper's two fusions",
         "gamma": "one method over a strip of γ"}
MAP_COLUMNS = ["cell", "content change", "Gram gap closed", "colour gap closed"]


@functools.lru_cache(maxsize=1)
def judge_network() -> str | None:
    """`JUDGE_NETWORK` when its weights can be had here (installed or cached), else None."""
    try:
        load_weights(JUDGE_NETWORK)
    except NSTError:
        return None
    return JUDGE_NETWORK


class Explorer:
    """The tab's handlers, bound to the shared model; runs count with the visitor's others."""

    def __init__(self, model: SharedModel, visitors: Visitors | None = None) -> None:
        self.model = model
        self.runs = Runs(model, visitors)

    def cells(self, mode: str, method: str) -> list[explore.ExploreCell]:
        """The cells of `mode` ("methods", "fusions" or "gamma", for `method`) at this device's preview size."""
        base = explore.preview_settings(self.model.device.type)
        if mode == "gamma":
            return explore.gamma_cells(base, method)
        return explore.method_cells(base, fusions=mode == "fusions")

    def explore(self, content: str | None, style: str | None, mode: str = "methods", method: str = "poly",
                request: gr.Request | None = None) -> Iterator[Outputs]:
        """`/explore`: every distance on one photo and painting at preview size, measured.

        Args:
            content: the photo (a file)
            style: the painting (a file)
            mode: methods (every method), fusions (and the paper's two fusions) or gamma (one method over γ)
            method: the method of the gamma strip
        Streams the cells as each finishes; ends with the whole grid as one image, the map
        (content change against Gram gap closed) and the table of figures.
        """
        if content is None or style is None:
            raise visitor_error("choose a photo and a painting first")
        if mode not in MODES:
            raise visitor_error(f"mode: {mode!r} is not one of {', '.join(MODES)}")
        with one_line_errors():
            cells = self.cells(mode, method)
            inputs = Request(content, style, cells[0].settings)
            judge = judge_network()
            judged_on = self._judged_on(judge)
            stream = self.runs.stream(self.runs.job(Exploration(inputs, tuple(cells), judge)), session_of(request))
        done: list[explore.Explored] = []
        yield {"status": f"Rendering {len(cells)} cells at {cells[0].settings.size} px …", "grid": None, "map_png": None,
               "gallery": [], "map": None, "sentence": "", "figures": [], "cells": []}
        with contextlib.closing(stream), one_line_errors():  # type: ignore[type-var]
            for frame in stream:
                if frame is None:
                    continue
                done.append(frame)
                yield self._shown(done, len(cells), judged_on)
        if len(done) == len(cells):
            grid = explore.explore_grid(inputs.content, inputs.paintings[0], done,
                                        footer=f"Made with {self.model.label}; measured on {judged_on}.")
            labelled = Image.open(io.BytesIO(explore.scatter_png(done, judged_on)))
            yield {**self._shown(done, len(cells), judged_on), "grid": grid, "map_png": labelled}

    def _judged_on(self, judge: str | None) -> str:
        if judge is None:
            return f"{self.model.label} (the judge, {JUDGE_NETWORK}, is not installed here)"
        return load_weights(judge).label

    @staticmethod
    def _shown(done: list[explore.Explored], total: int, judged_on: str) -> Outputs:
        captions = [f"{d.cell.label}: Gram {d.yardstick.gram_gap_closed:.2f}, content {d.yardstick.content_change:.2f}"
                    for d in done]
        status = (f"{len(done)} of {total} cells, {sum(d.seconds for d in done):.0f} s so far. Measured on "
                  f"{judged_on}." if len(done) < total else
                  f"All {total} cells in {sum(d.seconds for d in done):.0f} s, measured on {judged_on}. "
                  "Click a cell, or drag across its point in the map, to open its settings in Stylize.")
        return {"gallery": list(zip((d.image for d in done), captions)), "map": _map_frame(done),
                "sentence": explore.map_sentence(done), "figures": explore.explore_figures(done, judged_on),
                "status": status, "cells": [{"settings": dataclasses.asdict(d.cell.settings),
                                             "content_change": d.yardstick.content_change} for d in done]}

    def stop(self, request: gr.Request | None = None) -> None:
        """The Stop button: this visitor's Explore ends at its current step."""
        self.runs.visitors.stop(session_of(request))

    def pick(self, content: str | None, style: str | None, cells: list[dict[str, Any]], index: int) -> dict[str, Any]:
        """The Stylize tab's photo, painting and every control (but the regions) for cell
        `index`: its distance, γ and options at the page's full size and steps."""
        with one_line_errors():
            settings = Settings.from_dict(cells[index]["settings"]).replace(scales=None, **self.model.defaults)
        controls = Controls.from_settings(settings).values()
        del controls["mask"]
        return {"content": content, "style": style, **controls}


def cell_in_range(cells: list[dict[str, Any]], low: float, high: float) -> int | None:
    """The index of the cell whose content change (the map's x) is nearest the middle of
    [`low`, `high`], among those inside it; None when none is."""
    inside = [(abs(c["content_change"] - (low + high) / 2), k) for k, c in enumerate(cells)
              if low <= c["content_change"] <= high]
    return min(inside)[1] if inside else None


def _map_frame(done: list[explore.Explored]) -> dict[str, Any]:
    """The map's points and axes. Its points carry their cell's name in the tooltip, not as a
    colour: a Gradio 6.31 scatter plot keeps the colour categories of its first value, and
    hid every later cell's point (checked in chromium). The axes are padded so that no point
    sits on a border, half cut off."""
    frame = pd.DataFrame([(d.cell.label, d.yardstick.content_change, d.yardstick.gram_gap_closed,
                           d.yardstick.colour_gap_closed) for d in done], columns=MAP_COLUMNS)

    def padded(column: str) -> list[float]:
        low, high = float(frame[column].min()), float(frame[column].max())
        pad = max(0.02, 0.1 * (high - low))
        return [low - pad, high + pad]

    return gr.update(value=frame, x_lim=padded(MAP_COLUMNS[1]), y_lim=padded(MAP_COLUMNS[2]))

