"""The Explore tab: every distance on the visitor's own photo and painting, side by side, measured.

A tab of its own rather than a section of Stylize: a grid of six to eight cells and a
map need the page's width, and a teacher opens it to compare, not to make one picture.
It has its own photo and painting (the example pair to start), and a click on a cell or
on its point in the map carries the photo, the painting and that cell's settings into
the Stylize tab for a full-size run.

`layout` → `ExplorePage`, `wire(page, explorer, stylize, tabs)`. API name: `/explore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from nst.methods import METHODS

from .controls import Controls
from .explore_handlers import MAP_COLUMNS, MODES, Explorer, cell_in_range
from .gpu import HEAVY
from .guards import guard_image_upload
from .page import Page
from .stylize_tab import StylizePage

__all__ = ["STYLIZE_TAB", "ExplorePage", "layout", "wire", "build_explore_tab"]

# The Stylize tab's id, which a picked cell switches to.
STYLIZE_TAB = "stylize"
_INTRO = ("### Every distance on your own photo at once\n"
          "Each cell is a small, quick run of one distance at its default style weight γ (or one distance over a "
          "strip of γ). The map places each result by how much of the painting's style it took (**Gram gap "
          "closed**, 1 = the painting's Gram matrices) and how much it changed the photo (**content change**), "
          "measured on an independent network so that no distance is judged by its own yardstick.")


@dataclass
class ExplorePage(Page):
    """The tab's components; `cells` holds the finished cells' settings, in grid order."""

    content: gr.Image
    style: gr.Image
    mode: gr.Radio
    method: gr.Dropdown
    run: gr.Button
    stop: gr.Button
    status: gr.Markdown
    gallery: gr.Gallery
    map: gr.ScatterPlot
    sentence: gr.Markdown
    grid: gr.Image
    map_png: gr.Image
    figures: gr.JSON
    cells: gr.State


def layout(examples: Path) -> ExplorePage:
    """Lay out the tab inside the caller's `with gr.Tab(...)`; `examples` holds content/ and style/."""
    gr.Markdown(_INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            with gr.Row():
                content = gr.Image(examples / "content" / "chelsea_cat.jpg", label="Content photo", type="filepath",
                                   sources=["upload", "clipboard"], height=180, min_width=120,
                                   elem_id="explore-content")
                style = gr.Image(examples / "style" / "starry_night.jpg", label="Style painting", type="filepath",
                                 sources=["upload", "clipboard"], height=180, min_width=120, elem_id="explore-style")
            guard_image_upload(content, "content image")
            guard_image_upload(style, "style image")
            mode = gr.Radio([(label, key) for key, label in MODES.items()], value="methods", label="Compare",
                            elem_id="explore-mode")
            method = gr.Dropdown([(m.title, m.name) for m in METHODS.values()], value="poly",
                                 label="Method of the γ strip", elem_id="explore-method")
            with gr.Row():
                run = gr.Button("Explore", variant="primary", elem_id="explore-button")
                stop = gr.Button("Stop", variant="stop", elem_id="explore-stop")
            status = gr.Markdown("Press **Explore**: six small runs, about a minute on a CPU.", elem_id="explore-status")
        with gr.Column(scale=5, min_width=300):
            gallery = gr.Gallery(label="Cells (click one to open it in Stylize)", columns=4, height=330,
                                 allow_preview=False, interactive=False, elem_id="explore-gallery")
            sentence = gr.Markdown(elem_id="explore-sentence")
            chart = gr.ScatterPlot(x=MAP_COLUMNS[1], y=MAP_COLUMNS[2], tooltip=MAP_COLUMNS, height=300,
                                   label="What each distance trades: hover a point for its cell, drag across it "
                                         "to open it in Stylize", elem_id="explore-map")
            with gr.Accordion("The grid and the labelled map as images, and the figures", open=False):
                grid = gr.Image(label="Grid", type="pil", format="png", interactive=False, elem_id="explore-grid")
                map_png = gr.Image(label="Map", type="pil", format="png", interactive=False, elem_id="explore-map-png")
                figures = gr.JSON(label="Figures", elem_id="explore-figures")
    return ExplorePage(content, style, mode, method, run, stop, status, gallery, chart, sentence, grid, map_png,
                       figures, gr.State([]))


def wire(page: ExplorePage, explorer: Explorer, stylize: StylizePage, tabs: gr.Tabs) -> None:
    """The tab's events; a picked cell fills the Stylize tab (`stylize`) and switches `tabs` to it."""
    outputs = page.components("status", "gallery", "map", "sentence", "grid", "map_png", "figures", "cells")
    run = page.run.click(page.bind(explorer.explore), page.components("content", "style", "mode", "method"),
                         outputs, api_name="explore", show_progress_on=[page.status], **HEAVY)
    page.stop.click(explorer.stop, None, None, cancels=[run], api_name="explore_stop", api_visibility="private",
                    queue=False)
    names = ("content", "style", *(n for n in Controls.names() if n != "mask"))
    targets = [stylize.content, stylize.style, *(stylize.controls[n] for n in names[2:])]

    def open_in_stylize(content: str | None, style: str | None, cells: list, index: int | None) -> list:
        if index is None:  # a brushed range of the map with no point in it
            return [gr.skip()] * (len(targets) + 1)
        shown = explorer.pick(content, style, cells, index)
        return [shown[name] for name in names] + [gr.Tabs(selected=STYLIZE_TAB)]

    def cell_clicked(content: str | None, style: str | None, cells: list, evt: gr.SelectData) -> list:
        return open_in_stylize(content, style, cells, evt.index)

    def range_dragged(content: str | None, style: str | None, cells: list, evt: gr.SelectData) -> list:
        # A native plot reports a dragged range of x, not a clicked point: the point in that range opens.
        return open_in_stylize(content, style, cells, cell_in_range(cells, *evt.index))

    inputs = page.components("content", "style", "cells")
    page.gallery.select(cell_clicked, inputs, [*targets, tabs], api_name="explore_pick", api_visibility="private",
                        queue=False)
    page.map.select(range_dragged, inputs, [*targets, tabs], api_name="explore_map_pick", api_visibility="private",
                    queue=False)


def build_explore_tab(explorer: Explorer, examples: Path, stylize: StylizePage, tabs: gr.Tabs) -> ExplorePage:
    """`layout` then `wire`: the whole tab inside the caller's `with gr.Tab(...)`."""
    page = layout(examples)
    wire(page, explorer, stylize, tabs)
    return page
