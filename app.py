"""The nst-mmd web app (also the Hugging Face Space's entry point).

    python app.py [--host HOST] [--port PORT] [--share] [--weights PATH]

This module only assembles the tabs and launches. Each tab lives in `webui` in one
shape (a layout dataclass, a handler class, the wiring between them); the network is
loaded once per process (`webui.model.SharedModel`), and the GPU and queue policy is
`webui.gpu`. Every action has an API name; `/stylize` is the one meant for
`gradio_client`.
"""

from __future__ import annotations

try:  # ZeroGPU: `spaces` must be imported before anything touches CUDA
    import spaces  # noqa: F401
except ImportError:
    pass

import argparse
import sys
from pathlib import Path

import gradio as gr

from nst.config import LIMITS
from nst.errors import NSTError
from nst.weights import WEIGHTS_HELP
from webui.explain_tab import build_explain_tab
from webui.model import SharedModel
from webui.paper_tab import PaperPaths, allowed_paths, build_paper_tab
from webui.stylize_handlers import Stylizer
from webui.stylize_tab import build_stylize_tab
from webui.text import INTRO, LATEX_INLINE, missing_weights

ROOT = Path(__file__).resolve().parent
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


def build_demo(weights: str = "auto", device: str | None = None, paper: PaperPaths | None = None) -> gr.Blocks:
    """The whole app; `weights` as for `nst.weights.load_extractor`, `paper` the Paper tab's
    paths (default: this checkout's, as the `NST_PAPER_*` variables change them)."""
    paper = paper or PaperPaths.from_env(ROOT)
    model = SharedModel(weights, device)
    problem = model.preload()
    # Every streamed frame is a file in Gradio's cache: files older than an hour are
    # deleted every half hour, so a busy Space does not fill its disk.
    with gr.Blocks(title="Neural style transfer as distribution alignment", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO, latex_delimiters=LATEX_INLINE)
        if problem:
            gr.Markdown(missing_weights(problem), elem_id="weights-missing")
        with gr.Tab("Stylize"):
            page = build_stylize_tab(Stylizer(model), ROOT / "examples")
        with gr.Tab("Why it works"):
            build_explain_tab(model, content=page.content, style=page.style, result=page.result,
                              examples=ROOT / "examples")
        with gr.Tab("Paper"):
            build_paper_tab(model, paper)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo


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
    try:
        paper = PaperPaths.from_env(ROOT)
    except NSTError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    demo = build_demo(weights=args.weights, paper=paper)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS,
                max_file_size=LIMITS.max_file_bytes, allowed_paths=allowed_paths(paper))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
