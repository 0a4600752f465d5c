"""The "Why it works" tab: Gram matching is matching distributions, shown four ways.

1. A 2-D playground (no network): two point clouds and one button per method; the
   source cloud moves by gradient descent on that method's loss, frame by frame.
2. The identity ‖Ĝ_F − Ĝ_S‖² = MMD²_k, k(x, y) = (xᵀy)², checked per layer on real features.
3. The feature clouds of content, style and result at one layer (PCA), and per-channel
   means and spreads (what BN matching aligns).
4. Every method's distance to the style, per layer, for the content and the result.

The computations live in `nst.explain`; this module lays out, wires events, and turns
results into DataFrames (the `*_frame` functions, columns in the `*_COLUMNS` constants).
`toy_preview` and `toy_run` are the playground's handlers, `Explainer` holds those of
sections 2–4.
Sections 2–4 run the network and share the Stylize tab's "gpu" concurrency group, so an
analysis waits for a running stylization instead of competing with it.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image

from nst import explain, losses
from nst.config import STYLE_LAYERS, field_spec
from nst.errors import NSTError
from nst.explain import IdentityCheck
from nst.features import VGGFeatures
from nst.images import ImageSource
from nst.methods import METHODS

from .gpu import gpu
from .text import DISTANCES_TEXT, EXPLAIN_INTRO, FEATURES_TEXT, HINT, IDENTITY_TEXT, TOY_TEXT
from .uploads import guard_image_upload

__all__ = [
    "build_explain_tab",
    "TOY_POINT_COLUMNS",
    "TOY_GAP_COLUMNS",
    "TOY_STAT_COLUMNS",
    "IDENTITY_COLUMNS",
    "PROJECTION_COLUMNS",
    "CHANNEL_COLUMNS",
    "DISTANCE_COLUMNS",
    "toy_points_frame",
    "toy_gaps_frame",
    "toy_stats_frame",
    "toy_preview",
    "toy_run",
    "identity_frame",
    "projection_frame",
    "channel_frame",
    "distance_frame",
    "Explainer",
]

GetExtractor = Callable[[], VGGFeatures]
ROOT = Path(__file__).resolve().parent.parent
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
# Method buttons from the poorest statistic to the richest.
TOY_ORDER = ("linear", "bn", "poly", "gaussian")
# Seconds between animation frames: the 40–50 frames of a run then take about three seconds.
FRAME_PAUSE = 0.06
# Width over height of the scatter plot's drawing area at desktop widths (height 500).
ASPECT = 1.3
# Gaps above this multiple of their starting value leave the plot (poly can make spreads worse).
GAP_CEILING = 1.6

TOY_POINT_COLUMNS = ["x", "y", "cloud"]
TOY_GAP_COLUMNS = ["step", "gap", "statistic"]
TOY_STAT_COLUMNS = ["cloud", *explain.TOY_STATS]
IDENTITY_COLUMNS = ["layer", "N", "positions (image)", "positions (style)", "positions used",
                    "Gram loss E", "MMD² (kernel sums)", "MMD² / E", "4N²"]
PROJECTION_COLUMNS = ["PC 1", "PC 2", "image"]
CHANNEL_COLUMNS = ["bar", "channel", "image", "mean", "std"]
DISTANCE_COLUMNS = ["method", "layer", "content vs style", "result vs style", "result / content"]

SOURCE, TARGET, START = "source (moving)", "target", "source at the start"
TOY_COLORS = {TARGET: "#f59e0b", SOURCE: "#2563eb", START: "#cbd5e1"}
GAP_COLORS = dict(zip(explain.TOY_GAPS.values(), ("#2563eb", "#16a34a", "#9333ea", "#dc2626", "#f59e0b")))
IMAGE_COLORS = {"content": "#2563eb", "style": "#f59e0b", "result": "#16a34a"}


# --------------------------------------------------------------------------------------
# The 2-D playground
# --------------------------------------------------------------------------------------

def toy_points_frame(start: torch.Tensor, now: torch.Tensor, target: torch.Tensor) -> pd.DataFrame:
    """Columns `TOY_POINT_COLUMNS`: every point of the three clouds, each `(2, M)`."""
    parts = [(START, start), (TARGET, target), (SOURCE, now)]
    frames = [pd.DataFrame({"x": p[0].numpy(), "y": p[1].numpy(), "cloud": name}) for name, p in parts]
    return pd.concat(frames, ignore_index=True)[TOY_POINT_COLUMNS]


def toy_gaps_frame(history: Sequence[tuple[int, dict[str, float]]]) -> pd.DataFrame:
    """Columns `TOY_GAP_COLUMNS`: each gap of `nst.explain.toy_gaps` as a fraction of its value at the start.

    A gap that was already (nearly) zero at the start is left out.
    """
    first = history[0][1]
    scale = max(first.values())
    rows = [(step, min(gaps[key] / first[key], GAP_CEILING + 0.05), title)
            for key, title in explain.TOY_GAPS.items() if first[key] > 1e-3 * scale
            for step, gaps in history]
    return pd.DataFrame(rows, columns=TOY_GAP_COLUMNS)


def toy_stats_frame(now: torch.Tensor, target: torch.Tensor) -> pd.DataFrame:
    """Columns `TOY_STAT_COLUMNS`: means, spreads and second moments of the two clouds, rounded."""
    rows = [{"cloud": name, **{k: round(v, 3) for k, v in explain.toy_stats(p).items()}}
            for name, p in ((TARGET, target), (SOURCE, now))]
    return pd.DataFrame(rows, columns=TOY_STAT_COLUMNS)


def _drawn(table: Any) -> torch.Tensor:
    if isinstance(table, pd.DataFrame):
        rows = table.values.tolist()
    elif isinstance(table, dict):  # the API sends {"headers": ..., "data": ...}
        rows = table.get("data") or []
    else:
        rows = table or []
    return explain.drawn_points(rows)


def _clouds(source: str, target: str, drawn: Any) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        points = _drawn(drawn) if "drawn" in (source, target) else None
        return explain.toy_pair(source, target, drawn=points)
    except NSTError as exc:
        raise gr.Error(str(exc)) from None


def _limits(*clouds: torch.Tensor) -> list[float]:
    """[x_min, x_max, y_min, y_max] around all `clouds`, with a margin, fixed for a whole animation.

    One unit is about as long on both axes at desktop widths (the plot area is about
    1.3 times wider than high), so a ring looks round.
    """
    both = torch.cat(clouds, dim=1)  # (2, K)
    lo, hi = both.min(dim=1).values, both.max(dim=1).values
    cx, cy = ((lo + hi) / 2).tolist()
    half_y = max(float(hi[0] - lo[0]) / ASPECT, float(hi[1] - lo[1])) / 2 * 1.1 + 0.2
    half_x = ASPECT * half_y
    return [cx - half_x, cx + half_x, cy - half_y, cy + half_y]


def _scatter(start: torch.Tensor, now: torch.Tensor, target: torch.Tensor, limits: list[float]) -> gr.ScatterPlot:
    return gr.ScatterPlot(value=toy_points_frame(start, now, target), x_lim=limits[:2], y_lim=limits[2:])


def toy_preview(source: str, target: str, drawn: Any) -> tuple[gr.ScatterPlot, pd.DataFrame, pd.DataFrame]:
    """The two clouds before any step: scatter update, the gap plot at its start (all 1), the statistics."""
    src, tgt = _clouds(source, target, drawn)
    return _scatter(src, src, tgt, _limits(src, tgt)), _start_gaps(src, tgt), toy_stats_frame(src, tgt)


def _start_gaps(src: torch.Tensor, tgt: torch.Tensor) -> pd.DataFrame:
    """The gap plot before any step: every gap at 1."""
    return toy_gaps_frame([(0, explain.toy_gaps(src, tgt, float(losses.mean_sq_distance(tgt, tgt))))])


def toy_run(method: str, source: str, target: str, drawn: Any,
            pause: float = FRAME_PAUSE) -> Iterator[tuple[gr.ScatterPlot, pd.DataFrame, pd.DataFrame]]:
    """Animate `method`'s gradient descent: yields (scatter update, gap plot, statistics) per frame."""
    src, tgt = _clouds(source, target, drawn)
    try:
        frames = list(explain.toy_descent(src, tgt, method))  # milliseconds; the pause paces the animation
    except NSTError as exc:
        raise gr.Error(str(exc)) from None
    limits = _limits(src, tgt, *(f.points for f in frames))
    sigma2 = float(losses.mean_sq_distance(tgt, tgt))  # fixed kernel for the "whole shape" gap
    history: list[tuple[int, dict[str, float]]] = []
    for frame in frames:
        history.append((frame.step, explain.toy_gaps(frame.points, tgt, sigma2)))
        yield _scatter(src, frame.points, tgt, limits), toy_gaps_frame(history), toy_stats_frame(frame.points, tgt)
        time.sleep(pause)


