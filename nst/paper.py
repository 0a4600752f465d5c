"""Reproducing the paper's four figures from a manifest: `python -m nst.paper FIGURE`.

A figure is a grid of cells, rows × columns; each cell is one stylization. The manifest
(`examples/paper/figures.json`) defines every figure as data: caption, row and column
labels, images, and every cell's parameters as `nst.config.Settings` fields, merged
figure → row → column → the row's per-column `cells` entry. The runner renders each
cell through `nst.stylize.iter_stylize`, writes `fig<N>/r<i>_c<j>.png` with a JSON record
beside it (parameters, final loss per term, seconds, device, weights), and draws the
labelled grid with Pillow. A record holds a hash of the cell's parameters and input
images; `--resume` skips a cell whose record has the same hash and weights, so an
interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from .config import Settings, field_spec
from .errors import NSTError
from .features import VGGFeatures
from .images import load_image, resize_long_edge, save_png
from .stylize import Step, iter_stylize
from .weights import WEIGHTS_HELP, default_device, load_extractor

__all__ = [
    "MANIFEST_PATH",
    "RENDERED_DIR",
    "Manifest",
    "Cell",
    "FigureRun",
    "GridLayout",
    "load_manifest",
    "figure_cells",
    "cell_hash",
    "cached_cell",
    "iter_render_cell",
    "render_cell",
    "render_figure",
    "grid_footer",
    "figure_grid",
    "grid_layout",
    "make_grid",
    "build_parser",
    "main",
]

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "examples" / "paper" / "figures.json"
# Where the app looks for pre-rendered cells, and the runner's default output.
RENDERED_DIR = ROOT / "examples" / "paper" / "rendered"
# Bump when the record layout or the meaning of a hash changes: old cells then re-render.
RECORD_VERSION = 1
_IMAGE_KEYS = ("content", "style")


@dataclass(frozen=True)
class Manifest:
    """The parsed, validated manifest; image paths in it are relative to `path`'s folder."""

    path: Path
    data: dict[str, Any]

    @property
    def figure_ids(self) -> tuple[str, ...]:
        return tuple(self.data["figures"])

    def figure(self, figure: str | int) -> dict[str, Any]:
        """The manifest entry of one figure; an unknown id lists the valid ones."""
        try:
            return self.data["figures"][str(figure)]
        except KeyError:
            raise NSTError(f"unknown figure {str(figure)!r}; choose one of {', '.join(self.figure_ids)}") from None


