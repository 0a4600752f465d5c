"""The nst-mmd web app (also the Hugging Face Space's entry point).

    python app.py [--host HOST] [--port PORT] [--share] [--weights PATH]

Layout first, events after. The handlers live in `webui.handlers`; the network is
loaded once per process (`webui.model.SharedModel`, which is also the zero-argument
`get_extractor` other tabs take). Every action has an API name; `/stylize` is the one
meant for `gradio_client`.
"""

from __future__ import annotations

try:  # ZeroGPU: `spaces` must be imported before anything touches CUDA
    import spaces  # noqa: F401
except ImportError:
    pass

import argparse
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from nst.config import INITS, LIMITS, OPTIMIZERS, STYLE_LAYERS, field_spec
from nst.methods import METHODS
from nst.weights import WEIGHTS_HELP
from webui.handlers import CONTROLS, GAMMA_CHOICES, NO_FUSION, Stylizer
from webui.explain_tab import build_explain_tab
from webui.gpu import gpu
from webui.model import SharedModel
from webui.paper_tab import allowed_paths, build_paper_tab
from webui.text import INTRO, method_guide, missing_weights
from webui.uploads import guard_image_upload

ROOT = Path(__file__).resolve().parent
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
QUEUE_SIZE = 16
CSS = """
.gradio-container {max-width: 1280px !important; margin: 0 auto;}
#run-info p, #status p {margin: 0;}
#examples {min-width: 0; max-width: 100%; overflow-x: auto;}
#examples table {width: 100%;}
#examples th, #examples td {white-space: normal;}
@media (max-width: 480px) {
  #examples th, #examples td {padding: 4px;}
  #examples td .container {width: 56px; height: 56px;}
}
"""
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber")


@dataclass
class StylizePage:
    """The Stylize tab's components; `controls` follow `webui.handlers.CONTROLS`."""

    content: gr.Image
    style: gr.Image
    controls: dict[str, gr.components.Component]
    run_info: gr.Markdown
    run: gr.Button
    stop: gr.Button
    result: gr.Image
    status: gr.Markdown
    losses: gr.LinePlot
    record: gr.JSON
    gallery: gr.Gallery
    history: gr.State

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.content, self.style, *(self.controls[name] for name in CONTROLS)]


def build_demo(weights: str = "auto", device: str | None = None) -> gr.Blocks:
    """The whole app; `weights` as for `nst.weights.load_extractor`."""
    model = SharedModel(weights, device)
    problem = model.preload()
    stylizer = Stylizer(model)
    # Every streamed frame is a file in Gradio's cache: files older than an hour are
    # deleted every half hour, so a busy Space does not fill its disk.
    with gr.Blocks(title="Neural style transfer as distribution alignment", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO, latex_delimiters=[{"left": "$", "right": "$", "display": False}])
        if problem:
            gr.Markdown(missing_weights(problem), elem_id="weights-missing")
        with gr.Tab("Stylize"):
            page = stylize_layout(stylizer)
        wire_stylize(page, stylizer)
        with gr.Tab("Why it works"):
            build_explain_tab(model, content=page.content, style=page.style, result=page.result)
        with gr.Tab("Paper"):
            build_paper_tab(model, gpu=gpu)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo


