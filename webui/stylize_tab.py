"""The Stylize tab: two images, the controls, the result as it improves, and this visitor's runs.

`layout(stylizer, examples)` builds the components (a `StylizePage`), `wire(page,
stylizer)` connects them to the handlers of `webui.stylize_handlers.Stylizer`. Every
control is a field of `webui.controls.Controls` and one widget made here under the
same name; `layout` refuses a widget without a field or a field without a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from nst.colors import COLOR_MODES
from nst.config import BLENDS, INITS, LIMITS, OPTIMIZERS, PRECISIONS, STYLE_LAYERS, field_spec
from nst.methods import METHODS
from nst.regions import palette_hex

from .controls import AUTO, GAMMA_CHOICES, NO_FUSION, Controls
from .gpu import HEAVY
from .limits import MAX_SIZE
from .page import Page
from .stylize_handlers import Stylizer
from .text import BLEND_INFO, BLEND_LABELS, COLOR_LABELS, LATEX_INLINE, REGIONS_INFO, method_guide
from .guards import guard_control, guard_image_upload

__all__ = ["EXAMPLES", "StylizePage", "layout", "wire", "build_stylize_tab"]

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


@dataclass
class StylizePage(Page):
    """The Stylize tab's components; `controls` maps each `Controls` field to its widget.

    The page paints regions in an image editor (`controls["mask"]`); the `/stylize` API takes
    a mask file instead, through `mask_file`, which the page never shows.
    """

    content: gr.Image
    style: gr.Image
    controls: Widgets
    mask_file: gr.Image
    run_info: gr.Markdown
    run: gr.Button
    stop: gr.Button
    result: gr.Image
    status: gr.Markdown
    losses: gr.LinePlot
    record: gr.JSON
    gallery: gr.Gallery
    history: gr.State

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
            controls = _method_controls(start)
            run_info = gr.Markdown(stylizer.estimate(start.size, start.steps, start.method), elem_id="run-info")
            with gr.Row():
                run = gr.Button("Stylize", variant="primary", elem_id="stylize-button")
                stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
            controls |= _more_controls(start)
            controls["mask"] = _regions_editor()
        with gr.Column(scale=6, min_width=300):
            result, status, losses, record = _result_column(stylizer.model.label)
    gallery = gr.Gallery(label=f"Your runs in this session ({stylizer.model.label}): click one to restore its "
                               "settings", columns=6, height=200, allow_preview=False, interactive=False,
                         visible=False, fit_columns=False, elem_id="history")
    if set(controls) != set(Controls.names()):
        raise RuntimeError(f"controls without a widget or widgets without a field: "
                           f"{sorted(set(controls) ^ set(Controls.names()))}")
    for name, widget in controls.items():
        guard_control(widget, name)
    mask_file = gr.Image(type="filepath", image_mode="RGBA", format="png", visible=False, label="Mask",
                         elem_id="mask-file")
    page = StylizePage(content, style, controls, mask_file, run_info, run, stop, result, status, losses, record,
                       gallery, gr.State([]))
    _examples(page, stylizer, examples)
    return page


def _result_column(label: str) -> tuple[gr.Image, gr.Markdown, gr.LinePlot, gr.JSON]:
    result = gr.Image(label=f"Result, made with {label}", type="filepath", format="png",
                      interactive=False, buttons=["download", "fullscreen"], elem_id="result", height=420)
    status = gr.Markdown("Choose two images and press **Stylize**.", elem_id="status")
    losses = gr.LinePlot(x="step", y="value", color="term", elem_id="losses",
                         label="Loss per term: α·content, γ·style and their total")
    with gr.Accordion("Run settings (JSON, to reproduce a result)", open=False):
        record = gr.JSON(label="Run record", show_label=False, elem_id="record")
    return result, status, losses, record


def _method_controls(start: Controls) -> Widgets:
    """Method, γ, fusion, size and steps: the choices most runs change."""
    method = gr.Radio([(m.title, m.name) for m in METHODS.values()], value=start.method,
                      label="Method", info="How the feature distributions of image and painting are compared")
    gr.Markdown(method_guide(), latex_delimiters=LATEX_INLINE, elem_id="method-guide")
    gamma = gr.Dropdown([(f"{g:g}", g) for g in GAMMA_CHOICES], value=start.gamma, label="Style weight γ",
                        allow_custom_value=True,
                        info="How much the style counts against the content (reset to the "
                             "method's default when the method changes); type any other value")
    with gr.Accordion("Fusion: mix in a second method", open=False):
        fuse_with = gr.Dropdown([("none", NO_FUSION), *((m.title, m.name) for m in METHODS.values())],
                                value=start.fuse_with, label="Second method")
        balance = gr.Slider(0, 1, value=start.fusion_balance, step=0.05, label="Weight of the second method",
                            info="0 keeps the first method only, 1 the second only")
    with gr.Row():
        size = gr.Slider(LIMITS.min_size, MAX_SIZE, value=start.size, step=16,
                         label="Output size (long edge, px)", elem_id="size")
        steps = gr.Slider(1, LIMITS.max_steps, value=start.steps, step=1, label="Steps", elem_id="steps")
    scales = gr.Radio([AUTO, *(str(n) for n in range(1, field_spec("scales")["max"] + 1))],
                      value=str(start.scales), label="Scales (coarse to fine)", elem_id="scales",
                      info="Start small and double the size up to the output's, the steps shared equally: "
                           "most of the look for a fraction of the time. Auto: up to 3 on a CPU; on a GPU 1, "
                           "or 2 above 1024 px")
    colors = gr.Radio([(COLOR_LABELS[mode], mode) for mode in COLOR_MODES], value=start.colors, label="Colours",
                      elem_id="colors", info="Keep the photo's colours: stylize its luminance only, or recolour "
                                             "the painting to the photo's colour statistics first")
    with gr.Accordion("Several paintings: blend more styles in", open=False):
        more_styles = gr.File(file_count="multiple", file_types=["image"], type="filepath", label="More paintings",
                              elem_id="more-styles")
        style_weights = gr.Textbox(start.style_weights, label="Weights", placeholder="equal", elem_id="style-weights",
                                   info="One per painting, the style image first, e.g. 0.7, 0.3")
        blend = gr.Radio([(BLEND_LABELS[b], b) for b in BLENDS], value=start.style_blend, label="Blend",
                         elem_id="style-blend", info=BLEND_INFO)
    return {"method": method, "gamma": gamma, "fuse_with": fuse_with, "fusion_balance": balance, "size": size,
            "steps": steps, "scales": scales, "colors": colors, "more_styles": more_styles,
            "style_weights": style_weights, "style_blend": blend}


def _more_controls(start: Controls) -> Widgets:
    """Content weight, layers, start image and seed; the optimizer and the precision under Advanced."""
    alpha, lr, tv, seed = (field_spec(name) for name in ("content_weight", "lr", "tv_weight", "seed"))
    with gr.Accordion("More options", open=False):
        content_weight = gr.Number(start.content_weight, minimum=alpha["min"], maximum=alpha["max"],
                                   label="Content weight α",
                                   info="0 reconstructs the style alone (the paper's Figure 1)")
        style_layers = gr.CheckboxGroup(list(STYLE_LAYERS), value=list(start.style_layers), label="Style layers")
        init = gr.Radio(list(INITS), value=start.init, label="Start from")
        seed_box = gr.Number(start.seed, precision=0, minimum=0, maximum=seed["max"], label="Seed", info=seed["help"])
    with gr.Accordion("Advanced", open=False):
        optimizer = gr.Radio(list(OPTIMIZERS), value=start.optimizer, label="Optimizer",
                             info=field_spec("optimizer")["help"])
        learning_rate = gr.Number(start.lr, minimum=lr["min"], maximum=lr["max"], label="Learning rate",
                                  info=f"{lr['help']}; leave empty for the default")
        layer_weights = gr.Textbox(start.layer_weights, label="Layer weights", placeholder="equal",
                                   info="One number per ticked style layer, e.g. 1, 1, 1, 0.5, 0.5")
        tv_weight = gr.Number(start.tv_weight, minimum=tv["min"], maximum=tv["max"], label="Smoothing (TV weight)",
                              info=tv["help"])
        precision = gr.Radio(list(PRECISIONS), value=start.precision, label="Precision",
                             info=field_spec("precision")["help"])
    return {"content_weight": content_weight, "style_layers": style_layers, "init": init, "seed": seed_box,
            "optimizer": optimizer, "lr": learning_rate, "layer_weights": layer_weights, "tv_weight": tv_weight,
            "precision": precision}


def _regions_editor() -> gr.ImageEditor:
    """An editor showing the photo, to paint each painting's region in its colour (`nst.regions.PALETTE`)."""
    with gr.Accordion("Regions: paint where each painting goes", open=False):
        gr.Markdown(REGIONS_INFO, elem_id="regions-info")
        return gr.ImageEditor(type="pil", image_mode="RGBA", sources=(), transforms=(), layers=False, format="png",
                              brush=gr.Brush(colors=palette_hex(), default_color=palette_hex()[0], color_mode="fixed"),
                              label="Regions", show_label=False, height=360, elem_id="mask")