@dataclass(frozen=True)
class Cell:
    """One stylization of a figure: where it sits, its inputs and its `Settings`."""

    figure: str
    row: int
    column: int
    row_label: str
    column_label: str
    content: Path
    style: Path
    settings: Settings

    @property
    def name(self) -> str:
        return f"r{self.row}_c{self.column}"

    def png(self, out_dir: str | os.PathLike) -> Path:
        return Path(out_dir) / f"fig{self.figure}" / f"{self.name}.png"

    def record_path(self, out_dir: str | os.PathLike) -> Path:
        return self.png(out_dir).with_suffix(".json")


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Read and validate the manifest (default: `MANIFEST_PATH`).

    Checks that every figure has a caption, labelled rows and columns, input images
    that exist, and that every cell's parameters build a valid `Settings`.
    """
    path = Path(path) if path is not None else MANIFEST_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NSTError(f"cannot read the figure manifest {str(path)!r}: {type(exc).__name__}") from None
    except json.JSONDecodeError as exc:
        raise NSTError(f"figure manifest {path.name!r} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict) or not data["figures"]:
        raise NSTError(f"figure manifest {path.name!r} has no 'figures' object")
    manifest = Manifest(path, data)
    for figure in manifest.figure_ids:
        _check_figure(manifest, figure)
    return manifest


def _check_figure(manifest: Manifest, figure: str) -> None:
    spec = manifest.figure(figure)
    for key in ("title", "caption", "rows", "columns"):
        if not spec.get(key):
            raise NSTError(f"figure {figure}: the manifest gives no {key!r}")
    for axis in ("rows", "columns"):
        unlabelled = [i for i, entry in enumerate(spec[axis]) if not entry.get("label")]
        if unlabelled:
            raise NSTError(f"figure {figure}: {axis[:-1]} {unlabelled[0]} has no 'label'")
    bad = [c for c in spec.get("input_columns", []) if c not in _IMAGE_KEYS]
    if bad:
        raise NSTError(f"figure {figure}: input column {bad[0]!r} is not one of {', '.join(_IMAGE_KEYS)}")
    for i, row in enumerate(spec["rows"]):
        if "cells" in row and len(row["cells"]) != len(spec["columns"]):
            raise NSTError(f"figure {figure}, row {i}: {len(row['cells'])} 'cells' entries for "
                           f"{len(spec['columns'])} columns")
    for cell in figure_cells(figure, manifest=manifest):
        for image in (cell.content, cell.style):
            if not image.is_file():
                raise NSTError(f"figure {figure}, {cell.name}: image {str(image)!r} does not exist")


def figure_cells(figure: str | int, size: int | None = None, steps: int | None = None, *,
                 rows: Sequence[int] | None = None, columns: Sequence[int] | None = None,
                 manifest: Manifest | None = None, content: str | os.PathLike | None = None,
                 style: str | os.PathLike | None = None) -> list[Cell]:
    """The cells of one figure in row-major order, each with validated `Settings`.

    `size` and `steps` override the manifest (and so `Settings`' defaults) for every
    cell; `rows`/`columns` pick a subset by index; `content`/`style` replace the
    manifest's images in every cell.
    """
    manifest = manifest or load_manifest()
    spec = manifest.figure(figure)
    row_ids = _pick(rows, len(spec["rows"]), f"figure {figure} row")
    column_ids = _pick(columns, len(spec["columns"]), f"figure {figure} column")
    run = {k: v for k, v in (("size", size), ("steps", steps)) if v is not None}
    overrides = {k: Path(v) for k, v in (("content", content), ("style", style)) if v is not None}
    cells = []
    for i in row_ids:
        row = spec["rows"][i]
        images = {**spec.get("images", {}), **row.get("images", {})}
        missing = [k for k in _IMAGE_KEYS if k not in images and k not in overrides]
        if missing:
            raise NSTError(f"figure {figure}, row {i}: the manifest gives no {missing[0]} image")
        paths = {k: overrides.get(k, manifest.path.parent / images.get(k, "")) for k in _IMAGE_KEYS}
        for j in column_ids:
            column = spec["columns"][j]
            fields = {**spec.get("settings", {}), **row.get("settings", {}), **column.get("settings", {}),
                      **(row["cells"][j] if "cells" in row else {}), **run}
            try:
                settings = Settings.from_dict(fields)
            except (NSTError, TypeError) as exc:
                raise NSTError(f"figure {figure}, row {i}, column {j}: {exc}") from None
            cells.append(Cell(str(figure), i, j, row["label"], column["label"],
                              paths["content"].resolve(), paths["style"].resolve(), settings))
    return cells


def _pick(indices: Sequence[int] | None, count: int, what: str) -> list[int]:
    if indices is None:
        return list(range(count))
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        raise NSTError(f"{what} {bad[0]} does not exist; valid: 0..{count - 1}")
    return list(dict.fromkeys(indices))


@functools.lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def cell_hash(cell: Cell) -> str:
    """Hash of everything that decides a cell's image except the weights: its full
    `Settings` and the bytes of both input images (so a changed file re-renders)."""
    payload = {"version": RECORD_VERSION, "settings": dataclasses.asdict(cell.settings),
               "content": _file_digest(cell.content), "style": _file_digest(cell.style)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def cached_cell(cell: Cell, out_dir: str | os.PathLike,
                weights: str | None = None) -> tuple[Path, dict[str, Any]] | None:
    """`(png, record)` of a finished cell in `out_dir` with this cell's hash (and these
    `weights`, when given), else None."""
    png, record_path = cell.png(out_dir), cell.record_path(out_dir)
    if not (png.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("hash") != cell_hash(cell) or (weights is not None and record.get("weights") != weights):
        return None
    return png, record


def iter_render_cell(cell: Cell, out_dir: str | os.PathLike, extractor: VGGFeatures) -> Iterator[Step]:
    """Render `cell`, yielding every optimizer `Step`; after the last one, write the
    PNG and its JSON record into `out_dir` (each written whole, then renamed, so an
    interrupted run never leaves a half-written cell that looks finished)."""
    if extractor.pooling != cell.settings.pooling:
        raise NSTError(f"{cell.name} needs a network with {cell.settings.pooling} pooling; "
                       f"the extractor has {extractor.pooling}")
    first: Step | None = None
    last: Step | None = None
    peak = float("-inf")
    for last in iter_stylize(cell.content, cell.style, cell.settings, extractor=extractor):
        first = first or last
        peak = max(peak, last.losses["total"])
        yield last
    assert first is not None and last is not None  # Settings enforces steps >= 1
    png = cell.png(out_dir)
    tmp = save_png(last.pil(), png.with_name(f".{png.name}.tmp"))
    os.replace(tmp, png)
    record = _record(cell, first, last, peak, extractor)
    tmp_json = png.with_name(f".{png.stem}.json.tmp")
    tmp_json.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp_json, cell.record_path(out_dir))


def _record(cell: Cell, first: Step, last: Step, peak: float, extractor: VGGFeatures) -> dict[str, Any]:
    """The JSON record of a finished cell; `first_losses` and `peak_total` (the highest
    total seen) show whether the loss went down throughout."""
    return {
        "figure": cell.figure, "row": cell.row, "column": cell.column,
        "row_label": cell.row_label, "column_label": cell.column_label,
        "image": f"{cell.name}.png", "content": _display(cell.content), "style": _display(cell.style),
        "hash": cell_hash(cell), "settings": dataclasses.asdict(cell.settings),
        "first_losses": first.losses, "final_losses": last.losses, "peak_total": peak,
        "seconds": round(last.elapsed, 3),
        "device": str(extractor.device), "network": extractor.label, "weights": extractor.weights_name,
        "optimizer": cell.settings.optimizer_used(), "gamma": cell.settings.gamma_used(), "torch": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _display(path: Path) -> str:
    """A path relative to the repository when it is inside it, for portable records."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def render_cell(cell: Cell, out_dir: str | os.PathLike, extractor: VGGFeatures, *,
                resume: bool = True) -> tuple[Path, dict[str, Any]]:
    """`(png, record)` of `cell`: the cached one in `out_dir` when `resume` and it was
    rendered with the same parameters and weights, else a fresh rendering."""
    if resume:
        cached = cached_cell(cell, out_dir, extractor.weights_name)
        if cached is not None:
            return cached
    for _ in iter_render_cell(cell, out_dir, extractor):
        pass
    done = cached_cell(cell, out_dir, extractor.weights_name)
    assert done is not None  # iter_render_cell has just written it
    return done


