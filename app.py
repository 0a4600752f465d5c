"""The nst-mmd web app (also the Hugging Face Space's entry point).

    python app.py [--host HOST] [--port PORT] [--share] [--network PATH] [--mcp]

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
import logging
import os
import sys
from pathlib import Path

import gradio as gr

from nst.config import LIMITS
from nst.errors import NSTError
from nst.weights import NETWORK_HELP
from webui.explain_tab import build_explain_tab
from webui.explore_handlers import Explorer
from webui.explore_tab import STYLIZE_TAB, build_explore_tab
from webui.gpu import QUEUE_SIZE
from webui.limits import RunLimits
from webui.links import Links
from webui.model import SharedModel
from webui.paper_tab import PaperPaths, allowed_paths, build_paper_tab
from webui.share_handlers import Sharing
from webui.stylize_handlers import Stylizer
from webui.stylize_tab import build_stylize_tab
from webui.text import INTRO, LATEX_INLINE, missing_weights
from webui.visitors import Visitors

ROOT = Path(__file__).resolve().parent
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
HEARTBEAT_SECONDS = 3
_LOG = logging.getLogger("webui.app")
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber")


def build_demo(network: str = "auto", device: str | None = None, paper: PaperPaths | None = None,
               limits: RunLimits | None = None, links: Links | None = None) -> gr.Blocks:
    """The whole app; `network` as for `nst.weights.load_extractor`. `paper` (the Paper tab's
    paths), `limits` (the caps of a run) and `links` (where share links are kept, and for
    how long) default to what the `NST_*` variables say."""
    paper = paper or PaperPaths.from_env(ROOT)
    limits = limits or RunLimits.from_env()
    links = links or Links.from_env()
    model = SharedModel(network, device)
    visitors = Visitors(limits.per_visitor)  # one registry: a visitor's runs in every tab count together
    problem = model.preload()
    if problem is None:
        _LOG.info("network: %s (%s) on %s", model.label, model().source, model.device_name)
    else:
        _LOG.warning("no network, so Stylize cannot run: %s", problem.splitlines()[0])
    # Every streamed frame is a file in Gradio's cache: files older than an hour are
    # deleted every half hour, so a busy Space does not fill its disk.
    with gr.Blocks(title="Neural style transfer as distribution alignment", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO, latex_delimiters=LATEX_INLINE)
        if problem:
            gr.Markdown(missing_weights(problem), elem_id="weights-missing")
        with gr.Tabs() as tabs:
            with gr.Tab("Stylize", id=STYLIZE_TAB):
                page = build_stylize_tab(Stylizer(model, visitors=visitors, limits=limits), ROOT / "examples",
                                         Sharing(links), demo)
            with gr.Tab("Explore"):
                build_explore_tab(Explorer(model, visitors), ROOT / "examples", page, tabs)
            with gr.Tab("Why it works"):
                build_explain_tab(model, content=page.content, style=page.style, result=page.result,
                                  examples=ROOT / "examples")
            with gr.Tab("Paper"):
                build_paper_tab(model, paper, visitors)
        demo.unload(visitors.leave)  # a closed tab stops its runs
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Neural style transfer as distribution alignment: the web app.")
    parser.add_argument("--host", default=None, help="address to listen on (default: Gradio's, 127.0.0.1 or "
                                                     "$GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--network", default="auto", metavar="NAME|PATH", help=NETWORK_HELP)
    parser.add_argument("--mcp", action="store_true", help="also serve the API as MCP tools (stylize, explore, …) "
                                                           "at /gradio_api/mcp/; on a Space it is on by default")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The app's own events (a run stopped, a cap reached) in the server log; libraries stay at warnings.
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("webui").setLevel(logging.INFO)
    # A closed tab is noticed at the first heartbeat it misses; Gradio's default of 15 s
    # would let its run go on for up to half a minute.
    os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", str(HEARTBEAT_SECONDS))
    try:
        paper, limits, links = PaperPaths.from_env(ROOT), RunLimits.from_env(), Links.from_env()
    except NSTError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2
    demo = build_demo(network=args.network, paper=paper, limits=limits, links=links)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS,
                max_file_size=LIMITS.max_file_bytes, allowed_paths=allowed_paths(paper),
                mcp_server=args.mcp or bool(os.environ.get("SPACE_ID")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
