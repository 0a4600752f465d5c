"""The Paper tab: the paper's four figures, cell by cell, and what each one shows.

One section per figure of `examples/paper/figures.json`: the caption, what the figure
says about distribution alignment, a gallery laid out like the figure, and a cell
viewer with the cell's parameters. A cell is taken from the pre-rendered folder when a
record there matches it (`$NST_PAPER_RENDERED`, default `examples/paper/rendered`,
written by `python -m nst.paper all` with real weights). Otherwise the visitor's click
renders it and caches it on disk (`$NST_PAPER_CACHE`, default `<temp>/nst-mmd-paper`),
so a fresh Space fills its galleries as they are visited. Until then each figure also
shows its preview grid from docs/paper/ (made with the VGG-16 (HED) stand-in by
`python -m scripts.docs_images figures`), labelled as such.

Events: `/paper_cell` (figure, row, column → image, record), and per figure N
`/paper_figN_cell` (the section's Render button) and `/paper_figN_select` (a gallery
click, private).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
from PIL import Image, ImageDraw, ImageFont

from nst.errors import NSTError
from nst.features import VGGFeatures
from nst.paper import RENDERED_DIR, Cell, Manifest, cached_cell, figure_cells, iter_render_cell, load_manifest
from nst.weights import default_device

from .gpu import ZERO_GPU_SPEED
from .model import page_defaults
from .text import paper_intro

__all__ = ["RENDERED_ENV", "CACHE_ENV", "SIZE_ENV", "STEPS_ENV", "PaperStore", "allowed_paths", "build_paper_tab"]

PREVIEW_DIR = Path(__file__).resolve().parent.parent / "docs" / "paper"
RENDERED_ENV = "NST_PAPER_RENDERED"
CACHE_ENV = "NST_PAPER_CACHE"
# Size and steps of cells rendered on demand (default: the device's run defaults).
SIZE_ENV = "NST_PAPER_SIZE"
STEPS_ENV = "NST_PAPER_STEPS"
# A streamed render shows about this many intermediate images.
_PREVIEWS = 10

GetExtractor = Callable[[], VGGFeatures]
GpuDecorator = Callable[[Callable[..., int]], Callable[[Callable], Callable]]


def _rendered_dir() -> Path:
    return Path(os.environ.get(RENDERED_ENV) or RENDERED_DIR)


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "nst-mmd-paper")


def allowed_paths() -> list[str]:
    """Folders this tab serves images from, for `launch(allowed_paths=...)` when they lie
    outside the working directory and the temp folder (Gradio serves those two anyway)."""
    return [str(_rendered_dir()), str(_cache_dir()), str(PREVIEW_DIR)]


@dataclass(frozen=True)
class PaperStore:
    """Where cells are looked up (`rendered`, then `cache`) and at what size new ones render."""

    manifest: Manifest
    rendered: Path
    cache: Path
    size: int
    steps: int

    def cells(self, figure: str) -> list[Cell]:
        return figure_cells(figure, self.size, self.steps, manifest=self.manifest)

    def cell(self, figure: str, row: int, column: int) -> Cell:
        return figure_cells(figure, self.size, self.steps, rows=[int(row)], columns=[int(column)],
                            manifest=self.manifest)[0]

    def find(self, cell: Cell) -> tuple[Path, dict[str, Any]] | None:
        """A finished rendering of `cell`: pre-rendered at whatever size and steps the
        runner used, else in the cache at this store's size and steps."""
        try:
            done = json.loads(cell.record_path(self.rendered).read_text(encoding="utf-8"))["settings"]
            same_run = dataclasses.replace(cell, settings=cell.settings.replace(size=done["size"],
                                                                                 steps=done["steps"]))
            hit = cached_cell(same_run, self.rendered)
        except (OSError, KeyError, TypeError, ValueError):
            hit = None
        return hit or cached_cell(cell, self.cache)

    def placeholder(self) -> Path:
        """A grey tile saying the cell is not rendered yet (drawn once)."""
        path = self.cache / "not_rendered.png"
        if not path.is_file():
            image = Image.new("RGB", (256, 256), (230, 230, 230))
            ImageDraw.Draw(image).multiline_text((128, 128), "not rendered yet\nclick it, then Render",
                                                 fill=(90, 90, 90), font=ImageFont.load_default(size=18),
                                                 anchor="mm", align="center")
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
        return path

    def gallery(self, figure: str) -> list[tuple[str, str]]:
        """(image, caption) per cell, row-major, so the gallery is laid out like the figure."""
        items = []
        for cell in self.cells(figure):
            hit = self.find(cell)
            label = f"{_one_line(cell.row_label)} · {_one_line(cell.column_label)}"
            if hit is None:
                items.append((str(self.placeholder()), f"{label} (not rendered yet)"))
            else:
                test = " (random test weights, not a stylization)" if "random" in hit[1].get("weights", "") else ""
                items.append((str(hit[0]), label + test))
        return items


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _pending(cell: Cell, status: str) -> dict[str, Any]:
    return {"status": status, "figure": cell.figure, "row": cell.row_label, "column": cell.column_label,
            "content": cell.content.name, "style": cell.style.name,
            "settings": dataclasses.asdict(cell.settings)}