@dataclass(frozen=True)
class FigureRun:
    """What `render_figure` produced: the grid image and one record per cell."""

    figure: str
    grid: Path
    records: list[dict[str, Any]]
    rendered: int


def render_figure(figure: str | int, out_dir: str | os.PathLike, extractor: VGGFeatures, *,
                  size: int | None = None, steps: int | None = None, rows: Sequence[int] | None = None,
                  columns: Sequence[int] | None = None, resume: bool = False, manifest: Manifest | None = None,
                  content: str | os.PathLike | None = None, style: str | os.PathLike | None = None,
                  progress: bool = True) -> FigureRun:
    """Render the (selected) cells of one figure with a tqdm bar over cells, then its
    labelled grid: `fig<N>/grid.png`, or `grid_rows…_cols….png` for a subset."""
    manifest = manifest or load_manifest()
    cells = figure_cells(figure, size, steps, rows=rows, columns=columns, manifest=manifest,
                         content=content, style=style)
    records, paths, rendered = [], [], 0
    bar = tqdm(cells, desc=f"figure {figure}", unit="cell", disable=not progress)
    for cell in bar:
        bar.set_postfix_str(cell.name)
        fresh = not resume or cached_cell(cell, out_dir, extractor.weights_name) is None
        path, record = render_cell(cell, out_dir, extractor, resume=resume)
        rendered += fresh
        paths.append(path)
        records.append(record)
    grid = figure_grid(manifest.figure(figure), cells, [load_image(p) for p in paths], grid_footer(cells, extractor))
    name = "grid.png" if rows is None and columns is None else (
        f"grid_rows{'-'.join(map(str, dict.fromkeys(c.row for c in cells)))}"
        f"_cols{'-'.join(map(str, dict.fromkeys(c.column for c in cells)))}.png")
    return FigureRun(str(figure), save_png(grid, Path(out_dir) / f"fig{figure}" / name), records, rendered)


def grid_footer(cells: Sequence[Cell], extractor: VGGFeatures) -> str:
    """What made a grid: the network and weights, size and steps (one line)."""
    sizes = sorted({c.settings.size for c in cells})
    steps = sorted({c.settings.steps for c in cells})
    return (f"Made with {extractor.label}, {'/'.join(map(str, sizes))} px, {'/'.join(map(str, steps))} steps "
            f"per cell ({extractor.weights_name}).")


