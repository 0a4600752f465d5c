"""The Stylize tab: two images, the controls, the result as it improves, and this visitor's runs.

`layout(stylizer, examples)` builds the components (a `StylizePage`), `wire(page,
stylizer, sharing, demo)` connects them to the handlers of `webui.stylize_handlers.Stylizer`
and of `webui.share_handlers.Sharing` (a dropped PNG, Share, a link opened). Every
control is a field of `webui.controls.Controls`, which declares its widget too; the tab
only says where each place is (`PLACES`), and `layout` refuses a control whose place is
not on the page.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import gradio as gr

from nst.methods import METHODS

from .controls import Controls
from .gpu import HEAVY
from .limits import page_max_size
from .page import Page
from .share_handlers import LINK_PARAMETER, Sharing
from .stylize_handlers import Stylizer
from .text import LATEX_INLINE, REGIONS_INFO, method_guide
from .guards import guard_control, guard_image_upload

__all__ = ["EXAMPLES", "PLACES", "StylizePage", "layout", "wire", "build_stylize_tab"]

# Public-domain and CC0 pairs from examples/ (see examples/SOURCES.md), shown with a
# method each at its default γ: content, style, method.
EXAMPLES = (
    ("chelsea_cat.jpg", "starry_night.jpg", "poly"),
    ("golden_gate_fog.jpg", "the_scream.jpg", "gaussian"),
    ("beach_city.jpg", "great_wave.jpg", "bn"),
    ("coffee.jpg", "grande_jatte.jpg", "poly"),
    ("rocket.jpg", "composition_vii.jpg", "bn"),
    ("astronaut.jpg", "adele_bloch_bauer.jpg", "gaussian"),
)

Widgets = dict[str, gr.components.Component]


@contextlib.contextmanager
def _method_place() -> Iterator[None]:
    yield
    gr.Markdown(method_guide(), latex_delimiters=LATEX_INLINE, elem_id="method-guide")


@contextlib.contextmanager
def _regions_place() -> Iterator[None]:
    with gr.Accordion("Regions: paint where each painting goes", open=False):
        gr.Markdown(REGIONS_INFO, elem_id="regions-info")
        yield


# Where the controls go (`Widget.place`), in page order: each place's container, which holds
# its controls in `Controls` order. The Stylize button comes after the places before it.
PLACES: dict[str, Callable[[], ContextManager]] = {
    "method": _method_place,
    "gamma": contextlib.nullcontext,
    "fusion": lambda: gr.Accordion("Fusion: mix in a second method", open=False),
    "size": gr.Row,
    "scales": contextlib.nullcontext,
    "colors": contextlib.nullcontext,
    "paintings": lambda: gr.Accordion("Several paintings: blend more styles in", open=False),
    "more": lambda: gr.Accordion("More options", open=False),
    "advanced": lambda: gr.Accordion("Advanced", open=False),
    "regions": _regions_place,
}
_BEFORE_BUTTON = ("method", "gamma", "fusion", "size", "scales", "colors", "paintings")


@dataclass
class StylizePage(Page):
    """The Stylize tab's components; `controls` maps each `Controls` field to its widget.

    The page paints regions in an image editor (`controls["mask"]`); the `/stylize` API takes
    a mask file instead, through `mask_file`, which the page never shows. `history` holds this
    visitor's runs in the browser (`webui.your_runs`), `images` their full images for the session.
    """

    content: gr.Image
    style: gr.Image
    controls: Widgets
    mask_file: gr.Image
    run_info: gr.Markdown
    run: gr.Button
    stop: gr.Button
    result: gr.Image
    compare: gr.ImageSlider
    status: gr.Markdown
    losses: gr.LinePlot
    record: gr.JSON
    share: gr.Button
    link: gr.Textbox
    restore_file: gr.File
    gallery: gr.Gallery
    history: gr.BrowserState
    images: gr.State

    def component(self, name: str) -> gr.components.Component:
        """A field, or a control by its `Controls` name."""
        return self.controls[name] if name in self.controls else super().component(name)

    @property
    def inputs(self) -> dict[str, gr.components.Component]:
        """The two images and every control by parameter name (`inputs_kwargs`), in `Controls` order."""
        return {"content": self.content, "style": self.style, **{name: self.controls[name] for name in Controls.names()}}

    @property
    def api_inputs(self) -> dict[str, gr.components.Component]:
        """`inputs` with the mask as a file: the `/stylize` API's parameters, in order."""
        return {**self.inputs, "mask": self.mask_file}