# --------------------------------------------------------------------------------------
# Real features
# --------------------------------------------------------------------------------------

def _fmt(value: float) -> float:
    """Four significant digits, as a number (the table stays sortable)."""
    return float(f"{value:.4g}") if np.isfinite(value) else value


def identity_frame(checks: Sequence[IdentityCheck]) -> pd.DataFrame:
    """Columns `IDENTITY_COLUMNS`, one row per layer."""
    rows = [[c.layer, c.channels, c.positions_image, c.positions_style,
             "all" if (c.used_image, c.used_style) == (c.positions_image, c.positions_style)
             else f"random {c.used_image} / {c.used_style}",
             _fmt(c.gram_loss), _fmt(c.mmd2), round(c.ratio, 3), c.constant] for c in checks]
    return pd.DataFrame(rows, columns=IDENTITY_COLUMNS)


def projection_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `PROJECTION_COLUMNS` from `nst.explain.pca_projection` rows."""
    frame = pd.DataFrame(list(rows), columns=["pc1", "pc2", "image"])
    return frame.rename(columns={"pc1": "PC 1", "pc2": "PC 2"})[PROJECTION_COLUMNS]


def channel_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `CHANNEL_COLUMNS` from `nst.explain.channel_stats` rows; `bar` labels sort by rank."""
    frame = pd.DataFrame(list(rows), columns=["rank", "channel", "image", "mean", "std"])
    frame["bar"] = [f"{r:02d}·c{c} {i}" for r, c, i in zip(frame["rank"], frame["channel"], frame["image"])]
    return frame[CHANNEL_COLUMNS]


