"""The paper's sampled Gaussian MMD² estimator: its noise and cost per layer against the number of pairs.

    python -m benchmarks.gaussian_pairs [--network auto] [--size 256] [--pairs 1024 4096 16384 0] [--steps 60]
        [--device cpu] [--json FILE]

For each style layer and each pair count (0: one per image position, the paper's choice)
prints the relative standard error of one estimate, sd(h) / (√n · |mean h|)
(`nst.methods.gaussian.gaussian_standard_error`), for the photo against the painting (the start of a
run) and for a stylized result against it (the end: poly, `--steps` steps, where the MMD² is
small), and the milliseconds of one estimate with its backward pass on the result. On the
paper's VGG-19 by default; the first example pair.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from nst import Settings, load_extractor, stylize
from nst.config import STYLE_LAYERS
from nst.images import to_tensor
from nst.objective import feature_matrix
from nst.methods.gaussian import PAIRS, gaussian, gaussian_samples, gaussian_standard_error
from nst.stylize import prepare_images

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAIR = (EXAMPLES / "content" / "chelsea_cat.jpg", EXAMPLES / "style" / "starry_night.jpg")


def relative_error(x: torch.Tensor, y: torch.Tensor, pairs: int) -> float:
    h = gaussian_samples(x, y, num_pairs=pairs, generator=torch.Generator().manual_seed(0))
    return float(gaussian_standard_error(h) / h.mean().abs().clamp_min(1e-30))


def milliseconds(x: torch.Tensor, y: torch.Tensor, pairs: int, repeats: int = 5) -> float:
    times = []
    for seed in range(repeats + 1):
        image = x.clone().requires_grad_(True)
        start = time.perf_counter()
        gaussian(image, y, num_pairs=pairs, generator=torch.Generator().manual_seed(seed)).backward()
        if image.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="auto")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--pairs", type=int, nargs="+", default=[1024, PAIRS, 16384, 0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    extractor = load_extractor(args.network, device=args.device)
    content, style = prepare_images(*PAIR, args.size, extractor.device)
    result = stylize(*PAIR, Settings(size=args.size, steps=args.steps), extractor=extractor, progress=False)
    end = to_tensor(result.image, extractor.device)
    with torch.no_grad():
        feats = {name: extractor(image, set(STYLE_LAYERS)) for name, image in
                 (("start", content), ("end", end), ("style", style))}
    print(f"{extractor.label}, {args.size} px, device {extractor.device}; relative standard error of one estimate "
          f"at the start / end of a run, and ms per estimate with backward (pairs 0: one per position)")
    rows = []
    for layer in STYLE_LAYERS:
        y = feature_matrix(feats["style"][layer])
        x_start, x_end = feature_matrix(feats["start"][layer]), feature_matrix(feats["end"][layer])
        cells = []
        for pairs in args.pairs:
            n = pairs or x_end.shape[1]
            row = {"layer": layer, "positions": x_end.shape[1], "pairs": n,
                   "rse_start": relative_error(x_start, y, n), "rse_end": relative_error(x_end, y, n),
                   "ms": milliseconds(x_end, y, n)}
            rows.append(row)
            cells.append(f"{n:>7} pairs {row['rse_start']:6.3f} / {row['rse_end']:5.3f} {row['ms']:7.1f} ms")
        print(f"{layer:<8}{x_end.shape[1]:>7} positions | " + " | ".join(cells), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"network": extractor.label, "size": args.size, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