def layout(stylizer: Stylizer, examples: Path) -> StylizePage:
    """Lay out the tab inside the caller's `with gr.Tab(...)`; `examples` holds content/ and style/."""
    start = Controls(**stylizer.model.defaults, gamma=METHODS[Controls().method].default_gamma)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            with gr.Row():
                content = gr.Image(label="Content photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                                   height=220, min_width=150, elem_id="content-image")
                style = gr.Image(label="Style painting", type="filepath", sources=["upload", "clipboard"],
                                 height=220, min_width=150, elem_id="style-image")
            guard_image_upload(content, "content image")
            guard_image_upload(style, "style image")
            # The size goes up to what this device makes on the page (4096 px on a GPU, 2048 on a CPU).
            ranges = {"size": {"maximum": page_max_size(stylizer.model.device.type)}}
            controls = _place_controls(start, _BEFORE_BUTTON, ranges)
            run_info = gr.Markdown(stylizer.estimate(start.size, start.steps, start.method), elem_id="run-info")
            with gr.Row():
                run = gr.Button("Stylize", variant="primary", elem_id="stylize-button")
                stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
            controls |= _place_controls(start, tuple(p for p in PLACES if p not in _BEFORE_BUTTON), ranges)
        with gr.Column(scale=6, min_width=300):
            result, compare, status, losses, record = _result_column(stylizer.model.label)
            share, link, restore_file = _share_row()
    gallery = gr.Gallery(label=f"Your runs, kept in this browser ({stylizer.model.label}): click one to restore "
                               "its settings", columns=6, height=200, allow_preview=False, interactive=False,
                         visible=False, fit_columns=False, elem_id="history")
    unplaced = sorted(set(Controls.names()) - set(controls))
    if unplaced:
        raise RuntimeError(f"controls whose place is not on the page: {unplaced}; places are {', '.join(PLACES)}")
    for name, widget in controls.items():
        guard_control(widget, name)
    mask_file = gr.Image(type="filepath", image_mode="RGBA", format="png", visible=False, label="Mask",
                         elem_id="mask-file")
    page = StylizePage(content, style, controls, mask_file, run_info, run, stop, result, compare, status, losses,
                       record, share, link, restore_file, gallery, _browser_runs(), gr.State({}))
    _examples(page, stylizer, examples)
    return page


def _result_column(label: str) -> tuple[gr.Image, gr.ImageSlider, gr.Markdown, gr.LinePlot, gr.JSON]:
    with gr.Tabs():
        with gr.Tab("Result"):
            result = gr.Image(label=f"Result, made with {label}", type="filepath", format="png",
                              interactive=False, buttons=["download", "fullscreen"], elem_id="result", height=420)
        with gr.Tab("Before and after", elem_id="compare-tab"):
            compare = gr.ImageSlider(label="Drag to compare the photo (left) with the result (right)", type="pil",
                                     format="png", interactive=False, height=420, elem_id="compare")
    status = gr.Markdown("Choose two images and press **Stylize**.", elem_id="status")
    losses = gr.LinePlot(x="step", y="value", color="term", elem_id="losses",
                         label="Loss per term: α·content, γ·style and their total")
    with gr.Accordion("Run settings (JSON, to reproduce a result)", open=False):
        record = gr.JSON(label="Run record", show_label=False, elem_id="record")
    return result, compare, status, losses, record


def _share_row() -> tuple[gr.Button, gr.Textbox, gr.File]:
    with gr.Row(equal_height=True):
        share = gr.Button("Share", scale=0, min_width=100, elem_id="share-button")
        link = gr.Textbox(label="Link to this result (open it in a new page)", interactive=False, buttons=["copy"],
                          scale=4, elem_id="share-link")
    restore_file = gr.File(label="Restore from a result: drop a PNG made here", file_types=[".png"],
                           type="filepath", height=120, elem_id="restore-file")
    return share, link, restore_file


def _browser_runs() -> gr.BrowserState:
    # A fixed key and secret let the runs be read again after the app restarts (a random one
    # per process would lose them). The secret is no secret: the browser gets it with the page.
    return gr.BrowserState([], storage_key="nst-mmd-your-runs", secret="nst-mmd-your-runs")


def _place_controls(start: Controls, places: tuple[str, ...], overrides: dict[str, dict[str, Any]]) -> Widgets:
    """The widgets of the controls in `places`, each place in its container, showing `start`,
    with `overrides` of their options by control name."""
    values, made = start.values(), {}
    for place in places:
        with PLACES[place]():
            for name, widget in Controls.widgets().items():
                if widget.place == place:
                    made[name] = widget.make(values[name], **overrides.get(name, {}))
    return made


def _examples(page: StylizePage, stylizer: Stylizer, folder: Path) -> None:
    rows = [[folder / "content" / c, folder / "style" / s, m, METHODS[m].default_gamma] for c, s, m in EXAMPLES]
    gr.Examples(rows, inputs=[page.content, page.style, page.controls["method"], page.controls["gamma"]],
                outputs=[page.result], fn=stylizer.example, cache_examples=True, cache_mode="lazy",
                label="Examples (public-domain paintings, CC0 photos)", examples_per_page=len(EXAMPLES),
                elem_id="examples")


def wire(page: StylizePage, stylizer: Stylizer, sharing: Sharing, demo: gr.Blocks) -> None:
    """The tab's events: runs share the GPU queue (`HEAVY`), light ones skip the queue; the
    page's load (`demo`) brings back this browser's runs and opens a share link."""
    kept = [page.result, page.record, page.history, page.images]
    run = page.run.click(page.bind(stylizer.run), inputs_kwargs=page.inputs,
                         outputs=page.components("result", "compare", "losses", "record", "status"), api_name="run",
                         api_visibility="undocumented", show_progress_on=[page.status], **HEAVY)
    run.success(page.bind(stylizer.remember), kept, page.components("history", "images", "gallery"),
                api_name="remember", api_visibility="private", queue=False)
    page.stop.click(page.bind(stylizer.stop), kept, page.components("history", "images", "gallery", "status"),
                    cancels=[run], api_name="stop", api_visibility="private", queue=False)
    gr.on([], stylizer.stylize, inputs_kwargs=page.api_inputs, outputs=[page.result], api_name="stylize", **HEAVY)
    page.content.change(page.bind(stylizer.mask_canvas), page.content, page.controls["mask"], api_name="mask_canvas",
                        api_visibility="private", queue=False)
    sizing = page.components("size", "steps", "method", "fuse_with", "scales")
    gr.on([control.change for control in sizing], stylizer.estimate, sizing, page.run_info, api_name="estimate",
          queue=False)
    page.controls["method"].input(stylizer.default_gamma, page.controls["method"], page.controls["gamma"],
                                  api_name="default_gamma", queue=False)
    restorable = page.components("result", "record", "compare", *(n for n in Controls.names() if n != "mask"))
    page.gallery.select(page.bind(stylizer.restore), [page.history, page.images], restorable, api_name="restore",
                        api_visibility="private", queue=False)
    # Queued, unlike the other light events: a warning or an error reaches the page only from the queue.
    demo.load(page.bind(stylizer.load_runs), [page.history], page.components("history", "gallery"),
              api_name="load_runs", api_visibility="private", concurrency_limit=None, show_progress="hidden")
    _wire_sharing(page, sharing, demo, restorable)


def _wire_sharing(page: StylizePage, sharing: Sharing, demo: gr.Blocks,
                  restorable: list[gr.components.Component]) -> None:
    # Queued with no limit, unlike the other light events: their refusals reach the page only from the queue.
    page.restore_file.upload(page.bind(sharing.restore_file), page.restore_file, [*restorable, page.status],
                             api_name="restore_file", api_visibility="private", concurrency_limit=None)
    shared = page.share.click(page.bind(sharing.share), page.components("result", "content", "style", "more_styles"),
                              page.link, api_name="share", api_visibility="private", concurrency_limit=None)
    # The server does not know the address the visitor sees (a Space's proxy, a mounted path): the page does.
    shared.success(None, page.link, page.link, js=f"(link) => link && link.startsWith('?{LINK_PARAMETER}=') ? "
                                                  "new URL(link, window.location.href).href : link")
    # No progress shown: on a busy server its overlay would cover every control until the load is answered.
    demo.load(page.bind(sharing.open_link), None, [*restorable, *page.components("content", "style", "status")],
              api_name="open_link", api_visibility="private", concurrency_limit=None, show_progress="hidden")


def build_stylize_tab(stylizer: Stylizer, examples: Path, sharing: Sharing, demo: gr.Blocks) -> StylizePage:
    """`layout` then `wire`: the whole tab inside the caller's `with gr.Tab(...)` of `demo`."""
    page = layout(stylizer, examples)
    wire(page, stylizer, sharing, demo)
    return page
