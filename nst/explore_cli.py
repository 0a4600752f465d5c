"""`python -m nst explore PHOTO PAINTING -o grid.png`: the Explore grid, its measured map and figures.

Writes the grid (`-o`), the scatter beside it (`<name>_scatter.png`) and the figures
(`<name>.json`: one row per cell, the sentence, the networks). The app's Explore tab runs
the same `nst.explore` code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm.auto import tqdm

from .errors import NSTError
from .explore import (Explored, explore_figures, explore_grid, gamma_cells, iter_explore, map_sentence, method_cells,
                      preview_settings, scatter_png)
from .images import save_png
from .methods import METHODS
from .request import Request
from .weights import JUDGE_NETWORK, NETWORK_HELP, device_type, load_extractor

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst explore",
                                     description="Every distance on one photo and painting at once, measured.")
    parser.add_argument("content", help="content photo")
    parser.add_argument("style", help="style painting")
    parser.add_argument("-o", "--output", default="explore.png", help="the grid's PNG (default: %(default)s)")
    parser.add_argument("--gamma-strip", choices=tuple(METHODS), metavar="METHOD",
                        help="one method over a strip of γ around its default, instead of every method")
    parser.add_argument("--fusions", action="store_true", help="add the paper's two fusions (bn + poly, "
                                                                "linear + gaussian)")
    parser.add_argument("--size", type=int, help="long edge of a cell (default: 128 on a CPU, 256 on a GPU)")
    parser.add_argument("--steps", type=int, help="steps per cell (default: 60 on a CPU, 100 on a GPU)")
    parser.add_argument("--network", default="auto", help=NETWORK_HELP)
    parser.add_argument("--judge", default=JUDGE_NETWORK,
                        help=f"the network that measures the cells (default: {JUDGE_NETWORK}, independent of the "
                             "paper's VGG-19); 'same' measures on --network")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run Explore; returns the exit status (0 success, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        given = {k: v for k, v in (("size", args.size), ("steps", args.steps)) if v is not None}
        base = preview_settings(device_type(args.device), **given)
        cells = gamma_cells(base, args.gamma_strip) if args.gamma_strip else method_cells(base, fusions=args.fusions)
        request = Request(args.content, args.style, base)  # bad input is told before weights load
        extractor = load_extractor(args.network, device=args.device)
        judge = extractor if args.judge == "same" else load_extractor(args.judge, device=args.device)
        done: list[Explored] = []
        with tqdm(total=len(cells), disable=args.quiet, unit="cell") as bar:
            for explored in iter_explore(request, cells, extractor, judge):
                if explored is not None:
                    done.append(explored)
                    bar.set_postfix_str(explored.cell.label)
                    bar.update(1)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grid = Path(args.output)
    footer = f"Made with {extractor.label}; measured on {judge.label}. G: Gram gap closed, C: content change."
    save_png(explore_grid(request.content, request.paintings[0], done, footer), grid)
    scatter = grid.with_name(f"{grid.stem}_scatter.png")
    scatter.write_bytes(scatter_png(done, judge.label))
    sentence = map_sentence(done)
    figures = {"network": extractor.label, "judged_on": judge.label, "sentence": sentence,
               "cells": explore_figures(done, judge.label)}
    grid.with_suffix(".json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(sentence)
    return 0
