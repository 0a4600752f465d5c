"""The "Why it works" tab's handlers: the 2-D playground (`Playground`) and the real network (`Explainer`).

Both return (or yield) dicts `{name: value}` whose names are fields of
`webui.explain_tab.ExplainPage`, so they run and can be checked without a server.
The network's work is a `webui.runs.Features` job of the run service, which refuses
before a GPU is reserved and returns CPU tensors.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Sequence

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image

from nst import explain, losses
from nst.errors import NSTError
from nst.images import ImageSource

from .explain_frames import (CHANNEL_COLUMNS, DISTANCE_COLUMNS, IDENTITY_COLUMNS, PROJECTION_COLUMNS, channel_frame,
                             distance_frame, empty_frame, identity_frame, projection_frame, table_points,
                             toy_gaps_frame, toy_points_frame, toy_stats_frame)
from .errors import visitor_error
from .model import SharedModel
from .page import Outputs
from .runs import Features, Runs
from .text import HINT

__all__ = ["FRAME_PAUSE", "ASPECT", "plot_limits", "start_gaps", "Playground", "Explainer"]

# Seconds between animation frames: the 40–50 frames of a run then take about three seconds.
FRAME_PAUSE = 0.06
# Width over height of the scatter plot's drawing area at desktop widths (height 500).
ASPECT = 1.3
IMAGES = ("content", "style", "result")


# ----- the 2-D playground (no network)

def plot_limits(*clouds: torch.Tensor) -> list[float]:
    """[x_min, x_max, y_min, y_max] around all `clouds` `(2, ·)`, with a margin, fixed for a whole animation.

    One unit is about as long on both axes at desktop widths (the plot area is about
    `ASPECT` times wider than high), so a ring looks round.
    """
    both = torch.cat(clouds, dim=1)  # (2, K)
    lo, hi = both.min(dim=1).values, both.max(dim=1).values
    cx, cy = ((lo + hi) / 2).tolist()
    half_y = max(float(hi[0] - lo[0]) / ASPECT, float(hi[1] - lo[1])) / 2 * 1.1 + 0.2
    half_x = ASPECT * half_y
    return [cx - half_x, cx + half_x, cy - half_y, cy + half_y]


def _scatter(start: torch.Tensor, now: torch.Tensor, target: torch.Tensor, limits: list[float]) -> gr.ScatterPlot:
    """An update of the point-cloud plot: its points and its axes."""
    return gr.ScatterPlot(value=toy_points_frame(start, now, target), x_lim=limits[:2], y_lim=limits[2:])


class Playground:
    """The 2-D playground's handlers; they update `scatter`, `gaps` and `stats`.

    `source` and `target` are keys of `nst.explain.TOY_PRESETS`; `drawn` is the table
    of drawn points as a Gradio Dataframe gives it. Bad choices or rows raise `gr.Error`.
    """

    def __init__(self, pause: float = FRAME_PAUSE) -> None:
        self.pause = pause

    def preview(self, source: str, target: str, drawn: Any) -> Outputs:
        """The two clouds before any step: every gap at 1."""
        src, tgt = _clouds(source, target, drawn)
        return {"scatter": _scatter(src, src, tgt, plot_limits(src, tgt)), "gaps": start_gaps(src, tgt),
                "stats": toy_stats_frame(src, tgt)}

    def run(self, method: str, source: str, target: str, drawn: Any) -> Iterator[Outputs]:
        """Animate `method`'s gradient descent, one update per frame of `nst.explain.toy_descent`."""
        src, tgt = _clouds(source, target, drawn)
        try:
            frames = list(explain.toy_descent(src, tgt, method))  # milliseconds; the pause paces the animation
        except NSTError as exc:
            raise visitor_error(str(exc)) from None
        limits = plot_limits(src, tgt, *(f.points for f in frames))
        sigma2 = float(losses.mean_sq_distance(tgt, tgt))  # a fixed kernel for the "whole shape" gap
        history: list[tuple[int, dict[str, float]]] = []
        for frame in frames:
            history.append((frame.step, explain.toy_gaps(frame.points, tgt, sigma2)))
            yield {"scatter": _scatter(src, frame.points, tgt, limits), "gaps": toy_gaps_frame(history),
                   "stats": toy_stats_frame(frame.points, tgt)}
            time.sleep(self.pause)