def figure_grid(spec: dict[str, Any], cells: Sequence[Cell], images: Sequence[Image.Image | None],
                footer: str = "") -> Image.Image:
    """The paper-style grid of `cells` (row-major, as `figure_cells` returns them):
    the figure's input columns (content, style) first, then one tile per cell; a
    missing image (None) leaves a grey tile. `footer` goes under the grid."""
    row_ids = list(dict.fromkeys(c.row for c in cells))
    column_ids = list(dict.fromkeys(c.column for c in cells))
    tile = max(c.settings.size for c in cells)
    by_position = {(c.row, c.column): (c, img) for c, img in zip(cells, images)}
    inputs = spec.get("input_columns", [])
    tiles = []
    for r in row_ids:
        first = by_position[(r, column_ids[0])][0]
        tiles.append([load_image(getattr(first, key), name=f"{key} image") for key in inputs]
                     + [by_position[(r, c)][1] for c in column_ids])
    row_labels = [by_position[(r, column_ids[0])][0].row_label for r in row_ids]
    column_labels = list(inputs) + [by_position[(row_ids[0], c)][0].column_label for c in column_ids]
    return make_grid(tiles, row_labels, column_labels, tile, footer)


@dataclass(frozen=True)
class GridLayout:
    """Geometry of a labelled grid: a label column on the left, a label row on top,
    then square tiles of side `tile` separated by `gap` pixels."""

    rows: int
    columns: int
    tile: int
    gap: int
    label_width: int
    label_height: int
    font_size: int

    @property
    def size(self) -> tuple[int, int]:
        return (self.label_width + self.columns * (self.tile + self.gap) + self.gap,
                self.label_height + self.rows * (self.tile + self.gap) + self.gap)

    def tile_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """`(left, top, right, bottom)` of the tile at `row`, `column`."""
        x = self.label_width + self.gap + column * (self.tile + self.gap)
        y = self.label_height + self.gap + row * (self.tile + self.gap)
        return x, y, x + self.tile, y + self.tile


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


# Pillow's built-in font (Aileron) has Latin glyphs only; spelling these out keeps the
# grid identical on every machine instead of depending on installed fonts.
_LATIN_ONLY = str.maketrans({"γ": "gamma", "α": "alpha", "β": "beta", "σ": "sigma", "−": "-", "→": "->"})


def _label(text: str) -> str:
    return text.translate(_LATIN_ONLY)