def distance_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `DISTANCE_COLUMNS` from `nst.explain.distance_rows` rows (labels "content", "result")."""
    out = []
    for row in rows:
        before, after = row.get("content", np.nan), row.get("result", np.nan)
        ratio = after / before if np.isfinite(before) and np.isfinite(after) and before > 0 else np.nan
        out.append([row["method"], row["layer"], _fmt(before), _fmt(after), round(ratio, 3)])
    return pd.DataFrame(out, columns=DISTANCE_COLUMNS)


def _source(value: Any) -> ImageSource | None:
    """An image as a gr.Image gives it ("pil", "filepath" or "numpy"), or None when empty."""
    if value is None or (isinstance(value, str) and not value):
        return None
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    if isinstance(value, dict):  # FileData sent through the API
        return value.get("path")
    return value


def _gpu_seconds(get_extractor: GetExtractor, images: dict[str, ImageSource], size: int) -> int:
    """ZeroGPU reservation: three forward passes at 256 px take well under a second."""
    return 20


@gpu(duration=_gpu_seconds)
def compute_features(get_extractor: GetExtractor, images: dict[str, ImageSource],
                     size: int) -> dict[str, dict[str, Any]]:
    """`nst.explain.layer_features` with the shared extractor; CPU tensors, so ZeroGPU can return them."""
    return explain.layer_features(get_extractor(), images, size=size)


class _Analysis:
    """The features of the images one request needs, and the line that says where they came from."""

    def __init__(self, get_extractor: GetExtractor, size: int, content: Any, style: Any, result: Any,
                 needed: Sequence[str]) -> None:
        given = {"content": _source(content), "style": _source(style), "result": _source(result)}
        if given["style"] is None or all(given[k] is None for k in ("content", "result")):
            raise NSTError(HINT)
        images = {k: v for k, v in given.items() if v is not None and k in needed}
        if len(images) < 2:  # the wanted second image is missing: compare with the one that is there
            images = {k: v for k, v in given.items() if v is not None}
        extractor = get_extractor()  # no weights: say so before reserving a GPU
        self.features = compute_features(get_extractor, images, size)
        self.note = (f"Features of {', '.join(images)} at {size} px long edge, "
                     f"network: {extractor.label} ({extractor.weights_name or 'unnamed weights'}).")

    def second(self, prefer: str) -> tuple[str, dict[str, Any]]:
        """The image compared with the style: `prefer` ("content"/"result") when there, else the other."""
        other = "content" if prefer == "result" else "result"
        label = prefer if prefer in self.features else other
        return label, self.features[label]

    def identity(self, compare: str) -> tuple[str, pd.DataFrame]:
        label, feats = self.second(compare)
        frame = identity_frame(explain.identity_checks(feats, self.features["style"]))
        return f"Comparing the style with the **{label}**. {self.note}", frame

    def projection(self, layer: str) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        clouds = {k: self.features[k][layer] for k in ("content", "style", "result") if k in self.features}
        rows, (first, second) = explain.pca_projection(clouds)
        label, feats = self.second("result")
        channels = channel_frame(explain.channel_stats(self.features["style"][layer], feats[layer],
                                                       labels=("style", label)))
        caption = (f"{layer}: PC 1 explains {first:.0%} of the variance of all points together, "
                   f"PC 2 {second:.0%}. Bars: style vs {label}.")
        return caption, projection_frame(rows), channels, channels  # one table for the mean and the std plot

    def distances(self) -> pd.DataFrame:
        others = {k: self.features[k] for k in ("content", "result") if k in self.features}
        return distance_frame(explain.distance_rows(self.features["style"], others))


_TEXT_COLUMNS = {"layer", "method", "image", "cloud", "statistic", "bar", "positions used"}


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    """No rows, but typed columns."""
    return pd.DataFrame({c: pd.Series(dtype=str if c in _TEXT_COLUMNS else float) for c in columns})


def _warn(exc: NSTError) -> str:
    return f"⚠️ {exc}"


ALL = ("content", "style", "result")


class Explainer:
    """Sections 2–4's handlers, bound to the app's extractor. Images may be paths, PIL images or arrays.

    A problem (no weights, no style image, an unreadable file) becomes the status line and
    empty tables with the documented columns, never an exception.
    """

    def __init__(self, get_extractor: GetExtractor, size: int = explain.ANALYSIS_SIZE) -> None:
        self.get_extractor = get_extractor
        self.size = size

    def _analysis(self, content: Any, style: Any, result: Any, needed: Sequence[str] = ALL) -> _Analysis:
        return _Analysis(self.get_extractor, self.size, content, style, result, needed)

    def identity(self, content: Any, style: Any, result: Any, compare: str = "result") -> tuple[str, pd.DataFrame]:
        """Section 2: (status, `IDENTITY_COLUMNS` table)."""
        try:
            second = compare if _source(result) is not None else "content"
            return self._analysis(content, style, result, ("style", second)).identity(compare)
        except NSTError as exc:
            return _warn(exc), _empty(IDENTITY_COLUMNS)

    def features(self, content: Any, style: Any, result: Any,
                 layer: str = "relu3_1") -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Section 3: (caption, `PROJECTION_COLUMNS` points, `CHANNEL_COLUMNS` bars for the mean and std plots)."""
        try:
            return self._analysis(content, style, result).projection(layer)
        except NSTError as exc:
            return _warn(exc), _empty(PROJECTION_COLUMNS), _empty(CHANNEL_COLUMNS), _empty(CHANNEL_COLUMNS)

    def distances(self, content: Any, style: Any, result: Any) -> tuple[str, pd.DataFrame]:
        """Section 4: (status, `DISTANCE_COLUMNS` table)."""
        try:
            analysis = self._analysis(content, style, result)
            return analysis.note, analysis.distances()
        except NSTError as exc:
            return _warn(exc), _empty(DISTANCE_COLUMNS)

    def all(self, content: Any, style: Any, result: Any, compare: str = "result",
            layer: str = "relu3_1") -> tuple[Any, ...]:
        """Sections 2–4 from one feature pass: (status, identity, caption, points, bars, bars, distances)."""
        try:
            analysis = self._analysis(content, style, result)
        except NSTError as exc:
            return (_warn(exc), _empty(IDENTITY_COLUMNS), "", _empty(PROJECTION_COLUMNS), _empty(CHANNEL_COLUMNS),
                    _empty(CHANNEL_COLUMNS), _empty(DISTANCE_COLUMNS))
        return (*analysis.identity(compare), *analysis.projection(layer), analysis.distances())


