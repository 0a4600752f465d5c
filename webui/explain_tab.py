"""The "Why it works" tab: Gram matching is matching distributions, shown four ways.

1. A 2-D playground (no network): two point clouds and one button per method; the
   source cloud moves by gradient descent on that method's loss, frame by frame.
2. The identity ‖Ĝ_F − Ĝ_S‖² = MMD²_k, k(x, y) = (xᵀy)², checked per layer on real features.
3. The feature clouds of content, style and result at one layer (PCA), and per-channel
   means and spreads (what BN matching aligns).
4. Every method's distance to the style, per layer, for the content and the result.

The computations live in `nst.explain`, the handlers in `webui.explain_handlers`
(`Playground`, `Explainer`), their tables in `webui.explain_frames`. This module lays
out the components (`layout` → `ExplainPage`) and wires events (`wire`). Sections 2–4
run the network and share the app's one GPU slot (`webui.gpu.HEAVY`).

API names: `/toy_linear`, `/toy_bn`, `/toy_poly`, `/toy_meancov`, `/toy_swd`, `/toy_gaussian`,
`/toy_preview`, `/explain_all`, `/explain_identity`, `/explain_features`, `/explain_distances`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from nst import explain
from nst.config import STYLE_LAYERS, field_spec
from nst.methods import METHODS

from .explain_frames import (DISTANCE_COLUMNS, DRAWN_COLUMNS, GAP_CEILING, GAP_COLORS,
                             IDENTITY_COLUMNS, IMAGE_COLORS, TOY_COLORS, drawing_frame, empty_frame,
                             toy_points_frame, toy_stats_frame)
from .explain_handlers import Explainer, Playground, plot_limits, start_gaps
from .gpu import HEAVY, LIGHT
from .model import SharedModel
from .page import Page
from .text import (DISTANCES_TEXT, EXPLAIN_INTRO, FEATURES_TEXT, HINT, IDENTITY_TEXT, TOY_PRESET_NAMES,
                   TOY_TEXT)
from .guards import guard_image_upload

__all__ = ["ExplainPage", "layout", "wire", "build_explain_tab"]

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
# Method buttons from the poorest statistic to the richest.
TOY_ORDER = ("linear", "bn", "poly", "meancov", "swd", "gaussian")
# The clouds the playground opens with.
TOY_START = ("ring", "moons")
# The tab's own image inputs, made only for those the caller does not pass: (label, example file).
OWN_INPUTS = {"content": ("Content photo", "content/chelsea_cat.jpg"),
              "style": ("Style painting", "style/starry_night.jpg"),
              "result": ("Result of a run (optional)", None)}


@dataclass
class ExplainPage(Page):
    """The tab's components; `buttons` holds the playground's method buttons by method name."""

    source: gr.Dropdown
    target: gr.Dropdown
    buttons: dict[str, gr.Button]
    scatter: gr.ScatterPlot
    gaps: gr.LinePlot
    stats: gr.Dataframe
    drawn: gr.Dataframe
    content: gr.Image
    style: gr.Image
    result: gr.Image
    compare: gr.Radio
    layer: gr.Dropdown
    analyse: gr.Button
    status: gr.Markdown
    identity: gr.Dataframe
    caption: gr.Markdown
    points: gr.ScatterPlot
    means: gr.BarPlot
    stds: gr.BarPlot
    distances: gr.Dataframe


def layout(images: dict[str, gr.Image | None], examples: Path | None = None) -> ExplainPage:
    """Lay out the tab inside the caller's `with gr.Tab(...)`.

    `images` holds the Stylize tab's `content`, `style` and `result` images (any
    `gr.Image` type); the tab makes its own upload box, guarded, for each that is None,
    starting from its example in `examples` when there is one.
    """
    gr.Markdown(EXPLAIN_INTRO, latex_delimiters=LATEX, elem_id="explain-intro")
    playground = _playground()
    gr.Markdown("## On a real network", elem_id="explain-real")
    if None not in images.values():
        gr.Markdown("Uses the images of the **Stylize** tab and updates when a run ends.")
    own = _own_images(images, examples)
    return ExplainPage(**playground, **own, **_real_sections())


def _playground() -> dict[str, gr.components.Component | dict[str, gr.Button]]:
    gr.Markdown(TOY_TEXT, latex_delimiters=LATEX)
    src, tgt = explain.toy_pair(*TOY_START)
    limits = plot_limits(src, tgt)
    with gr.Row():
        source = gr.Dropdown([(TOY_PRESET_NAMES[k], k) for k in explain.TOY_SOURCE_PRESETS], value=TOY_START[0],
                             label="Source cloud (blue, moves)", elem_id="toy-source")
        target = gr.Dropdown([(TOY_PRESET_NAMES[k], k) for k in explain.TOY_PRESETS], value=TOY_START[1],
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
        gaps = gr.LinePlot(start_gaps(src, tgt), x="step", y="gap", color="statistic", color_map=GAP_COLORS,
                           x_lim=[0, max(m.toy.steps for m in METHODS.values() if m.toy)], y_lim=[0, GAP_CEILING],
                           title="Gap left in each statistic (1 = at the start)", x_title="gradient step",
                           y_title="gap left", elem_id="toy-gaps", **plot)
    stats = gr.Dataframe(toy_stats_frame(src, tgt), label="Statistics of the two clouds", interactive=False,
                         elem_id="toy-stats")
    fewest, most = explain.DRAWN_POINTS
    with gr.Accordion("Draw your own points: choose 'Drawn points' above and edit x, y here", open=False):
        drawn = gr.Dataframe(drawing_frame(explain.default_drawing()), datatype=["number"] * len(DRAWN_COLUMNS),
                             column_count=len(DRAWN_COLUMNS), interactive=True, elem_id="toy-drawn",
                             label=f"Drawn points ({fewest} to {most} rows, coordinates within "
                                   f"±{explain.DRAWN_LIMIT:g}); the default is a heart")
    return {"source": source, "target": target, "buttons": buttons, "scatter": scatter, "gaps": gaps,
            "stats": stats, "drawn": drawn}


def _own_images(images: dict[str, gr.Image | None], examples: Path | None) -> dict[str, gr.Image]:
    """`images` with an upload box, guarded, in place of each None."""
    if None not in images.values():
        return dict(images)
    own = dict(images)
    with gr.Row():
        for name, (label, example) in OWN_INPUTS.items():
            if own[name] is not None:
                continue
            path = examples / example if examples is not None and example else None
            image = gr.Image(str(path) if path is not None and path.is_file() else None, type="filepath",
                             label=label, height=200, elem_id=f"explain-{name}")
            own[name] = guard_image_upload(image, f"{name} image")
    return own


def _real_sections() -> dict[str, gr.components.Component]:
    with gr.Row():
        compare = gr.Radio([("the result", "result"), ("the content photo", "content")], value="result",
                           label="Compare the style with", elem_id="explain-compare")
        layer = gr.Dropdown(list(STYLE_LAYERS), value="relu3_1", label="Layer for the feature clouds")
        analyse = gr.Button("Analyse", variant="primary", elem_id="explain-analyse")
    status = gr.Markdown(HINT, elem_id="explain-status")
    gr.Markdown(IDENTITY_TEXT.replace("{positions}", str(explain.IDENTITY_POSITIONS)), latex_delimiters=LATEX)
    identity = gr.Dataframe(empty_frame(IDENTITY_COLUMNS), interactive=False,
                            label="Gram loss against MMD², per layer", elem_id="explain-identity")
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
    distances = gr.Dataframe(empty_frame(DISTANCE_COLUMNS), interactive=False,
                             label="Style terms per method and layer", elem_id="explain-distances")
    return {"compare": compare, "layer": layer, "analyse": analyse, "status": status, "identity": identity,
            "caption": caption, "points": points, "means": means, "stds": stds, "distances": distances}


def wire(page: ExplainPage, playground: Playground, explainer: Explainer) -> None:
    """The tab's events. The playground runs no network (`LIGHT`); sections 2–4 share the GPU slot (`HEAVY`)."""
    toy_in, toy_out = page.components("source", "target", "drawn"), page.components("scatter", "gaps", "stats")
    for method, button in page.buttons.items():
        button.click(page.bind(functools.partial(playground.run, method)), toy_in, toy_out,
                     api_name=f"toy_{method}", show_progress="hidden", **LIGHT)
    gr.on([page.source.change, page.target.change, page.drawn.input], page.bind(playground.preview), toy_in,
          toy_out, api_name="toy_preview", trigger_mode="always_last", **LIGHT)

    images = page.components("content", "style", "result")
    gr.on([page.analyse.click, page.result.change], page.bind(explainer.all), [*images, page.compare, page.layer],
          page.components("status", "identity", "caption", "points", "means", "stds", "distances"),
          api_name="explain_all", trigger_mode="always_last", **HEAVY)
    page.compare.input(page.bind(explainer.identity), [*images, page.compare], page.components("status", "identity"),
                       api_name="explain_identity", **HEAVY)
    page.layer.input(page.bind(explainer.features), [*images, page.layer],
                     page.components("caption", "points", "means", "stds"), api_name="explain_features", **HEAVY)
    gr.on([], page.bind(explainer.distances), images, page.components("status", "distances"),
          api_name="explain_distances", **HEAVY)


def build_explain_tab(model: SharedModel, *, content: gr.Image | None = None, style: gr.Image | None = None,
                      result: gr.Image | None = None, examples: Path | None = None) -> ExplainPage:
    """Lay out and wire the tab inside the caller's `with gr.Tab(...)`; sections 2–4 run on `model`.

    `content`, `style`, `result`: the Stylize tab's images, or None for the tab's own
    upload box (see `layout`). Sections 2–4 are recomputed when `result` changes.
    """
    page = layout({"content": content, "style": style, "result": result}, examples)
    wire(page, Playground(), Explainer(model))
    return page
