"""The Explore grid's wall time: every method on the example pair at the preview size.

    .venv/bin/python -m benchmarks.explore [--device cpu] [--network auto] [--judge vgg16-caffe] [--json FILE]

Renders the default grid (`nst.explore.method_cells` at `preview_settings` of the device:
six cells, 128 px and two scales on a CPU) the way the app's Explore tab does, and prints
each cell's seconds and measures and the whole grid's wall time, start to last cell,
with the network already loaded (as in a warm app). The goal on two CPU cores is 60 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from nst import Request
from nst.explore import explore_figures, iter_explore, method_cells, preview_settings
from nst.runtime import describe_device
from nst.weights import JUDGE_NETWORK, load_extractor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--network", default="auto")
    parser.add_argument("--judge", default=JUDGE_NETWORK)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    extractor = load_extractor(args.network, device=args.device)
    judge = load_extractor(args.judge, device=args.device)
    base = preview_settings(extractor.device.type)
    cells = method_cells(base)
    start = time.perf_counter()
    request = Request(EXAMPLES / "content" / "chelsea_cat.jpg", EXAMPLES / "style" / "starry_night.jpg", base)
    done = [e for e in iter_explore(request, cells, extractor, judge) if e is not None]
    total = time.perf_counter() - start
    rows = explore_figures(done, judge.label)
    print(f"{describe_device(extractor.device)}, {torch.get_num_threads()} threads; {extractor.label}; "
          f"cells {base.scale_plan()} (size, steps); measured on {judge.label}")
    for row in rows:
        print(f"  {row['label']:<10} {row['seconds']:6.1f} s   Gram gap closed {row['gram_gap_closed']:.2f}   "
              f"content change {row['content_change']:.2f}")
    print(f"grid of {len(rows)} cells: {total:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"device": describe_device(extractor.device), "machine": platform.processor(),
                                         "threads": torch.get_num_threads(), "seconds": round(total, 1),
                                         "cells": rows}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