# --------------------------------------------------------------------------------------
# Layout and events
# --------------------------------------------------------------------------------------

def build_explain_tab(get_extractor: GetExtractor, *, content: gr.Image | None = None, style: gr.Image | None = None,
                      result: gr.Image | None = None) -> None:
    """Lay out the tab inside the current Blocks context and wire its events.

    `content`, `style`, `result` are the Stylize tab's images (any `gr.Image` type); the
    tab shows its own upload box for each one that is None. Sections 2–4 are recomputed
    when `result` changes.
    """
    gr.Markdown(EXPLAIN_INTRO, latex_delimiters=LATEX, elem_id="explain-intro")
    _toy_section()
    gr.Markdown("## On a real network", elem_id="explain-real")
    if None not in (content, style, result):
        gr.Markdown("Uses the images of the **Stylize** tab and updates when a run ends.")
    content, style, result = _own_images(content, style, result)
    _real_sections(get_extractor, content, style, result)


def _toy_section() -> None:
    gr.Markdown(TOY_TEXT, latex_delimiters=LATEX)
    src, tgt = explain.toy_pair("ring", "moons")
    limits = _limits(src, tgt)
    with gr.Row():
        source = gr.Dropdown([(explain.TOY_PRESETS[k], k) for k in explain.TOY_SOURCE_PRESETS], value="ring",
                             label="Source cloud (blue, moves)", elem_id="toy-source")
        target = gr.Dropdown([(v, k) for k, v in explain.TOY_PRESETS.items()], value="moons",
                             label="Target cloud (orange)", elem_id="toy-target")
    with gr.Row():
        buttons = {m: gr.Button(METHODS[m].title, variant="primary" if m == "gaussian" else "secondary",
                                elem_id=f"toy-{m}") for m in TOY_ORDER}
    # No block label: with one, Gradio 6.31 lets a fixed-height plot overflow and cut off its legend.
    plot = {"height": 500, "show_label": False, "color_title": ""}
    with gr.Row(equal_height=True):
        scatter = gr.ScatterPlot(toy_points_frame(src, src, tgt), x="x", y="y", color="cloud", color_map=TOY_COLORS,
                                 x_lim=limits[:2], y_lim=limits[2:], title="Point clouds", x_title="channel 1",
                                 y_title="channel 2", elem_id="toy-scatter", **plot)
        gaps = gr.LinePlot(_start_gaps(src, tgt), x="step", y="gap", color="statistic", color_map=GAP_COLORS,
                           x_lim=[0, max(s.steps for s in explain.TOY_SCHEDULE.values())], y_lim=[0, GAP_CEILING],
                           title="Gap left in each statistic (1 = at the start)", x_title="gradient step",
                           y_title="gap left", elem_id="toy-gaps", **plot)
    stats = gr.Dataframe(toy_stats_frame(src, tgt), label="Statistics of the two clouds", interactive=False,
                         elem_id="toy-stats")
    with gr.Accordion("Draw your own points: choose 'Drawn points' above and edit x, y here", open=False):
        drawn = gr.Dataframe(pd.DataFrame(explain.default_drawing(), columns=["x", "y"]), datatype=["number", "number"],
                             column_count=2, interactive=True, elem_id="toy-drawn",
                             label="Drawn points (3 to 1000 rows, coordinates within ±10); the default is a heart")
    toy = {"concurrency_id": "toy", "concurrency_limit": 8}
    for m, button in buttons.items():
        button.click(functools.partial(toy_run, m), [source, target, drawn], [scatter, gaps, stats],
                     api_name=f"toy_{m}", show_progress="hidden", **toy)
    gr.on([source.change, target.change, drawn.input], toy_preview, [source, target, drawn], [scatter, gaps, stats],
          api_name="toy_preview", trigger_mode="always_last", **toy)


