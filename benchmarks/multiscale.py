"""Single-scale against coarse-to-fine: the loss at full size against wall time, on real features.

    .venv/bin/python -m benchmarks.multiscale [--size 512] [--steps 100] [--scales 1 3] [--method poly]
        [--weights hed] [--device cpu] [--out DIR] [--plot docs/multiscale.png]

Runs the same pair (content, style) once per `--scales` value with the same total steps,
prints for each the plan (size × steps per scale), the wall time, the final loss terms
at full size and the method-independent yardstick (`nst.yardstick`), and writes each
result to `--out`. With `--plot`, draws the total loss of the full-size steps against
wall time (matplotlib, from requirements-dev.txt). The default weights are the VGG-16
(HED) stand-in: real trained features, offline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from nst import Settings
from nst.images import load_tensor, save_png
from nst.stylize import iter_stylize
from nst.weights import load_extractor
from nst.yardstick import measure

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
    ax.set(xlabel="wall time (s)", ylabel="total loss at full size", yscale="log", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--method", default="poly")
    parser.add_argument("--content", type=Path, default=EXAMPLES / "content" / "chelsea_cat.jpg")
    parser.add_argument("--style", type=Path, default=EXAMPLES / "style" / "starry_night.jpg")
    parser.add_argument("--weights", default="hed")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("multiscale-out"))
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for scales in args.scales:
        settings = Settings(method=args.method, size=args.size, steps=args.steps, scales=scales)
        r = run(settings, args.content, args.style, args.weights, args.device)
        save_png(r["image"], args.out / f"scales{scales}.png")
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k not in ("curve", "image")}), flush=True)
    if args.plot:
        device = torch.device(args.device) if args.device else None
        where = "CPU" if device is None or device.type == "cpu" else torch.cuda.get_device_name(device)
        plot(results, args.plot, f"{args.method}, {args.size} px, {args.steps} steps, {results[0]['network']}, "
                                 f"{where}")


if __name__ == "__main__":
    main()
