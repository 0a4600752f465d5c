"""Single-scale against coarse-to-fine, and against the plain baseline: quality against wall time, on real features.

    .venv/bin/python -m benchmarks.multiscale [--size 512] [--steps 75] [--scales 1 3] [--method poly]
        [--network auto] [--device cpu] [--baseline] [--out DIR] [--plot docs/multiscale.png] [--json FILE]

Runs the same pair (content, style) once per `--scales` value with the same total steps,
prints for each the plan (size × steps per scale), the wall time, the final loss terms
at full size and the method-independent yardstick (`nst.yardstick`), and writes each
result to `--out`. With `--baseline`, also runs the tutorial-style baseline
(`benchmarks.baseline`) at the full size until its result has closed as much of the Gram
gap as the best of ours (the yardstick after every `LBFGS.step`, untimed) and prints its
time to get there. With `--plot`, draws the total loss of the full-size steps against
wall time (matplotlib, from requirements-dev.txt). The default network is the paper's
VGG-19 (`--network auto`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from nst import Settings
from nst.images import load_tensor, save_png
from nst.stylize import iter_stylize
from nst.weights import load_extractor
from nst.yardstick import measure

from .baseline import Baseline

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(settings: Settings, content: Path, style: Path, weights: str, device: str | None) -> dict:
    """One run's figures: plan, seconds, final losses, yardstick, and (seconds, total) of its full-size steps."""
    extractor = load_extractor(weights, pooling=settings.pooling, device=device)
    last_scale_from = settings.steps - settings.scale_plan()[-1][1]
    curve, last = [], None
    for last in iter_stylize(content, style, settings, extractor=extractor):
        if last.step > last_scale_from:
            curve.append((last.elapsed, last.losses["total"]))
    assert last is not None
    content_t = load_tensor(content, settings.size, extractor.device)
    style_t = load_tensor(style, settings.size, extractor.device)
    return {"scales": settings.scales, "plan": settings.scale_plan(), "seconds": round(last.elapsed, 1),
            "final_losses": last.losses, "yardstick": dataclasses.asdict(measure(extractor, content_t, style_t, last.image)),
            "curve": curve, "image": last.pil(), "network": extractor.label}


def baseline_run(content: Path, style: Path, size: int, target: float, weights: str, device: str | None,
                 max_evaluations: int = 200) -> dict:
    """The baseline at `size` until its Gram gap closed reaches `target`: evaluations, seconds (the yardstick untimed)."""
    extractor = load_extractor(weights, pooling="avg", device=device)  # the network and yardstick ours had
    content_t = load_tensor(content, size, extractor.device)
    style_t = load_tensor(style, size, extractor.device)
    baseline, seconds, closed = Baseline(extractor, content, style, size), 0.0, -1.0
    while closed < target and baseline.evaluations < max_evaluations:
        start = time.perf_counter()
        baseline.step()
        seconds += time.perf_counter() - start
        yardstick = measure(extractor, content_t, style_t, baseline.image.detach().clamp(0, 1))
        closed = yardstick.gram_gap_closed
    return {"evaluations": baseline.evaluations, "seconds": round(seconds, 1), "reached": closed >= target,
            "yardstick": dataclasses.asdict(yardstick)}


def plot(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for r in results:
        seconds, totals = zip(*r["curve"])
        label = "single scale" if r["scales"] == 1 else f"{r['scales']} scales: " + " → ".join(
            f"{size} px × {steps}" for size, steps in r["plan"])
        ax.plot(seconds, totals, label=label)
    ax.set(xlabel="wall time (s)", ylabel="total loss at full size", yscale="log")
    # The network label is long: it gets its own line, in a smaller type, so it is never cut.
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=75)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--method", default="poly")
    parser.add_argument("--content", type=Path, default=EXAMPLES / "content" / "chelsea_cat.jpg")
    parser.add_argument("--style", type=Path, default=EXAMPLES / "style" / "starry_night.jpg")
    parser.add_argument("--network", default="auto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("multiscale-out"))
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--baseline", action="store_true", help="also time the tutorial-style baseline to the "
                                                                   "same share of the Gram gap closed")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    results = []
    for scales in args.scales:
        settings = Settings(method=args.method, size=args.size, steps=args.steps, scales=scales)
        r = run(settings, args.content, args.style, args.network, args.device)
        save_png(r["image"], args.out / f"scales{scales}.png")
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k not in ("curve", "image")}), flush=True)
    figures = {"runs": [{k: v for k, v in r.items() if k not in ("curve", "image")} for r in results]}
    if args.baseline:
        target = max(r["yardstick"]["gram_gap_closed"] for r in results)
        figures["baseline"] = baseline_run(args.content, args.style, args.size, target, args.network, args.device)
        print(json.dumps({"baseline": figures["baseline"], "target_gram_gap_closed": round(target, 3)}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.plot:
        device = torch.device(args.device) if args.device else None
        where = "CPU" if device is None or device.type == "cpu" else torch.cuda.get_device_name(device)
        plot(results, args.plot, f"{args.method}, {args.size} px, {args.steps} steps, {where}\n"
                                 f"{results[0]['network']}")


if __name__ == "__main__":
    main()