# Own inputs, made only for the images the caller did not pass: (label, example file).
_OWN_INPUTS = {"content": ("Content photo", "content/chelsea_cat.jpg"),
               "style": ("Style painting", "style/starry_night.jpg"),
               "result": ("Result of a run (optional)", None)}


def _own_images(*given: gr.Image | None) -> tuple[gr.Image, ...]:
    """`given` (content, style, result) with an upload box, guarded, in place of each None."""
    if None not in given:
        return given
    images = list(given)
    with gr.Row():
        for i, (name, (label, example)) in enumerate(_OWN_INPUTS.items()):
            if images[i] is None:
                path = ROOT / "examples" / example if example else None
                image = gr.Image(str(path) if path and path.is_file() else None, type="filepath", label=label,
                                 height=200, elem_id=f"explain-{name}")
                images[i] = guard_image_upload(image, f"{name} image")
    return tuple(images)


def _real_sections(get_extractor: GetExtractor, content: gr.Image, style: gr.Image, result: gr.Image) -> None:
    with gr.Row():
        compare = gr.Radio([("the result", "result"), ("the content photo", "content")], value="result",
                           label="Compare the style with", elem_id="explain-compare")
        layer = gr.Dropdown(list(STYLE_LAYERS), value="relu3_1", label="Layer for the feature clouds")
        analyse = gr.Button("Analyse", variant="primary", elem_id="explain-analyse")
    status = gr.Markdown(HINT, elem_id="explain-status")
    gr.Markdown(IDENTITY_TEXT.replace("{positions}", str(explain.IDENTITY_POSITIONS)), latex_delimiters=LATEX)
    identity = gr.Dataframe(_empty(IDENTITY_COLUMNS), interactive=False, label="Gram loss against MMD², per layer",
                            elem_id="explain-identity")
    gr.Markdown(FEATURES_TEXT.format(samples=explain.PROJECTION_SAMPLES))
    caption = gr.Markdown("", elem_id="explain-caption")
    with gr.Row(equal_height=True):
        # Plots start without a value: one that starts from an empty table keeps that table's
        # axis types in Gradio 6.31 and then draws nothing. No block label, as in the playground.
        points = gr.ScatterPlot(None, x="PC 1", y="PC 2", color="image", color_map=IMAGE_COLORS, height=470,
                                show_label=False, color_title="", title="Feature vectors of one layer (PCA)",
                                elem_id="explain-points")
        with gr.Column():
            bars = {"x": "bar", "color": "image", "color_map": IMAGE_COLORS, "height": 225, "show_label": False,
                    "x_title": "channel, largest style mean first", "x_axis_labels_visible": False,
                    "color_title": ""}
            means = gr.BarPlot(None, y="mean", title="Channel means", elem_id="explain-means", **bars)
            stds = gr.BarPlot(None, y="std", title="Channel standard deviations", elem_id="explain-stds", **bars)
    gr.Markdown(DISTANCES_TEXT.format(features=field_spec("gaussian_features")["default"]))
    distances = gr.Dataframe(_empty(DISTANCE_COLUMNS), interactive=False, label="Style terms per method and layer",
                             elem_id="explain-distances")
    explainer = Explainer(get_extractor)
    images = [content, style, result]
    heavy = {"concurrency_id": "gpu", "concurrency_limit": 1}
    everything = [status, identity, caption, points, means, stds, distances]
    gr.on([analyse.click, result.change], explainer.all, [*images, compare, layer], everything,
          api_name="explain_all", trigger_mode="always_last", **heavy)
    compare.input(explainer.identity, [*images, compare], [status, identity], api_name="explain_identity", **heavy)
    layer.input(explainer.features, [*images, layer], [caption, points, means, stds], api_name="explain_features",
                **heavy)
    gr.on([], explainer.distances, images, [status, distances], api_name="explain_distances", **heavy)