def _examples(page: StylizePage, stylizer: Stylizer, folder: Path) -> None:
    rows = [[folder / "content" / c, folder / "style" / s, m, METHODS[m].default_gamma] for c, s, m in EXAMPLES]
    gr.Examples(rows, inputs=[page.content, page.style, page.controls["method"], page.controls["gamma"]],
                outputs=[page.result], fn=stylizer.example, cache_examples=True, cache_mode="lazy",
                label="Examples (public-domain paintings, CC0 photos)", examples_per_page=len(EXAMPLES),
                elem_id="examples")


def wire(page: StylizePage, stylizer: Stylizer) -> None:
    """The tab's events: runs share the GPU queue (`HEAVY`), light ones skip the queue."""
    kept = [page.result, page.record, page.history]
    run = page.run.click(page.bind(stylizer.run), inputs_kwargs=page.inputs,
                         outputs=page.components("result", "losses", "record", "status"), api_name="run",
                         api_visibility="undocumented", show_progress_on=[page.status], **HEAVY)
    run.success(page.bind(stylizer.remember), kept, page.components("history", "gallery"), api_name="remember",
                api_visibility="private", queue=False)
    page.stop.click(page.bind(stylizer.stop), kept, page.components("history", "gallery", "status"),
                    cancels=[run], api_name="stop", api_visibility="private", queue=False)
    gr.on([], stylizer.stylize, inputs_kwargs=page.api_inputs, outputs=[page.result], api_name="stylize", **HEAVY)
    page.content.change(page.bind(stylizer.mask_canvas), page.content, page.controls["mask"], api_name="mask_canvas",
                        api_visibility="private", queue=False)
    sizing = page.components("size", "steps", "method", "fuse_with", "scales")
    gr.on([control.change for control in sizing], stylizer.estimate, sizing, page.run_info, api_name="estimate",
          queue=False)
    page.controls["method"].input(stylizer.default_gamma, page.controls["method"], page.controls["gamma"],
                                  api_name="default_gamma", queue=False)
    page.gallery.select(page.bind(stylizer.restore), [page.history],
                        page.components("result", "record", *(n for n in Controls.names() if n != "mask")),
                        api_name="restore",
                        api_visibility="private", queue=False)


def build_stylize_tab(stylizer: Stylizer, examples: Path) -> StylizePage:
    """`layout` then `wire`: the whole tab inside the caller's `with gr.Tab(...)`."""
    page = layout(stylizer, examples)
    wire(page, stylizer)
    return page