def stylize_layout(stylizer: Stylizer) -> StylizePage:
    defaults = stylizer.model.defaults
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            with gr.Row():
                content = gr.Image(label="Content photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                                   height=220, min_width=150, elem_id="content-image")
                style = gr.Image(label="Style painting", type="filepath", sources=["upload", "clipboard"],
                                 height=220, min_width=150, elem_id="style-image")
            guard_image_upload(content, "content image")
            guard_image_upload(style, "style image")
            controls = method_controls(defaults)
            estimate = stylizer.estimate(defaults["size"], defaults["steps"], field_spec("method")["default"])
            run_info = gr.Markdown(estimate, elem_id="run-info")
            with gr.Row():
                run = gr.Button("Stylize", variant="primary", elem_id="stylize-button")
                stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
            controls |= more_controls()
        with gr.Column(scale=6, min_width=300):
            result = gr.Image(label=f"Result (PNG at full size), made with {stylizer.model.label}", type="filepath",
                              format="png", interactive=False, buttons=["download", "fullscreen"], elem_id="result",
                              height=420)
            status = gr.Markdown("Choose two images and press **Stylize**.", elem_id="status")
            losses = gr.LinePlot(x="step", y="value", color="term", elem_id="losses",
                                 label="Loss per term: α·content, γ·style and their total")
            with gr.Accordion("Run settings (JSON, to reproduce a result)", open=False):
                record = gr.JSON(label="Run record", show_label=False)
    gallery = gr.Gallery(label=f"Your runs in this session ({stylizer.model.label}): click one to restore its "
                               "settings", columns=6, height=200, allow_preview=False, interactive=False,
                         visible=False, fit_columns=False, elem_id="history")
    history = gr.State([])
    gr.Examples([[ROOT / "examples" / "content" / c, ROOT / "examples" / "style" / s, m, METHODS[m].default_gamma]
                 for c, s, m in EXAMPLES],
                inputs=[content, style, controls["method"], controls["gamma"]], outputs=[result], fn=stylizer.example,
                cache_examples=True, cache_mode="lazy", label="Examples (public-domain paintings, CC0 photos)",
                examples_per_page=len(EXAMPLES), elem_id="examples")
    return StylizePage(content, style, controls, run_info, run, stop, result, status, losses, record, gallery,
                       history)


def method_controls(defaults: dict[str, int]) -> dict[str, gr.components.Component]:
    """Method, γ, fusion, size and steps: the choices most runs change."""
    method_default = field_spec("method")["default"]
    method = gr.Radio([(m.title, m.name) for m in METHODS.values()], value=method_default,
                      label="Method", info="How the feature distributions of image and painting are compared")
    gr.Markdown(method_guide(), latex_delimiters=[{"left": "$", "right": "$", "display": False}],
                elem_id="method-guide")
    gamma = gr.Dropdown([(f"{g:g}", g) for g in GAMMA_CHOICES], value=METHODS[method_default].default_gamma,
                        label="Style weight γ",
                        info="Balance factor: how much the style counts against the content (reset to the "
                             "method's default when the method changes)")
    with gr.Accordion("Fusion: mix in a second method", open=False):
        fuse_with = gr.Dropdown([("none", NO_FUSION), *((m.title, m.name) for m in METHODS.values())],
                                value=NO_FUSION, label="Second method")
        balance = gr.Slider(0, 1, value=0.5, step=0.05, label="Weight of the second method",
                            info="0 keeps the first method only, 1 the second only")
    with gr.Row():
        size = gr.Slider(LIMITS.min_size, LIMITS.max_size, value=defaults["size"], step=16,
                         label="Output size (long edge, px)", elem_id="size")
        steps = gr.Slider(1, LIMITS.max_steps, value=defaults["steps"], step=1, label="Steps", elem_id="steps")
    return {"method": method, "gamma": gamma, "fuse_with": fuse_with, "fusion_balance": balance, "size": size,
            "steps": steps}


def more_controls() -> dict[str, gr.components.Component]:
    """Content weight, layers, start image, seed, and the optimizer in an Advanced section."""
    alpha, lr = field_spec("content_weight"), field_spec("lr")
    with gr.Accordion("More options", open=False):
        content_weight = gr.Number(alpha["default"], minimum=alpha["min"], maximum=alpha["max"],
                                   label="Content weight α",
                                   info="0 reconstructs the style alone (the paper's Figure 1)")
        style_layers = gr.CheckboxGroup(list(STYLE_LAYERS), value=list(field_spec("style_layers")["default"]),
                                        label="Style layers")
        init = gr.Radio(list(INITS), value=field_spec("init")["default"], label="Start from")
        seed = gr.Number(field_spec("seed")["default"], precision=0, minimum=0, maximum=field_spec("seed")["max"],
                         label="Seed", info=field_spec("seed")["help"])
    with gr.Accordion("Advanced", open=False):
        optimizer = gr.Radio(list(OPTIMIZERS), value=field_spec("optimizer")["default"], label="Optimizer",
                             info=field_spec("optimizer")["help"])
        learning_rate = gr.Number(None, minimum=lr["min"], maximum=lr["max"], label="Learning rate",
                                  info=f"{lr['help']}; leave empty for the default")
        layer_weights = gr.Textbox("", label="Layer weights", placeholder="equal",
                                   info="One number per ticked style layer, e.g. 1, 1, 1, 0.5, 0.5")
        tv = field_spec("tv_weight")
        tv_weight = gr.Number(tv["default"], minimum=tv["min"], maximum=tv["max"], label="Smoothing (TV weight)",
                              info=tv["help"])
    return {"content_weight": content_weight, "style_layers": style_layers, "init": init, "seed": seed,
            "optimizer": optimizer, "lr": learning_rate, "layer_weights": layer_weights, "tv_weight": tv_weight}


def wire_stylize(page: StylizePage, stylizer: Stylizer) -> None:
    """The Stylize tab's events: one GPU run at a time (`concurrency_id="gpu"`), light ones unqueued."""
    heavy = {"concurrency_id": "gpu", "concurrency_limit": 1}
    controls = [page.controls[name] for name in CONTROLS]
    kept = [page.result, page.record, page.history]
    run = page.run.click(stylizer.run, page.inputs, [page.result, page.losses, page.record, page.status],
                         api_name="run", api_visibility="undocumented", show_progress_on=[page.status], **heavy)
    run.success(stylizer.remember, kept, [page.history, page.gallery], api_name="remember",
                api_visibility="private", queue=False)
    page.stop.click(stylizer.stop, kept, [page.history, page.gallery, page.status], cancels=[run], api_name="stop",
                    api_visibility="private", queue=False)
    gr.on([], stylizer.stylize, page.inputs, [page.result], api_name="stylize", **heavy)
    sizing = [page.controls[name] for name in ("size", "steps", "method", "fuse_with")]
    gr.on([control.change for control in sizing], stylizer.estimate, sizing, page.run_info, api_name="estimate",
          queue=False)
    page.controls["method"].input(stylizer.default_gamma, page.controls["method"], page.controls["gamma"],
                                  api_name="default_gamma", queue=False)
    page.gallery.select(stylizer.restore, [page.history], [page.result, page.record, *controls], api_name="restore",
                        api_visibility="private", queue=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Neural style transfer as distribution alignment: the web app.")
    parser.add_argument("--host", default=None, help="address to listen on (default: Gradio's, 127.0.0.1 or "
                                                     "$GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--weights", default="auto", metavar="NAME|PATH", help=WEIGHTS_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    demo = build_demo(weights=args.weights)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS,
                max_file_size=LIMITS.max_file_bytes, allowed_paths=allowed_paths())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