def grid_layout(row_labels: Sequence[str], column_labels: Sequence[str], tile: int) -> GridLayout:
    """The layout `make_grid` uses; label sizes are measured with the font it draws with."""
    font_size = max(10, tile // 16)
    font, pad = _font(font_size), max(2, font_size // 2)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def extent(text: str) -> tuple[int, int]:
        left, top, right, bottom = draw.multiline_textbbox((0, 0), _label(text), font=font, align="center")
        return math.ceil(right - left), math.ceil(bottom - top)

    label_width = max(extent(t)[0] for t in row_labels) + 2 * pad
    label_height = max(extent(t)[1] for t in column_labels) + 2 * pad
    return GridLayout(len(row_labels), len(column_labels), tile, max(2, tile // 64),
                      label_width, label_height, font_size)


def make_grid(tiles: Sequence[Sequence[Image.Image | None]], row_labels: Sequence[str],
              column_labels: Sequence[str], tile: int, footer: str = "") -> Image.Image:
    """A white sheet with row labels on the left, column labels on top, and each image
    scaled to fit a `tile`-pixel square, centred in it (None: a grey square); `footer`,
    when given, is a line under the grid (e.g. which network made it). Greek letters in
    labels are spelled out (γ → gamma): the built-in font lacks them."""
    if len(tiles) != len(row_labels) or any(len(r) != len(column_labels) for r in tiles):
        raise NSTError("make_grid: tiles must have one row per row label and one entry per column label")
    layout = grid_layout(row_labels, column_labels, tile)
    sheet = Image.new("RGB", layout.size, "white")
    draw, font = ImageDraw.Draw(sheet), _font(layout.font_size)
    for r, row in enumerate(tiles):
        for c, image in enumerate(row):
            left, top, right, bottom = layout.tile_box(r, c)
            if image is None:
                draw.rectangle((left, top, right - 1, bottom - 1), fill=(224, 224, 224))
                continue
            fitted = resize_long_edge(image.convert("RGB"), tile)
            sheet.paste(fitted, (left + (tile - fitted.width) // 2, top + (tile - fitted.height) // 2))
    for r, text in enumerate(row_labels):
        _, top, _, bottom = layout.tile_box(r, 0)
        draw.multiline_text((layout.label_width // 2, (top + bottom) // 2), _label(text), fill="black", font=font,
                            anchor="mm", align="center")
    for c, text in enumerate(column_labels):
        left, _, right, _ = layout.tile_box(0, c)
        draw.multiline_text(((left + right) // 2, layout.label_height // 2), _label(text), fill="black", font=font,
                            anchor="mm", align="center")
    return _with_footer(sheet, footer, font) if footer else sheet


def _with_footer(sheet: Image.Image, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> Image.Image:
    """`sheet` with `text` written on a white band below it, wrapped to the sheet's width."""
    draw = ImageDraw.Draw(sheet)
    lines, line = [], ""
    for word in _label(text).split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > sheet.width - 8:
            lines.append(line)
            trial = word
        line = trial
    lines.append(line)
    _, top, _, bottom = draw.multiline_textbbox((0, 0), "\n".join(lines), font=font)
    out = Image.new("RGB", (sheet.width, sheet.height + bottom - top + 8), "white")
    out.paste(sheet, (0, 0))
    ImageDraw.Draw(out).multiline_text((4, sheet.height + 2), "\n".join(lines), fill="black", font=font)
    return out


def _indices(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated indices like 0,1, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The runner's argument parser; size and steps default to the manifest and `Settings`."""
    size, steps = field_spec("size"), field_spec("steps")
    parser = argparse.ArgumentParser(
        prog="python -m nst.paper",
        description="Render the figures of 'Demystifying Neural Style Transfer' (Li et al., IJCAI 2017) "
                    "from the figure manifest: one PNG and JSON record per cell, and a labelled grid.")
    parser.add_argument("figure", help="figure number as listed in the manifest (1..4), or 'all'")
    parser.add_argument("--out", type=Path, default=RENDERED_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--size", type=int, default=None,
                        help=f"long edge of every cell (default: the manifest's, else {size['default']}); "
                             f"{size['min']:g}..{size['max']:g}")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps per cell (default: the manifest's, else {steps['default']}); "
                             f"{steps['min']:g}..{steps['max']:g}")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--resume", action="store_true",
                        help="skip cells already rendered with the same parameters and weights")
    parser.add_argument("--weights", default="auto", help=WEIGHTS_HELP)
    parser.add_argument("--rows", type=_indices, default=None, help="only these row indices, e.g. 0,1")
    parser.add_argument("--columns", type=_indices, default=None, help="only these column indices, e.g. 0,1")
    parser.add_argument("--content", type=Path, default=None, help="use this content image in every cell")
    parser.add_argument("--style", type=Path, default=None, help="use this style image in every cell")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH, help="figure manifest (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _deterministic_cuda() -> None:
    """Ask CUDA for repeatable results: cuDNN's autotuner and atomic-add kernels (the
    backward of the Gaussian term's pair indexing, some convolution backwards) would
    otherwise make a re-run differ in the last bits. `warn_only`: an operation without a
    deterministic version warns instead of stopping the run. Set before CUDA starts."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)


def main(argv: list[str] | None = None) -> int:
    """Run the figure runner; returns the exit status (0 success, 2 bad input or no weights)."""
    args = build_parser().parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        if args.figure != "all":
            manifest.figure(args.figure)  # an unknown figure fails here, listing the valid ones
        figures = manifest.figure_ids if args.figure == "all" else (args.figure,)
        device = torch.device(args.device) if args.device is not None else default_device()
        if device.type == "cuda":
            _deterministic_cuda()
        for figure in figures:
            cells = figure_cells(figure, args.size, args.steps, rows=args.rows, columns=args.columns,
                                 manifest=manifest, content=args.content, style=args.style)
            extractor = load_extractor(args.weights, pooling=cells[0].settings.pooling, device=device)
            run = render_figure(figure, args.out, extractor, size=args.size, steps=args.steps, rows=args.rows,
                                columns=args.columns, resume=args.resume, manifest=manifest,
                                content=args.content, style=args.style, progress=not args.quiet)
            print(json.dumps({"figure": run.figure, "grid": str(run.grid), "cells": len(run.records),
                              "rendered": run.rendered, "network": extractor.label,
                              "weights": extractor.weights_name,
                              "seconds": round(sum(r["seconds"] for r in run.records), 2)}))
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