def _render_stream(store: PaperStore, get_extractor: GetExtractor, figure: str, row: int,
                   column: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Render one cell into the cache, yielding (image, status) as it goes and
    (png path, record) at the end. The only part that needs the GPU."""
    cell = store.cell(figure, row, column)
    every = max(1, cell.settings.steps // _PREVIEWS)
    try:
        for step in iter_render_cell(cell, store.cache, get_extractor()):
            if step.step % every == 0 and step.step < step.steps:
                yield step.pil(), _pending(cell, f"rendering: step {step.step} of {step.steps}")
    except NSTError as exc:
        raise gr.Error(str(exc)) from None
    done = store.find(cell)
    assert done is not None  # iter_render_cell has just written it
    yield str(done[0]), done[1]


def _section(store: PaperStore, figure: str, render: Callable[..., Iterator]) -> None:
    spec = store.manifest.figure(figure)
    ncols = len(spec["columns"])
    gr.Markdown(f"### Figure {figure}: {spec['title']}\n\n{spec['caption']}\n\n{spec.get('about', '')}"
                + (f"\n\n*{spec['notes']}*" if spec.get("notes") else ""))
    preview = PREVIEW_DIR / f"fig{figure}.png"
    if preview.is_file():
        with gr.Accordion("Preview: the whole figure made with the VGG-16 (HED) stand-in, not the paper's VGG-19",
                          open=False):
            gr.Image(str(preview), show_label=False, interactive=False, format="png",
                     elem_id=f"paper-preview-{figure}")

    def current_cells() -> list[tuple[str, str]]:
        return store.gallery(figure)

    # A callable value is refreshed on every page load (its load event is named after it),
    # so a visitor sees the cells that earlier visitors had rendered.
    current_cells.__name__ = f"paper_fig{figure}_gallery"
    gallery = gr.Gallery(value=current_cells, columns=ncols, label=f"Figure {figure}",
                         object_fit="contain", allow_preview=False, format="png")
    with gr.Row():
        row = gr.Dropdown([(_one_line(r["label"]), i) for i, r in enumerate(spec["rows"])], value=0, label="row")
        column = gr.Dropdown([(_one_line(c["label"]), j) for j, c in enumerate(spec["columns"])], value=0,
                             label="column")
        button = gr.Button("Render / show this cell", variant="primary")
    with gr.Row():
        image = gr.Image(label="cell", format="png", interactive=False)
        info = gr.JSON(label="cell parameters")

    def on_render(r: int, c: int) -> Iterator[tuple[Any, Any, Any]]:
        for picture, record in render(figure, r, c):
            final = "status" not in record
            yield picture, record, store.gallery(figure) if final else gr.skip()

    def on_select(evt: gr.SelectData) -> tuple[int, int, Any, dict[str, Any]]:
        r, c = divmod(evt.index, ncols)
        cell = store.cell(figure, r, c)
        hit = store.find(cell)
        if hit is None:
            return r, c, None, _pending(cell, "not rendered yet: press Render")
        return r, c, str(hit[0]), hit[1]

    button.click(on_render, [row, column], [image, info, gallery], api_name=f"paper_fig{figure}_cell",
                 concurrency_id="gpu", concurrency_limit=1)
    gallery.select(on_select, None, [row, column, image, info], api_name=f"paper_fig{figure}_select",
                   api_visibility="private")


def build_paper_tab(get_extractor: GetExtractor, *, gpu: GpuDecorator | None = None,
                    size: int | None = None, steps: int | None = None) -> None:
    """Lay out the Paper tab inside the caller's `with gr.Tab(...)` and wire its events.

    `get_extractor` is called only when a cell must be rendered; an `NSTError` from it
    (no weights) is shown to the visitor, and pre-rendered cells still show.
    `gpu(duration)` wraps the rendering (e.g. `spaces.GPU` on ZeroGPU). `size` and
    `steps` of on-demand cells default to `$NST_PAPER_SIZE` / `$NST_PAPER_STEPS`, else the
    device's run defaults (`nst.runtime`).
    """
    try:
        manifest = load_manifest()
    except NSTError as exc:
        gr.Markdown(f"The paper's figures are unavailable: {exc}")
        return
    defaults = page_defaults(default_device())
    size = size or int(os.environ.get(SIZE_ENV) or defaults["size"])
    steps = steps or int(os.environ.get(STEPS_ENV) or defaults["steps"])
    store = PaperStore(manifest, _rendered_dir(), _cache_dir(), size, steps)

    def render_new(figure: str, row: int, column: int) -> Iterator[tuple[Any, dict[str, Any]]]:
        yield from _render_stream(store, get_extractor, figure, row, column)

    if gpu is not None:
        # One cell's optimisation plus a margin for loading the weights.
        render_new = gpu(lambda *args: int(ZERO_GPU_SPEED.estimate(store.size, store.steps)) + 30)(render_new)

    def render(figure: str, row: int, column: int) -> Iterator[tuple[Any, dict[str, Any]]]:
        """(image, parameters) of a cell: at once when rendered (no GPU asked for), else streamed."""
        try:
            hit = store.find(store.cell(str(figure), int(row), int(column)))
        except NSTError as exc:
            raise gr.Error(str(exc)) from None
        if hit is not None:
            yield str(hit[0]), hit[1]
            return
        yield from render_new(str(figure), int(row), int(column))

    gr.Markdown(paper_intro(store.manifest.data.get('paper', ''), store.size, store.steps))
    for figure in manifest.figure_ids:
        _section(store, figure, render)
    _api(manifest, render)


def _api(manifest: Manifest, render: Callable[..., Iterator]) -> None:
    """`/paper_cell`: any cell by figure, row and column, for API clients (hidden on the page)."""
    with gr.Row(visible=False):
        figure_in = gr.Dropdown(list(manifest.figure_ids), value=manifest.figure_ids[0], label="figure")
        row_in = gr.Number(0, precision=0, label="row")
        column_in = gr.Number(0, precision=0, label="column")
        api_button = gr.Button("render cell")
        api_image = gr.Image(label="cell", format="png")
        api_info = gr.JSON(label="cell parameters")
    api_button.click(render, [figure_in, row_in, column_in], [api_image, api_info], api_name="paper_cell",
                     concurrency_id="gpu", concurrency_limit=1)
