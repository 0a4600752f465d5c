"""Calibration of the defaults on real features: final terms and the yardstick per method and γ.

    python -m benchmarks.calibrate [--network auto] [--judge vgg16-caffe] [--size 256] [--steps 100]
        [--gammas 1 2 5 10 20] [--methods linear poly ...] [--plugin FILE.py] [--images DIR] [--json FILE]

Runs every method at every γ on the six example pairs (the rows of the README gallery,
`examples/gallery.json`) from the content photo, and prints per method and γ the means over
the pairs of the final content term, the final style term, and the method-independent
yardstick of `nst.yardstick` (share of the Gram gap closed, share of the mean-colour gap
closed, content change) twice: measured on the network that was optimised (the self-judge)
and on an independent network (`--judge`, by default Oxford's VGG-16), so that no method
scores by exploiting the features it was optimised on. `--judge none` skips the second.
Other `Settings` fields keep their defaults (`--set name=value` changes one). `--plugin FILE.py`
loads a file that registers a distance of one's own (as the CLI's), so its γ can be chosen the
same way: `--plugin examples/custom_distance.py --methods energy`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from nst import Settings, iter_stylize, load_extractor
from nst.images import save_png
from nst.__main__ import load_plugin
from nst.errors import NSTError
from nst.methods import METHOD_NAMES, get_method
from nst.paper import figure_cells, load_manifest
from nst.stylize import prepare_images
from nst.weights import JUDGE_NETWORK
from nst.yardstick import measure

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_pairs() -> list[tuple[Path, Path]]:
    """(content, style) of each row of the gallery manifest."""
    cells = figure_cells(load_manifest(EXAMPLES / "gallery.json"), "gallery", columns=[0])
    return [(cell.content, cell.style) for cell in cells]


def parse_setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def run_one(extractor, judge, content: Path, style: Path, settings: Settings) -> dict[str, float]:
    start = time.perf_counter()
    totals = []
    for step in iter_stylize(content, style, settings, extractor=extractor):
        totals.append(step.losses["total"])
    c, s = prepare_images(content, style, settings.size, extractor.device)
    seconds = time.perf_counter() - start
    y = measure(extractor, c, s, step.image)
    style_terms = {k: v for k, v in step.losses.items() if k not in ("content", "tv", "total")}
    row = {"content": step.losses.get("content", 0.0), "style": sum(style_terms.values()),
           "gram_closed": y.gram_gap_closed, "colour_closed": y.colour_gap_closed,
           "content_change": y.content_change, "rise": max(totals) / totals[0], "seconds": seconds}
    if judge is not None:
        j = measure(judge, c, s, step.image)
        row |= {"judge_gram_closed": j.gram_gap_closed, "judge_content_change": j.content_change}
    return row | {"image": step.image}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="auto", help="the network optimised (default: auto)")
    parser.add_argument("--judge", default=JUDGE_NETWORK,
                        help="an independent network that measures the results too, or none (default: %(default)s)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--gammas", type=float, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), help="default: every built-in method")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="a file that registers methods with nst.register_method (repeatable)")
    parser.add_argument("--pairs", type=int, nargs="+", default=None, help="indices of the pairs to use")
    parser.add_argument("--set", type=parse_setting, action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--images", type=Path, help="save every result here")
    parser.add_argument("--json", type=Path, help="write the table here")
    args = parser.parse_args()
    try:  # a bad plugin or an unknown method stops here, in one line, before any weights load
        for path in args.plugin:
            load_plugin(path)
        for method in args.methods:
            get_method(method)
    except NSTError as exc:
        parser.error(str(exc))
    extractor = load_extractor(args.network)
    judge = None if args.judge == "none" else load_extractor(args.judge, device=extractor.device)
    pairs = example_pairs()
    pairs = [pairs[i] for i in args.pairs] if args.pairs else pairs
    print(f"{extractor.label}; judged also on {judge.label if judge else 'nothing else'}; {args.size} px, "
          f"{args.steps} steps, {len(pairs)} pairs, {torch.get_num_threads()} threads; extra settings {dict(args.set)}")
    print(f"{'method':<9}{'gamma':>7}{'content':>9}{'style':>8}{'Gram gap closed':>17}{'colour closed':>15}"
          f"{'content change':>16}{'s/run':>7}" + ("   judge: Gram gap closed, content change" if judge else ""))
    table = []
    for method in args.methods:
        for gamma in args.gammas:
            settings = Settings(method=method, gamma=gamma, size=args.size, steps=args.steps, **dict(args.set))
            runs = []
            for i, (content, style) in enumerate(pairs):
                run = run_one(extractor, judge, content, style, settings)
                if args.images:
                    save_png(run.pop("image"), args.images / f"{method}_g{gamma:g}_{content.stem}.png")
                runs.append({k: v for k, v in run.items() if k != "image"})
            row = {"method": method, "gamma": gamma, **{k: statistics.mean(r[k] for r in runs) for k in runs[0]},
                   "gram_closed_min": min(r["gram_closed"] for r in runs),
                   "gram_closed_max": max(r["gram_closed"] for r in runs)}
            row["runs"] = [{"content": str(c.name), "style": str(s.name), **r} for (c, s), r in zip(pairs, runs)]
            table.append(row)
            print(f"{method:<9}{gamma:>7g}{row['content']:>9.3f}{row['style']:>8.3f}"
                  f"{row['gram_closed']:>9.2f} ({row['gram_closed_min']:.2f}-{row['gram_closed_max']:.2f})"
                  f"{row['colour_closed']:>11.2f}{row['content_change']:>16.3f}{row['seconds']:>7.1f}"
                  + (f"{row['judge_gram_closed']:>11.2f}{row['judge_content_change']:>8.3f}" if judge else "")
                  + (f"   loss rose {max(r['rise'] for r in runs):.3g}x" if max(r["rise"] for r in runs) > 1 else ""),
                  flush=True)
            if args.json:  # after every row, so that a long sweep stopped midway keeps what it measured
                args.json.write_text(json.dumps({"weights": extractor.label, "judge": judge.label if judge else None,
                                                 "size": args.size, "steps": args.steps,
                                                 "settings": dict(args.set), "rows": table}, indent=2))


if __name__ == "__main__":
    main()
