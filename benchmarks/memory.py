"""Memory of a step per pixel, and of the painting's targets per pixel, per method: where
`nst.budget`'s constants come from.

    .venv/bin/python -m benchmarks.memory [--sizes 384 640] [--methods poly gaussian swd meancov bn]

For each method and size, a fresh process (the peak resident size only grows) runs two
whole-image Adam steps of the real loop on a square noise photo (random VGG-19, CPU) and
reports its peak resident size. Step: the photo at each size, the painting held at 256 px,
so that the slope between the sizes is the step's memory per pixel of the image
(`nst.budget.STEP_BYTES_PER_PIXEL` for Gram matching; each method's excess over poly's is its
`Method.extra_bytes_per_pixel`). Targets: the photo held at 256 px, the painting at each
size, for the painting's memory per pixel (`nst.budget.TARGET_BYTES_PER_PIXEL`).
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

# The size held fixed: the painting's when the photo's varies, the photo's when the painting's does.
HELD = {"step": 256, "targets": 256}


def peak_bytes(kind: str, method: str, size: int) -> int:
    """Peak resident bytes of this process after two Adam steps with `method`: for "step" a photo of
    `size` px and a painting of 256, for "targets" a photo of 256 px and a painting of `size`."""
    rng = np.random.default_rng(0)
    photo_size = size if kind == "step" else HELD[kind]
    photo, painting = (Image.fromarray(rng.integers(0, 256, (s, s, 3), dtype=np.uint8)) for s in (photo_size, 640))
    painting_edge = HELD[kind] if kind == "step" else size
    settings = Settings(size=photo_size, steps=2, method=method, optimizer="adam", memory_budget_gb=1e4,
                        style_scale=painting_edge / photo_size)
    for _ in iter_stylize(photo, painting, settings, extractor=random_extractor(0)):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _slope(kind: str, method: str, small: int, large: int) -> tuple[float, list[int]]:
    peaks = [int(subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", kind, method, str(size)],
                                capture_output=True, text=True, check=True).stdout) for size in (small, large)]
    return (peaks[1] - peaks[0]) / (large**2 - small**2), peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[384, 640])
    parser.add_argument("--methods", nargs="+", choices=METHOD_NAMES, default=["poly", "gaussian", "swd", "meancov"])
    parser.add_argument("--child", nargs=3, metavar=("KIND", "METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(peak_bytes(args.child[0], args.child[1], int(args.child[2])))
        return
    small, large = args.sizes
    figures: dict[str, dict[str, float]] = {"step": {}, "targets": {}}
    for kind in figures:
        for method in args.methods:
            figures[kind][method], peaks = _slope(kind, method, small, large)
            base = figures[kind].get("poly")
            extra = f"  (+{figures[kind][method] - base:.0f} over poly)" if base is not None and method != "poly" else ""
            print(f"{kind:<8} {method:<10} peak {peaks[0] / 2**20:.0f} / {peaks[1] / 2**20:.0f} MiB at {small} / "
                  f"{large} px: {figures[kind][method]:.0f} bytes per pixel{extra}", flush=True)
    print(json.dumps({"sizes": args.sizes, "bytes_per_pixel": figures}))


if __name__ == "__main__":
    main()
