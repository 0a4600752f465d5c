"""Where one optimizer step's time goes: `torch.profiler` on one forward and backward pass.

    python -m benchmarks.profile [--size 512] [--precision fp32] [--method poly] [--network auto]
        [--device cpu] [--rows 10]

Builds the run's objective for chelsea_cat × starry_night at `--size` px on the paper's
VGG-19 (`--network auto`), takes one untimed step (one-off allocations, oneDNN's first
reorders), then profiles one step as the loop takes it (`nst.stylize`: the loss, its
backward pass scaled by the pixel count) and prints the `--rows` operations that took
the most time themselves, with the precision that ran and the CPU's bf16 units.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from nst import Settings
from nst.config import PRECISIONS
from nst.methods import METHOD_NAMES
from nst.objective import Objective
from nst.precision import describe_cpu, precision_used
from nst.stylize import prepare_images
from nst.weights import load_extractor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTENT, STYLE = EXAMPLES / "content" / "chelsea_cat.jpg", EXAMPLES / "style" / "starry_night.jpg"


def one_step(objective: Objective, image: torch.Tensor) -> None:
    """One forward and backward pass, as `nst.stylize._optimise`'s closure takes it."""
    image.grad = None
    total, _ = objective(image, torch.Generator().manual_seed(0))
    (total * image.shape[-1] * image.shape[-2]).backward()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--method", choices=METHOD_NAMES, default="poly")
    parser.add_argument("--network", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rows", type=int, default=10)
    args = parser.parse_args(argv)
    settings = Settings(method=args.method, size=args.size, precision=args.precision)
    extractor = load_extractor(args.network, pooling=settings.pooling, device=args.device)
    content, style = prepare_images(CONTENT, STYLE, args.size, extractor.device)
    objective = Objective(extractor, content, style, settings)
    image = content.clone().requires_grad_(True)
    one_step(objective, image)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if extractor.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        one_step(objective, image)
        if extractor.device.type == "cuda":
            torch.cuda.synchronize(extractor.device)
    sort = "self_cuda_time_total" if extractor.device.type == "cuda" else "self_cpu_time_total"
    print(f"{extractor.label}; {tuple(image.shape)}; {args.method}; precision {args.precision} → "
          f"{precision_used(args.precision, extractor.device)}; {describe_cpu()}; {torch.get_num_threads()} threads; "
          f"torch {torch.__version__}")
    print(prof.key_averages().table(sort_by=sort, row_limit=args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
