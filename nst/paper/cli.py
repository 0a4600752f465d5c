"""The figure runner's command line: `python -m nst.paper FIGURE [options]`.

Paths default to a checkout's layout, relative to the working directory: the manifest
`examples/paper/figures.json` and the output folder `examples/paper/rendered`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from ..config import field_spec
from ..errors import NSTError
from ..weights import NETWORK_HELP, default_device, load_extractor
from .manifest import MANIFEST_PATH, figure_cells, load_manifest
from .runner import render_figure

__all__ = ["RENDERED_DIR", "build_parser", "main"]

# Where a checkout keeps cells rendered with real weights (the app looks there first),
# relative to the checkout's root.
RENDERED_DIR = Path("examples") / "paper" / "rendered"


def _indices(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated indices like 0,1, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The runner's argument parser; size and steps default to the manifest and `Settings`."""
    size, steps = field_spec("size"), field_spec("steps")
    parser = argparse.ArgumentParser(
        prog="python -m nst.paper",
        description="Render the figures of 'Demystifying Neural Style Transfer' (Li et al., IJCAI 2017) "
                    "from the figure manifest: one PNG and JSON record per cell, and a labelled grid.")
    parser.add_argument("figure", help="figure number as listed in the manifest (1..4), or 'all'")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH, help="figure manifest (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RENDERED_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--size", type=int, default=None,
                        help=f"long edge of every cell (default: the manifest's, else {size['default']}); "
                             f"{size['min']:g}..{size['max']:g}")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps per cell (default: the manifest's, else {steps['default']}); "
                             f"{steps['min']:g}..{steps['max']:g}")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--resume", action="store_true",
                        help="skip cells already rendered with the same parameters and weights")
    parser.add_argument("--network", default="auto", help=NETWORK_HELP)
    parser.add_argument("--rows", type=_indices, default=None, help="only these row indices, e.g. 0,1")
    parser.add_argument("--columns", type=_indices, default=None, help="only these column indices, e.g. 0,1")
    parser.add_argument("--content", type=Path, default=None, help="use this content image in every cell")
    parser.add_argument("--style", type=Path, default=None, help="use this style image in every cell")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _deterministic_cuda() -> None:
    """Ask CUDA for repeatable results: cuDNN's autotuner and atomic-add kernels (the
    backward of the Gaussian term's pair indexing, some convolution backwards) would
    otherwise make a re-run differ in the last bits. `warn_only`: an operation without a
    deterministic version warns instead of stopping the run. Set before CUDA starts."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)


def _run(args: argparse.Namespace) -> None:
    """Render the figures `args` ask for, printing one JSON line per figure."""
    manifest = load_manifest(args.manifest)
    figures = manifest.figure_ids if args.figure == "all" else (args.figure,)
    device = torch.device(args.device) if args.device is not None else default_device()
    if device.type == "cuda":
        _deterministic_cuda()
    for figure in figures:
        cells = figure_cells(manifest, figure, args.size, args.steps, rows=args.rows, columns=args.columns,
                             content=args.content, style=args.style)
        extractor = load_extractor(args.network, pooling=cells[0].settings.pooling, device=device)
        run = render_figure(manifest, cells, args.out, extractor, resume=args.resume, progress=not args.quiet)
        print(json.dumps({"figure": run.figure, "grid": str(run.grid), "cells": len(run.cells),
                          "rendered": run.rendered, "network": extractor.label, "network_source": extractor.source,
                          "seconds": round(sum(cell.run.seconds for cell in run.cells), 2)}))


def main(argv: list[str] | None = None) -> int:
    """Run the figure runner; returns the exit status (0 success, 2 bad input or no weights)."""
    args = build_parser().parse_args(argv)
    try:
        _run(args)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
