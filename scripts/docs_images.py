"""Make the README's pictures and the Paper tab's cells on the paper's VGG-19 (`--network auto`).

    python -m scripts.docs_images figures [--size 192] [--steps 100] [--cells examples/paper/rendered]
    python -m scripts.docs_images gallery [--size 256] [--steps 100] [--cells DIR]
    python -m scripts.docs_images features [--size 256] [--steps 100] [--cells DIR]
    python -m scripts.docs_images paintings [--size 256] [--steps 100]
    python -m scripts.docs_images screenshots
    python -m scripts.docs_images explore
    python -m scripts.docs_images print-crop PRINT.png SMALL.png [--centre X Y] [--crop 640]

`figures` renders the paper's four figures with the figure runner into the Paper tab's
pre-rendered folder (Figure 1, from noise, with twice the steps) and writes their grids to
docs/paper/fig<N>.png; `gallery` renders the six example pairs × four methods and two
fusions (`examples/gallery.json`) to docs/gallery.jpg; `features` the colour modes and
the two added distances on two pairs (`examples/features.json`) to docs/features.jpg; `paintings`
the cat with two paintings, Starry Night and The Scream: blended (their mixture, equal weights),
then painted into two thirds by `examples/masks/chelsea_cat_thirds.png` (the mask laid over the
photo, then the result) to docs/paintings.jpg; `screenshots` starts the app with no
flags, stylizes the first example in Debian's chromium and writes docs/screenshot.png,
docs/explain.png (the 2-D playground) and docs/explain_real.png (the tab's analysis of that
result); `explore` the Explore tab's grid and map of the example pair to docs/explore.png;
`print-crop` a crop of a print (the 4096 px result of `benchmarks.bench --tiled`) beside the
same crop of a smaller run's result enlarged to match, to docs/print_crop.jpg.
Cells are kept in DIR (default: a folder under the temp directory, or for `figures`
the pre-rendered folder) and reused (`--resume`), so an interrupted run carries on. Needs the `.venv` (`bash scripts/setup.sh`)
and, for screenshots, `apt-get install -y chromium`. Tests never write these files.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from nst import paper
from nst.paper.grid import make_grid

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MANIFEST = ROOT / paper.MANIFEST_PATH
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--no-first-run"]
# Long edge of a tile in the committed grids: readable in the README, a few MB at most per file.
DOCS_TILE = 160


# Figure 1 starts from noise: it gets this many times the steps of the others.
NOISE_START_STEPS = {"1": 2}


def _render(figure: str, manifest: Path, args: argparse.Namespace) -> Path:
    steps = args.steps * NOISE_START_STEPS.get(figure, 1)
    argv = [figure, "--manifest", str(manifest), "--network", args.network, "--size", str(args.size),
            "--steps", str(steps), "--out", str(args.cells), "--resume"]
    if paper.main(argv) != 0:
        raise SystemExit(f"rendering figure {figure} failed")
    return args.cells / f"fig{figure}" / "grid.png"


def _shrink(grid: Path, size: int) -> Image.Image:
    image = Image.open(grid).convert("RGB")
    scale = DOCS_TILE / size
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def figures(args: argparse.Namespace) -> None:
    (DOCS / "paper").mkdir(parents=True, exist_ok=True)
    for figure in paper.load_manifest(MANIFEST).figure_ids:
        out = DOCS / "paper" / f"fig{figure}.png"
        _shrink(_render(figure, MANIFEST, args), args.size).save(out, optimize=True)
        print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KB)")


def gallery(args: argparse.Namespace) -> None:
    out = DOCS / "gallery.jpg"
    _shrink(_render("gallery", ROOT / "examples" / "gallery.json", args), args.size).save(out, quality=88)
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KB)")


def features(args: argparse.Namespace) -> None:
    out = DOCS / "features.jpg"
    _shrink(_render("features", ROOT / "examples" / "features.json", args), args.size).save(out, quality=88)
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KB)")


def paintings(args: argparse.Namespace) -> None:
    from nst import Settings, stylize
    from nst.images import load_image, resize_long_edge

    examples = ROOT / "examples"
    photo, mask = examples / "content" / "chelsea_cat.jpg", examples / "masks" / "chelsea_cat_thirds.png"
    styles = [examples / "style" / "starry_night.jpg", examples / "style" / "the_scream.jpg"]
    settings = Settings(size=args.size, steps=args.steps)
    blend = stylize(photo, styles, settings, network=args.network)
    regions = stylize(photo, styles, settings, mask=mask, network=args.network)
    shown = resize_long_edge(load_image(photo), args.size)
    colours = load_image(mask).resize(shown.size, Image.Resampling.NEAREST)
    painted = colours.convert("L").point(lambda v: 255 if v > 0 else 0)  # black keeps the photo
    tiles = [blend.image, Image.composite(Image.blend(shown, colours, 0.45), shown, painted), regions.image]
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), shown.height), "white")
    for k, tile in enumerate(tiles):
        sheet.paste(tile, (k * (shown.width + 8), 0))
    out = DOCS / "paintings.jpg"
    sheet.save(out, quality=88)
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KB); blend {blend.record.seconds:.0f} s, "
          f"regions {regions.record.seconds:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_app(weights: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                             "--network", weights], cwd=workdir, env=env, stdout=open(workdir / "app.log", "w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited: {(workdir / 'app.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("app.py did not start within 5 minutes")


def screenshots(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="nst-docs-"))
    proc, url = _start_app(args.network, workdir)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#stylize-button")
            page.locator("#content-image input[type=file]").set_input_files(
                str(ROOT / "examples" / "content" / "chelsea_cat.jpg"))
            page.locator("#style-image input[type=file]").set_input_files(
                str(ROOT / "examples" / "style" / "starry_night.jpg"))
            page.click("#stylize-button")
            page.locator("#status p").get_by_text("Done:").wait_for(timeout=15 * 60_000)
            page.mouse.move(0, 0)
            page.wait_for_timeout(1500)  # the loss plot's last redraw
            page.screenshot(path=str(DOCS / "screenshot.png"), full_page=True)
            page.get_by_role("tab", name="Why it works").click()
            page.locator("#explain-status").get_by_text("Features of").wait_for(timeout=5 * 60_000)
            _wait_until_quiet(page)
            _clip(page, "#explain-real", "#explain-distances", DOCS / "explain_real.png")
            page.click("#toy-gaussian")
            page.wait_for_timeout(8000)  # the animation's 40-50 frames
            _clip(page, "#explain-intro", "#toy-stats", DOCS / "explain.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for name in ("screenshot.png", "explain.png", "explain_real.png"):
        print(f"wrote docs/{name} ({(DOCS / name).stat().st_size // 1024} KB)")


def explore_screenshot(args: argparse.Namespace) -> None:
    """docs/explore.png: the Explore tab's grid and map for the example pair."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    proc, url = _start_app(args.network, Path(tempfile.mkdtemp(prefix="nst-docs-")))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.get_by_role("tab", name="Explore").click()
            page.click("#explore-button")
            status = page.locator("#explore-status p")
            status.get_by_text(re.compile(r"^All \d+ cells")).wait_for(timeout=15 * 60_000)
            _wait_until_quiet(page)
            page.mouse.move(0, 0)
            _clip(page, "#explore-content", "#explore-map", DOCS / "explore.png", below=48)  # the x axis' title
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"wrote docs/explore.png ({(DOCS / 'explore.png').stat().st_size // 1024} KB)")


