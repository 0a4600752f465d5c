"""The Paper tab: the paper's four figures, cell by cell, and what each one shows.

One section per figure of the manifest: the caption, what the figure says about
distribution alignment, a gallery laid out like the figure (its cells pre-rendered on the
paper's VGG-19 in examples/paper/rendered/), and a cell viewer with the cell's parameters.
Where cells come from and how a missing one is rendered: `webui.paper_cells`.

Events: `/paper_cell` (figure, row, column → image, record), and per figure N
`/paper_figN_cell` (the section's Render button), `/paper_figN_select` (a gallery click,
private) and `paper_figN_gallery` (the gallery, refreshed on every page load so a
visitor sees the cells earlier visitors rendered).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from nst.errors import NSTError
from nst.paper import load_manifest

from .gpu import HEAVY
from .model import SharedModel
from .page import Page
from .paper_cells import (CACHE_ENV, RENDERED_ENV, SIZE_ENV, STEPS_ENV, FigureCells, PaperCells, PaperPaths,
                          allowed_paths, one_line)
from .text import paper_intro
from .visitors import Visitors

__all__ = ["RENDERED_ENV", "CACHE_ENV", "SIZE_ENV", "STEPS_ENV", "PaperPaths", "allowed_paths", "FigureSection",
           "PaperPage", "layout", "wire", "build_paper_tab"]


@dataclass
class FigureSection(Page):
    """One figure's components; `figure` is its id in the manifest."""

    figure: str
    gallery: gr.Gallery
    row: gr.Dropdown
    column: gr.Dropdown
    render: gr.Button
    image: gr.Image
    record: gr.JSON


@dataclass
class PaperPage(Page):
    """The tab's components: the figures' sections, and the hidden inputs and outputs of `/paper_cell`."""

    intro: gr.Markdown
    sections: list[FigureSection]
    figure: gr.Dropdown
    row: gr.Number
    column: gr.Number
    render: gr.Button
    image: gr.Image
    record: gr.JSON


def layout(cells: PaperCells) -> PaperPage:
    """Lay out the tab inside the caller's `with gr.Tab(...)`."""
    manifest = cells.manifest
    intro = gr.Markdown(paper_intro(manifest.data.get("paper", ""), cells.size, cells.steps))
    sections = [figure_section(cells, figure) for figure in manifest.figure_ids]
    with gr.Row(visible=False):  # `/paper_cell` is for API clients; the sections serve the page
        figure = gr.Dropdown(list(manifest.figure_ids), value=manifest.figure_ids[0], label="figure")
        row = gr.Number(0, precision=0, label="row")
        column = gr.Number(0, precision=0, label="column")
        render = gr.Button("render cell")
        image = gr.Image(label="cell", format="png")
        record = gr.JSON(label="cell parameters")
    return PaperPage(intro, sections, figure, row, column, render, image, record)


def figure_section(cells: PaperCells, figure: str) -> FigureSection:
    spec = cells.manifest.figure(figure)
    gr.Markdown(f"### Figure {figure}: {spec['title']}\n\n{spec['caption']}\n\n{spec.get('about', '')}"
                + (f"\n\n*{spec['notes']}*" if spec.get("notes") else ""))
    gallery = gr.Gallery(columns=len(spec["columns"]), label=f"Figure {figure}", object_fit="contain",
                         allow_preview=False, format="png", elem_id=f"paper-gallery-{figure}")
    with gr.Row():
        row = gr.Dropdown([(one_line(r["label"]), i) for i, r in enumerate(spec["rows"])], value=0,
                          label="row")
        column = gr.Dropdown([(one_line(c["label"]), j) for j, c in enumerate(spec["columns"])], value=0,
                             label="column")
        render = gr.Button("Render / show this cell", variant="primary")
    with gr.Row():
        image = gr.Image(label="cell", format="png", interactive=False)
        record = gr.JSON(label="cell parameters")
    return FigureSection(figure, gallery, row, column, render, image, record)


def wire(page: PaperPage, cells: PaperCells) -> None:
    """The tab's events; rendering shares the app's one GPU slot (`HEAVY`), looking up is light."""
    page.render.click(page.bind(cells.show), page.components("figure", "row", "column"),
                      page.components("image", "record"), api_name="paper_cell", **HEAVY)
    for section in page.sections:
        wire_section(section, FigureCells(cells, section.figure))


def wire_section(section: FigureSection, handlers: FigureCells) -> None:
    name = f"paper_fig{section.figure}"
    gr.on(None, section.bind(handlers.gallery), None, section.components("gallery"), api_name=f"{name}_gallery",
          queue=False)  # no trigger: on every page load
    section.render.click(section.bind(handlers.render), section.components("row", "column"),
                         section.components("image", "record", "gallery"), api_name=f"{name}_cell", **HEAVY)
    section.gallery.select(section.bind(handlers.select), None, section.components("row", "column", "image", "record"),
                           api_name=f"{name}_select", api_visibility="private", queue=False)


def build_paper_tab(model: SharedModel, paths: PaperPaths, visitors: Visitors | None = None) -> PaperPage | None:
    """Lay out and wire the Paper tab inside the caller's `with gr.Tab(...)`, on the
    manifest at `paths.manifest`; None (and a notice on the page) when it cannot be read.

    `model` renders cells on demand and is loaded only then: without weights, the
    visitor reads why, and finished cells still show. `visitors`: the app's runs by
    visitor, shared with the other tabs (a render counts as a visitor's run).
    """
    try:
        manifest = load_manifest(paths.manifest)
    except NSTError as exc:
        gr.Markdown(f"The paper's figures are unavailable: {exc}")
        return None
    cells = PaperCells(model, manifest, paths, visitors)
    page = layout(cells)
    wire(page, cells)
    return page