def _clouds(source: str, target: str, drawn: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Source `(2, M)` and target `(2, K)`; the table is read only when a cloud is drawn."""
    try:
        points = table_points(drawn) if "drawn" in (source, target) else None
        return explain.toy_pair(source, target, drawn=points)
    except NSTError as exc:
        raise visitor_error(str(exc)) from None


def start_gaps(src: torch.Tensor, tgt: torch.Tensor) -> pd.DataFrame:
    """The gap plot's table (`TOY_GAP_COLUMNS`) before any step: every gap at 1."""
    sigma2 = float(losses.mean_sq_distance(tgt, tgt))
    return toy_gaps_frame([(0, explain.toy_gaps(src, tgt, sigma2))])


# ----- real features

def _source(value: Any) -> ImageSource | None:
    """An image as a gr.Image or the API gives it (path, PIL, array, FileData), or None when empty."""
    if value is None or (isinstance(value, str) and not value):
        return None
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    if isinstance(value, dict):
        return value.get("path")
    return value


class _Analysis:
    """The features of the images one request needs, and the line that says where they came from."""

    def __init__(self, runs: Runs, size: int, given: dict[str, ImageSource | None],
                 needed: Sequence[str]) -> None:
        if given["style"] is None or all(given[k] is None for k in ("content", "result")):
            raise NSTError(HINT)
        images = {k: v for k, v in given.items() if v is not None and k in needed}
        if len(images) < 2:  # the wanted second image is missing: compare with the one that is there
            images = {k: v for k, v in given.items() if v is not None}
        [self.features] = runs.stream(runs.job(Features(images, size)), None)
        extractor = runs.model()  # loaded by the run above: its name for the note
        self.note = (f"Features of {', '.join(images)} at {size} px long edge, "
                     f"network: {extractor.label} ({extractor.source or 'unnamed weights'}).")

    def second(self, prefer: str) -> tuple[str, dict[str, torch.Tensor]]:
        """The image compared with the style: `prefer` ("content"/"result") when there, else the other."""
        other = "content" if prefer == "result" else "result"
        label = prefer if prefer in self.features else other
        return label, self.features[label]

    def identity(self, compare: str) -> Outputs:
        label, feats = self.second(compare)
        return {"status": f"Comparing the style with the **{label}**. {self.note}",
                "identity": identity_frame(explain.identity_checks(feats, self.features["style"]))}

    def projection(self, layer: str) -> Outputs:
        clouds = {k: self.features[k][layer] for k in IMAGES if k in self.features}
        rows, (first, second) = explain.pca_projection(clouds)
        label, feats = self.second("result")
        channels = channel_frame(explain.channel_stats(self.features["style"][layer], feats[layer],
                                                       labels=("style", label)))
        caption = (f"{layer}: PC 1 explains {first:.0%} of the variance of all points together, "
                   f"PC 2 {second:.0%}. Bars: style vs {label}.")
        # One table feeds both bar plots: one draws its means, the other its stds.
        return {"caption": caption, "points": projection_frame(rows), "means": channels, "stds": channels}

    def distances(self) -> Outputs:
        others = {k: self.features[k] for k in ("content", "result") if k in self.features}
        return {"distances": distance_frame(explain.distance_rows(self.features["style"], others))}


def _warning(exc: NSTError) -> str:
    return f"⚠️ {exc}"


class Explainer:
    """The real network's handlers (sections 2–4), bound to the app's shared model.

    Images may be paths, PIL images, arrays or the API's FileData. A problem (no weights,
    no style image, an unreadable file) becomes the status line and empty tables with
    the documented columns, never an exception.
    """

    def __init__(self, model: SharedModel, size: int = explain.ANALYSIS_SIZE) -> None:
        self.runs = Runs(model)
        self.size = size

    def _analysis(self, content: Any, style: Any, result: Any, needed: Sequence[str] = IMAGES) -> _Analysis:
        given = {"content": _source(content), "style": _source(style), "result": _source(result)}
        return _Analysis(self.runs, self.size, given, needed)

    def identity(self, content: Any, style: Any, result: Any, compare: str = "result") -> Outputs:
        """Section 2: `status` and the `identity` table (`IDENTITY_COLUMNS`)."""
        try:
            second = compare if _source(result) is not None else "content"
            return self._analysis(content, style, result, ("style", second)).identity(compare)
        except NSTError as exc:
            return {"status": _warning(exc), "identity": empty_frame(IDENTITY_COLUMNS)}

    def features(self, content: Any, style: Any, result: Any, layer: str = "relu3_1") -> Outputs:
        """Section 3: `caption`, the `points` (`PROJECTION_COLUMNS`) and the bars of `means` and `stds`
        (`CHANNEL_COLUMNS`)."""
        try:
            return self._analysis(content, style, result).projection(layer)
        except NSTError as exc:
            return {"caption": _warning(exc), **_no_features()}

    def distances(self, content: Any, style: Any, result: Any) -> Outputs:
        """Section 4: `status` and the `distances` table (`DISTANCE_COLUMNS`)."""
        try:
            analysis = self._analysis(content, style, result)
            return {"status": analysis.note, **analysis.distances()}
        except NSTError as exc:
            return {"status": _warning(exc), "distances": empty_frame(DISTANCE_COLUMNS)}

    def all(self, content: Any, style: Any, result: Any, compare: str = "result", layer: str = "relu3_1") -> Outputs:
        """Sections 2–4 from one feature pass: `status`, `identity`, `caption`, `points`, `means`, `stds`,
        `distances`."""
        try:
            analysis = self._analysis(content, style, result)
        except NSTError as exc:
            return {"status": _warning(exc), "identity": empty_frame(IDENTITY_COLUMNS), "caption": "",
                    **_no_features(), "distances": empty_frame(DISTANCE_COLUMNS)}
        return {**analysis.identity(compare), **analysis.projection(layer), **analysis.distances()}


def _no_features() -> Outputs:
    return {"points": empty_frame(PROJECTION_COLUMNS), "means": empty_frame(CHANNEL_COLUMNS),
            "stds": empty_frame(CHANNEL_COLUMNS)}
