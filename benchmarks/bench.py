"""Seconds per optimizer step, per method, at several sizes, on the device in use.

    python -m benchmarks.bench [--sizes 256 512] [--steps 10] [--warmup 3] [--device cuda] [--precision fp32]
        [--backbone vgg19]

Uses the seeded random extractor: the cost of a step does not depend on the weights'
values, and no real weights can be downloaded here. Each figure is the mean over
`--steps` steps after `--warmup` untimed ones, timed around the loop's own generator
(CUDA is synchronised by the loss read-out every step).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch

from nst import Settings, random_extractor
from nst.config import PRECISIONS
from nst.features import BACKBONES
from nst.methods import METHOD_NAMES
from nst.runtime import step_times
from nst.weights import default_device

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTENT, STYLE = EXAMPLES / "content" / "astronaut.jpg", EXAMPLES / "style" / "starry_night.jpg"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def seconds_per_step(method: str, size: int, steps: int, warmup: int, device: torch.device,
                     precision: str, backbone: str = "vgg19") -> float:
    extractor = random_extractor(0, backbone=backbone).to(device)
    settings = Settings(method=method, size=size, steps=warmup + steps, precision=precision)
    return statistics.mean(step_times(extractor, CONTENT, STYLE, settings)[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--methods", nargs="+", choices=METHOD_NAMES, default=list(METHOD_NAMES))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--backbone", choices=tuple(BACKBONES), default="vgg19")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else default_device()
    print(f"device: {device_name(device)}; {BACKBONES[args.backbone][1]}; precision {args.precision}; "
          f"torch {torch.__version__}")
    print(f"{'method':<10}" + "".join(f"{size:>10} px" for size in args.sizes) + "   (seconds per step)")
    rows = {}
    for method in args.methods:
        rows[method] = {size: seconds_per_step(method, size, args.steps, args.warmup, device, args.precision,
                                               args.backbone) for size in args.sizes}
        print(f"{method:<10}" + "".join(f"{rows[method][size]:>13.4f}" for size in args.sizes), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": device_name(device), "backbone": args.backbone,
                                         "precision": args.precision,
                                         "seconds_per_step": rows}, indent=2))


if __name__ == "__main__":
    main()
