"""Seconds per optimizer step, per method, at several sizes, on the device in use, against a plain baseline.

    python -m benchmarks.bench [--sizes 256 512] [--steps 10] [--warmup 3] [--device cuda] [--precision fp32 bf16]
        [--backbone vgg19] [--methods poly bn] [--no-baseline] [--json FILE]
    python -m benchmarks.bench --sizes 1024 2048 4096 --tiled [--untiled 2048] [--gallery] [--methods poly]
        [--fusions bn=0.5,poly=0.5] [--steps 75] [--scales N] [--network auto] [--json FILE]

With `--tiled`, whole coarse-to-fine runs at print sizes instead, their finest scales in
tiles where the memory budget says so: peak memory, seconds, seam ratio and Gram gap per
size (`benchmarks.prints`).

Uses the seeded random extractor: the cost of a step does not depend on the weights'
values, and no real weights can be downloaded here. Each figure is the median over
`--steps` steps after `--warmup` untimed ones, timed around the loop's own generator
(CUDA is synchronised by the loss read-out every step). A second table gives, for the
same runs, the seconds to a finished result of `--warmup` + `--steps` steps (from the
call to the last image: loading, targets and every step) and the peak memory: CUDA's
peak allocation during the run, or on a CPU the process's peak resident size so far
(it only grows, so read it for the largest size). The baseline
(`benchmarks.baseline`, the tutorial's way: Gram losses spliced into a copied network,
float32, L-BFGS with its defaults) is timed in the same process on the same device, per
forward and backward pass; "× baseline" is its seconds over ours. Each method runs once per
`--precision` given ("auto" resolved on the device, `nst.precision`; bf16 is autocast with
the network in channels_last); the header and the JSON name the CPU and whether it has the
bf16 units (AMX, AVX-512 BF16) that make bf16 pay on a CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch

from nst import Settings, random_extractor
from nst.config import CPU_PRESET, PRECISIONS
from nst.features import BACKBONES
from nst.methods import METHOD_NAMES
from nst.precision import describe_cpu, precision_used
from nst.runtime import step_times
from nst.weights import default_device

from . import prints
from .baseline import Baseline
from .prints import peak_mib

# How each resolved precision runs the network, as the rows name it.
_LAYOUT = {"fp32": "fp32", "bf16": "bf16+channels_last"}
_WIDTH = 34
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTENT, STYLE = EXAMPLES / "content" / "astronaut.jpg", EXAMPLES / "style" / "starry_night.jpg"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def timed_run(method: str, size: int, steps: int, warmup: int, device: torch.device, precision: str,
              backbone: str = "vgg19") -> dict[str, float]:
    """One run of `warmup + steps` steps: median seconds per step after the warm-up, seconds to
    the finished result, and peak memory in MiB (see the module's docstring)."""
    extractor = random_extractor(0, backbone=backbone).to(device)
    settings = Settings(method=method, size=size, steps=warmup + steps, precision=precision)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = step_times(extractor, CONTENT, STYLE, settings)
    return {"seconds_per_step": statistics.median(times[warmup:]), "seconds_to_result": sum(times),
            "peak_memory_mib": peak_mib(device)}


def baseline_seconds(size: int, steps: int, warmup: int, device: torch.device, backbone: str = "vgg19") -> float:
    """Seconds per forward and backward pass of the tutorial-style baseline (Gram losses, fp32, L-BFGS)."""
    extractor = random_extractor(0, backbone=backbone).to(device)
    return Baseline(extractor, CONTENT, STYLE, size).seconds_per_evaluation(steps, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--methods", nargs="+", choices=METHOD_NAMES, default=None,
                        help="default: every method; with --tiled, poly")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"timed steps (default 10); with --tiled, the run's (default {CPU_PRESET['steps']})")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", choices=PRECISIONS, nargs="+", default=["fp32"],
                        help="one run per method and precision (default: %(default)s)")
    parser.add_argument("--backbone", choices=tuple(BACKBONES), default="vgg19")
    parser.add_argument("--no-baseline", action="store_true", help="skip the tutorial-style baseline")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--tiled", action="store_true", help="whole runs at print sizes, in tiles where they must be")
    parser.add_argument("--untiled", type=int, nargs="*", default=[], metavar="SIZE",
                        help="with --tiled: also run these sizes with every scale whole, to compare")
    parser.add_argument("--gallery", action="store_true",
                        help="with --tiled: run each size on the six example pairs (the seam ratio over the gallery)")
    parser.add_argument("--network", default="auto", help="with --tiled: the network (default: the paper's VGG-19)")
    parser.add_argument("--yardstick-up-to", type=int, default=2048,
                        help="with --tiled: measure the yardstick up to this size (it needs the whole image's features)")
    parser.add_argument("--out", type=Path, default=Path("prints-out"), help="with --tiled: where the results go")
    parser.add_argument("--memory-budget-gb", type=float, default=None,
                        help="with --tiled: the runs' memory budget (default: the device's)")
    parser.add_argument("--fusions", nargs="*", default=[], metavar="M=W,…",
                        help="with --tiled: also run these fusions, e.g. bn=0.5,poly=0.5")
    parser.add_argument("--scales", type=int, default=None,
                        help="with --tiled: the runs' scales (default: the device's; 1 with --steps 1 gives one "
                             "step at the size, for its peak memory)")
    args = parser.parse_args()
    if args.tiled:
        args.methods, args.steps = args.methods or ["poly"], args.steps or CPU_PRESET["steps"]
        prints.run_sizes(args)
        return
    args.methods, args.steps = args.methods or list(METHOD_NAMES), args.steps or 10
    device = torch.device(args.device) if args.device else default_device()
    precisions = {p: precision_used(p, device) for p in args.precision}  # as given → as it runs
    print(f"device: {device_name(device)}; {describe_cpu()}; {BACKBONES[args.backbone][1]}; torch {torch.__version__}")
    baseline = {} if args.no_baseline else {
        size: baseline_seconds(size, args.steps, args.warmup, device, args.backbone) for size in args.sizes}
    print(f"{'seconds per step':<{_WIDTH}}" + "".join(f"{f'{size} px':>12}{'× baseline':>12}" for size in args.sizes))
    if baseline:
        print(f"{'baseline (Gram, fp32)':<{_WIDTH}}" + "".join(f"{baseline[size]:>12.4f}{'1.00':>12}"
                                                              for size in args.sizes))
    runs: dict[str, dict[int, dict[str, float]]] = {}
    for method in args.methods:
        for given, used in precisions.items():
            name = f"{method}, {_LAYOUT[used]}" + (" (auto)" if given == "auto" else "")
            runs[name] = {size: timed_run(method, size, args.steps, args.warmup, device, given, args.backbone)
                          for size in args.sizes}
            cells = [f"{runs[name][size]['seconds_per_step']:>12.4f}"
                     + (f"{baseline[size] / runs[name][size]['seconds_per_step']:>12.2f}" if baseline else f"{'':>12}")
                     for size in args.sizes]
            print(f"{name:<{_WIDTH}}" + "".join(cells), flush=True)
    memory = "peak MiB (CUDA)" if device.type == "cuda" else "peak RSS MiB"
    print(f"\n{f'result of {args.warmup + args.steps} steps':<{_WIDTH}}"
          + "".join(f"{f'{size} px s':>12}{memory:>16}" for size in args.sizes))
    for method, by_size in runs.items():
        print(f"{method:<{_WIDTH}}" + "".join(f"{by_size[size]['seconds_to_result']:>12.2f}"
                                        f"{by_size[size]['peak_memory_mib']:>16.0f}" for size in args.sizes))
    if args.json:
        per_step = {m: {size: run["seconds_per_step"] for size, run in by_size.items()} for m, by_size in runs.items()}
        args.json.write_text(json.dumps({"device": device_name(device), "cpu": describe_cpu(),
                                         "backbone": args.backbone, "precision": precisions, "torch": torch.__version__,
                                         "steps": args.warmup + args.steps, "seconds_per_step": per_step,
                                         "runs": runs, "baseline_seconds_per_pass": baseline}, indent=2))


if __name__ == "__main__":
    main()