def print_crop(args: argparse.Namespace) -> None:
    """docs/print_crop.jpg: `--crop` px of the print around `--centre` (fractions of its width and
    height) beside the same part of the smaller result, enlarged with Lanczos to the same pixels."""
    Image.MAX_IMAGE_PIXELS = None  # our own 4096 px print, not untrusted input
    big, small = Image.open(args.print).convert("RGB"), Image.open(args.small).convert("RGB")
    factor = big.width / small.width
    left = round(min(max(args.centre[0] * big.width - args.crop / 2, 0), big.width - args.crop))
    top = round(min(max(args.centre[1] * big.height - args.crop / 2, 0), big.height - args.crop))
    crop = big.crop((left, top, left + args.crop, top + args.crop))
    box = tuple(round(v / factor) for v in (left, top, left + args.crop, top + args.crop))
    enlarged = small.crop(box).resize(crop.size, Image.Resampling.LANCZOS)
    sheet = make_grid([[crop, enlarged]], [""], [f"{big.width} px print, {args.crop} px of it",
                                                 f"{small.width} px result enlarged {factor:g}x"], args.crop,
                      footer=args.footer)
    sheet.save(DOCS / "print_crop.jpg", quality=90)
    print(f"wrote docs/print_crop.jpg ({(DOCS / 'print_crop.jpg').stat().st_size // 1024} KB)")


def _wait_until_quiet(page, seconds: int = 4, limit: int = 300) -> None:
    """Wait until no output has shown Gradio's "processing |" timer for `seconds` in a row: the
    status line comes before the table and plots, and the end of a run can start a second analysis."""
    quiet = 0
    for _ in range(limit):
        quiet = 0 if page.evaluate("document.body.innerText.includes('processing |')") else quiet + 1
        if quiet >= seconds:
            return
        page.wait_for_timeout(1000)
    raise SystemExit(f"the page was still processing after {limit} s")


def _clip(page, first: str, last: str, path: Path, below: int = 24) -> None:
    top, bottom = page.locator(first).bounding_box(), page.locator(last).bounding_box()
    clip = {"x": 0, "y": top["y"] - 12, "width": 1280, "height": bottom["y"] + bottom["height"] - top["y"] + below}
    page.screenshot(path=str(path), clip=clip, full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cells = Path(tempfile.gettempdir()) / "nst-docs-cells"
    for name, size, steps, folder in (("figures", 192, 100, ROOT / paper.RENDERED_DIR), ("gallery", 256, 100, cells),
                                      ("features", 256, 100, cells), ("paintings", 256, 100, cells)):
        command = sub.add_parser(name)
        command.add_argument("--size", type=int, default=size)
        command.add_argument("--steps", type=int, default=steps)
        command.add_argument("--cells", type=Path, default=folder)
        command.add_argument("--network", default="auto")
    sub.add_parser("screenshots").add_argument("--network", default="auto")
    sub.add_parser("explore").add_argument("--network", default="auto")
    crop = sub.add_parser("print-crop")
    crop.add_argument("print", type=Path)
    crop.add_argument("small", type=Path)
    crop.add_argument("--centre", type=float, nargs=2, default=(0.5, 0.5), metavar=("X", "Y"))
    crop.add_argument("--crop", type=int, default=640)
    crop.add_argument("--footer", default="Made with VGG-19 (ImageNet, Caffe): the paper's network")
    args = parser.parse_args()
    commands = {"figures": figures, "gallery": gallery, "features": features, "paintings": paintings,
                "screenshots": screenshots, "explore": explore_screenshot, "print-crop": print_crop}
    commands[args.command](args)


if __name__ == "__main__":
    main()
