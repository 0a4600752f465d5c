"""Memory of a step per pixel, per method: where `nst.budget`'s constants come from.

    .venv/bin/python -m benchmarks.memory [--sizes 384 640] [--methods poly gaussian swd meancov bn]

For each method and size, a fresh process runs two whole-image Adam steps of the real loop
on a square image (random VGG-19, CPU) and reports its peak resident size. The slope
between the two sizes is the step's memory per pixel (`nst.budget.STEP_BYTES_PER_PIXEL`
for Gram matching); each method's excess over poly's is its `Method.extra_bytes_per_pixel`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import numpy as np
from PIL import Image

from nst import Settings, random_extractor
from nst.methods import METHOD_NAMES
from nst.stylize import iter_stylize


def peak_bytes(method: str, size: int) -> int:
    """Peak resident bytes of this process after two Adam steps at `size` px square with `method`."""
    rng = np.random.default_rng(0)
    content, style = (Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(2))
    for _ in iter_stylize(content, style, Settings(size=size, steps=2, method=method, optimizer="adam",
                                                   memory_budget_gb=1e4), extractor=random_extractor(0)):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[384, 640])
    parser.add_argument("--methods", nargs="+", choices=METHOD_NAMES, default=["poly", "gaussian", "swd", "meancov"])
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(peak_bytes(args.child[0], int(args.child[1])))
        return
    small, large = args.sizes
    slopes = {}
    for method in args.methods:
        peaks = [int(subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", method, str(size)],
                                    capture_output=True, text=True, check=True).stdout) for size in (small, large)]
        slopes[method] = (peaks[1] - peaks[0]) / (large**2 - small**2)
        extra = f"  (+{slopes[method] - slopes['poly']:.0f} over poly)" if "poly" in slopes and method != "poly" else ""
        print(f"{method:<10} peak {peaks[0] / 2**20:.0f} / {peaks[1] / 2**20:.0f} MiB at {small} / {large} px: "
              f"{slopes[method]:.0f} bytes per pixel{extra}", flush=True)
    print(json.dumps({"sizes": args.sizes, "bytes_per_pixel": slopes}))


if __name__ == "__main__":
    main()
