"""Print sizes: one coarse-to-fine run per size, its finest scales in tiles where the memory budget says so.

    .venv/bin/python -m benchmarks.bench --sizes 1024 2048 4096 --tiled [--untiled 2048] [--gallery]
        [--methods poly] [--fusions bn=0.5,poly=0.5] [--steps 75] [--scales N] [--network auto]
        [--device cpu] [--json FILE] [--out DIR]

Each size runs in a fresh process (the peak resident size only grows), as the command
line runs it on that device: `Settings(size, steps).on_device(...)` with the default
memory budget and style scale, on the paper's VGG-19 (`--network auto`). Per size it
prints the plan and tiles, the seconds from the first target to the last step, the peak
memory of the run (the process's peak resident size on a CPU, CUDA's peak allocation on a
GPU), the seam ratio (`nst.seams`) at the borders of the last tiled step against every other
pair of neighbours ("seam") and against those at the same position modulo 16 ("seam/16",
which a bilinear enlargement does not bias), the plain figure on the photo at the same borders
("photo": an enlarged JPEG's 8 px blocks fall on them too), and up to
`--yardstick-up-to` px the yardstick (`nst.yardstick`, on the same network, measured after
the peak was read). `--untiled SIZE` also runs that size with a budget large enough for
every scale to go whole, for the difference in Gram gap closed. The runs are of
chelsea_cat × starry_night; `--gallery` runs every size on each of the six example pairs
instead (the README gallery's rows), for the seam ratio over them. Progress (scale,
tile, step) streams on stderr. Writes each result to `--out`. `--steps 1 --scales 1` makes one
step at each size, whole or in tiles: the peak memory of each method and fusion at 4096 px
against 1024 px in minutes rather than hours.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from nst import Settings
from nst.__main__ import parse_fusion
from nst.config import CPU_PRESET
from nst.images import save_png
from nst.request import Request
from nst.seams import seam_ratio
from nst.stylize import iter_stylize
from nst.tiles import ALIGN, grid_borders
from nst.weights import load_extractor
from nst.yardstick import measure

from .calibrate import example_pairs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTENT, STYLE = EXAMPLES / "content" / "chelsea_cat.jpg", EXAMPLES / "style" / "starry_night.jpg"
# A budget every scale fits whole in (GB): the untiled run to compare with.
UNLIMITED_GB = 1e4


def peak_mib(device: torch.device) -> float:
    """The peak memory so far in MiB: CUDA's peak allocation on a GPU, else this process's peak resident size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def print_run(size: int, steps: int, method: str, network: str, device: str | None, untiled: bool,
              yardstick_up_to: int, out: Path, budget_gb: float | None = None, content: Path = CONTENT,
              style: Path = STYLE, fusion: tuple[tuple[str, float], ...] = (), scales: int | None = None) -> dict:
    """One run of `content` × `style` at `size`: its plan, tiles, seconds, peak memory, seam ratio and (up
    to `yardstick_up_to` px) yardstick. `budget_gb`: the memory budget (None: the device's default;
    `untiled`: every scale whole). `fusion` (overrides `method`) and `scales` (None: the device's
    default) as in `Settings`."""
    extractor = load_extractor(network, device=device)
    settings = Settings(size=size, steps=steps, method=method, fusion=fusion, scales=scales,
                        memory_budget_gb=UNLIMITED_GB if untiled else budget_gb).on_device(extractor.device.type)
    label = ",".join(f"{m}={w:g}" for m, w in fusion) if fusion else method
    request = Request(content, style, settings)
    layouts = request.layouts(extractor.device)
    if extractor.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(extractor.device)
    start, last, boxes = time.perf_counter(), None, {}
    for last in iter_stylize(request, extractor=extractor):
        if last.box is not None:
            boxes.setdefault((last.scale, last.step), []).append(last.box)
        print(f"\r{size} px: scale {last.scale}/{last.scales}, step {last.step}/{last.steps}, "
              f"tile {last.tile}/{last.tiles}, {time.perf_counter() - start:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    assert last is not None
    figures = {"pair": f"{content.stem} × {style.stem}", "method": label, "size": size, "untiled": untiled, "device": str(extractor.device), "network": extractor.label,
               "plan": settings.scale_plan(), "style_scale": settings.style_scale_used(),
               "tiles": [(l.tile, l.halo, l.most_tiles()) if l.tiled else None for l in layouts],
               "seconds": round(time.perf_counter() - start, 1), "peak_mib": round(peak_mib(extractor.device))}
    if boxes and max(boxes)[0] == last.scale:  # the borders of the final image's last step
        rows, cols = grid_borders([_Core(b) for b in boxes[max(boxes)]])
        figures["seam_ratio"] = round(seam_ratio(last.image, rows, cols), 3)
        figures["seam_ratio_aligned"] = round(seam_ratio(last.image, rows, cols, period=ALIGN), 3)
        # The same rows and columns of the photo itself: what the picture has there without any tile.
        figures["seam_ratio_photo"] = round(seam_ratio(request.at(size)[0], rows, cols), 3)
    pair = "" if (content, style) == (CONTENT, STYLE) else f"{content.stem}-{style.stem}-"
    pair += "" if label == "poly" else f"{label}-"
    save_png(last.image, out / f"{pair}{size}{'-untiled' if untiled else ''}.png")
    if size <= yardstick_up_to:
        photo, paintings, _ = request.at(size, extractor.device)
        figures["yardstick"] = dataclasses.asdict(measure(extractor, photo, paintings[0], last.image))
    return figures


@dataclasses.dataclass(frozen=True)
class _Core:
    core: tuple[int, int, int, int]


def _child(argv: list[str]) -> dict:
    """Run one size in a fresh process; its progress passes through on stderr."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.prints", *argv], stdout=subprocess.PIPE, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_sizes(args: argparse.Namespace) -> list[dict]:
    """Every size of `args.sizes` (and `args.untiled`) for each of `args.methods`, each run in its own
    process; prints a table and writes JSON."""
    runs = []
    for method in [["--method", m] for m in args.methods] + [["--fusion", f] for f in args.fusions]:
        common = ["--steps", str(args.steps), *method, "--network", args.network, "--out", str(args.out),
                  "--yardstick-up-to", str(args.yardstick_up_to)] + (["--device", args.device] if args.device else [])
        common += ["--memory-budget-gb", str(args.memory_budget_gb)] if args.memory_budget_gb else []
        common += ["--scales", str(args.scales)] if args.scales else []
        for content, style in example_pairs() if args.gallery else [(CONTENT, STYLE)]:
            pair = ["--content", str(content), "--style", str(style)]
            runs += [_child(["--size", str(size), *pair, *common]) for size in args.sizes]
            runs += [_child(["--size", str(size), "--untiled", *pair, *common]) for size in args.untiled]
    memory = "peak MiB (CUDA)" if runs and runs[0]["device"].startswith("cuda") else "peak RSS MiB"
    print(runs[0]["network"] if runs else "")
    print(f"{'pair':<28} {'method':>8} {'size':>6} {'run':>8} {'seconds':>9} {memory:>16} {'seam':>6} {'seam/16':>7} {'photo':>6} "
          f"{'Gram gap':>9}  plan / tiles")
    for r in runs:
        gram = r.get("yardstick", {}).get("gram_gap_closed")
        print(f"{r['pair']:<28} {r['method']:>8} {r['size']:>6} {'untiled' if r['untiled'] else 'tiled':>8} {r['seconds']:>9.1f} {r['peak_mib']:>16} "
              f"{r.get('seam_ratio', '-')!s:>6} {r.get('seam_ratio_aligned', '-')!s:>7} {r.get('seam_ratio_photo', '-')!s:>6} {'-' if gram is None else f'{gram:.3f}':>9}  "
              + " → ".join(f"{s}×{n}" + (f" [{t[0]}+{t[1]} px, ≤{t[2]} tiles]" if t else "")
                           for (s, n), t in zip(r["plan"], r["tiles"])))
    for key, name in (("seam_ratio", "seam"), ("seam_ratio_aligned", "seam/16")):
        seams = [r[key] for r in runs if key in r]
        if len(seams) > 1:
            print(f"{name} over {len(seams)} tiled runs: mean {sum(seams) / len(seams):.3f}, largest {max(seams):.3f}")
    if args.json:
        args.json.write_text(json.dumps({"torch": torch.__version__, "runs": runs}, indent=2))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description="one print-size run (benchmarks.bench --tiled runs these)")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--content", type=Path, default=CONTENT)
    parser.add_argument("--style", type=Path, default=STYLE)
    parser.add_argument("--steps", type=int, default=CPU_PRESET["steps"])
    parser.add_argument("--method", default="poly")
    parser.add_argument("--network", default="auto")
    parser.add_argument("--device", default=None)
    parser.add_argument("--untiled", action="store_true")
    parser.add_argument("--yardstick-up-to", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=Path("prints-out"))
    parser.add_argument("--memory-budget-gb", type=float, default=None)
    parser.add_argument("--fusion", type=parse_fusion, default=(), help="e.g. bn=0.5,poly=0.5 (overrides --method)")
    parser.add_argument("--scales", type=int, default=None, help="default: the device's (a CPU goes coarse to fine)")
    args = parser.parse_args()
    figures = print_run(args.size, args.steps, args.method, args.network, args.device, args.untiled,
                        args.yardstick_up_to, args.out, args.memory_budget_gb, args.content, args.style,
                        args.fusion, args.scales)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
