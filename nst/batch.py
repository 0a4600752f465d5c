"""Batch: every photo × painting pair of two folders (or the pairs a CSV lists), each
written as a PNG that carries its recipe, then a contact sheet and an index.

`python -m nst batch PHOTOS/ PAINTINGS/ -o OUT/` (see `nst.__main__`) writes
`OUT/<photo>__<painting>.png` per pair, `OUT/index.json` (the settings and every pair's
status, rewritten after each pair) and `OUT/contact_sheet.png` (photos as rows, paintings
as columns). It is resumable: a pair whose PNG is there with a recipe of the same
settings, inputs (SHA-256 of their pixels), network and every step done is kept, not
made again. An unreadable image is reported once, in its own line, and its pairs are
skipped; the others go on. Each PNG is written whole and then renamed, so Ctrl-C loses
only the pair that was running.

`workers` > 1 runs that many processes, one per CUDA device (`cuda:0`, `cuda:1`, …) or,
on a CPU, each with its share of the CPU's threads; each loads the network once. There
is no scheduling across machines.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from PIL import Image
from tqdm.auto import tqdm

from .config import Settings
from .errors import NSTError
from .features import VGGFeatures
from .images import check_image_file, load_image, resize_long_edge, save_png
from .paper.grid import make_grid
from .recipe import inputs_of, read_recipe, recipe_of, save_with_recipe
from .request import Request
from .stylize import stylize
from .weights import device_type, load_extractor

__all__ = ["IMAGE_SUFFIXES", "INDEX", "CONTACT_SHEET", "Pair", "Outcome", "Batch", "list_images", "all_pairs",
           "read_pairs", "worker_devices", "run_pair", "run_batch", "contact_sheet"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
INDEX, CONTACT_SHEET = "index.json", "contact_sheet.png"
# The contact sheet's tiles: the results' size, within these bounds, and smaller for a
# large batch so that the sheet stays under about 8192 px a side.
_TILE_MIN, _TILE_MAX, _SHEET_MAX = 96, 256, 8192

Report = Callable[[str], None]  # where a batch's lines go (one per unreadable image)


@dataclass(frozen=True)
class Pair:
    """One photo and one painting, and the name of their result in the output folder."""

    photo: Path
    painting: Path

    @property
    def name(self) -> str:
        return f"{self.photo.stem}__{self.painting.stem}.png"


@dataclass(frozen=True)
class Outcome:
    """What became of a pair: "made", "kept" (finished before: its recipe matches), "failed"
    (`error` says why) or "pending" (not reached yet)."""

    pair: Pair
    status: str
    error: str | None = None


@dataclass(frozen=True)
class Batch:
    """The pairs, the output folder, the settings of every run, and the network and device
    as `nst.weights.load_extractor` takes them."""

    pairs: tuple[Pair, ...]
    out: Path
    settings: Settings
    network: str = "auto"
    device: str | None = None

    def __post_init__(self) -> None:
        if not self.pairs:
            raise NSTError("no pairs to run: the folders hold no images (or the CSV lists none)")
        seen: dict[str, Pair] = {}
        for pair in self.pairs:
            other = seen.setdefault(pair.name, pair)
            if other != pair:
                raise NSTError(f"{other.photo.name} × {other.painting.name} and {pair.photo.name} × "
                               f"{pair.painting.name} would both be written as {pair.name}; rename one")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images in `folder` (by suffix, `IMAGE_SUFFIXES`; not its subfolders), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NSTError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def all_pairs(photos: str | os.PathLike, paintings: str | os.PathLike) -> tuple[Pair, ...]:
    """Every photo in `photos` with every painting in `paintings`, photo by photo."""
    return tuple(Pair(photo, painting) for photo in list_images(photos) for painting in list_images(paintings))


def read_pairs(csv_path: str | os.PathLike, photos: str | os.PathLike,
               paintings: str | os.PathLike) -> tuple[Pair, ...]:
    """The pairs a CSV file lists: a header row `photo,painting`, then one pair a row, each
    file named relative to the `photos` and `paintings` folders; blank rows are skipped."""
    try:
        with open(csv_path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            if not {"photo", "painting"} <= set(reader.fieldnames or ()):
                raise NSTError(f"{csv_path}: the first row must name the columns photo,painting")
            rows = [row for row in reader if (row.get("photo") or "").strip() or (row.get("painting") or "").strip()]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NSTError(f"{csv_path}: cannot be read as CSV ({getattr(exc, 'strerror', None) or exc})") from None
    return tuple(Pair(Path(photos) / (row["photo"] or "").strip(), Path(paintings) / (row["painting"] or "").strip())
                 for row in rows)


def worker_devices(device: str | None, workers: int) -> list[str]:
    """One device per worker process: `cuda:0` … on CUDA (refused beyond the devices there
    are), else "cpu" for each."""
    if device_type(device) != "cuda":
        return ["cpu"] * workers
    count = torch.cuda.device_count()
    if workers > count:
        raise NSTError(f"--workers {workers}: there are {count} CUDA devices here, and a worker needs one of its own")
    return [f"cuda:{k}" for k in range(workers)]


def run_pair(pair: Pair, out: Path, settings: Settings, extractor: VGGFeatures, *, progress: bool = False) -> Outcome:
    """Make `pair`'s PNG in `out` with its recipe, unless it is there already (same settings,
    inputs, network, every step done: "kept"); a bad input or a run the library refuses is
    "failed"."""
    try:
        request = Request(pair.photo, pair.painting, settings)
        png = out / pair.name
        if _finished(png, request, extractor):
            return Outcome(pair, "kept")
        result = stylize(request, extractor=extractor, progress=progress)
    except NSTError as exc:
        return Outcome(pair, "failed", str(exc))
    save_with_recipe(result.image, png, recipe_of(result.record, request))
    return Outcome(pair, "made")


def _finished(png: Path, request: Request, extractor: VGGFeatures) -> bool:
    """Whether `png` is this run's result already: the recipe it carries names the same
    settings, inputs and network, and every step done."""
    if not png.is_file():
        return False
    try:
        recipe = read_recipe(png)
    except NSTError:  # not ours, or damaged: made again
        return False
    run = recipe.run
    return (run.settings == request.settings and recipe.inputs == inputs_of(request)
            and run.network_source == extractor.source and run.steps_done == run.settings.steps)


def run_batch(batch: Batch, *, workers: int = 1, progress: bool = True,
              report: Report | None = None) -> list[Outcome]:
    """Run every pair of `batch` (see the module's docstring); one `Outcome` per pair, in order.

    Every image is checked first (its header): an unreadable one is reported once through
    `report` (default: a line on stderr) and its pairs fail without running. The index is
    rewritten after every pair and, also when interrupted, the contact sheet at the end.
    """
    report = report or _to_stderr
    batch.out.mkdir(parents=True, exist_ok=True)
    bad = _unreadable(batch.pairs, report)
    outcomes = {pair: Outcome(pair, "failed", bad[pair.photo]) if pair.photo in bad
                else Outcome(pair, "failed", bad[pair.painting]) if pair.painting in bad
                else Outcome(pair, "pending") for pair in batch.pairs}
    todo = [pair for pair, outcome in outcomes.items() if outcome.status == "pending"]
    _write_index(batch, outcomes.values())
    try:
        with tqdm(total=len(batch.pairs), initial=len(batch.pairs) - len(todo), unit="pair",
                  disable=not progress) as bar:
            for outcome in _outcomes(batch, todo, workers, progress):
                outcomes[outcome.pair] = outcome
                if outcome.status == "failed":
                    report(f"{outcome.pair.photo.name} × {outcome.pair.painting.name}: {outcome.error}")
                _write_index(batch, outcomes.values())
                bar.update(1)
    finally:
        _write_index(batch, outcomes.values())
        save_png(contact_sheet(batch, outcomes.values()), batch.out / CONTACT_SHEET)
    return list(outcomes.values())


def _to_stderr(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def _unreadable(pairs: Iterable[Pair], report: Report) -> dict[Path, str]:
    """Each input that cannot be read (`check_image_file`), reported once: path → why."""
    bad: dict[Path, str] = {}
    for path, kind in dict.fromkeys((p, k) for pair in pairs for p, k in ((pair.photo, "photo"),
                                                                          (pair.painting, "painting"))):
        try:
            check_image_file(path, name=f"{kind} {path}")
        except NSTError as exc:
            bad[path] = str(exc)
            report(f"skipped: {exc}")
    return bad


def _outcomes(batch: Batch, todo: list[Pair], workers: int, progress: bool) -> Iterator[Outcome]:
    """The outcome of each pair in `todo`, in this process or in `workers` processes (in the
    order they finish)."""
    if not todo:
        return
    if workers <= 1:
        extractor = load_extractor(batch.network, pooling=batch.settings.pooling, device=batch.device)
        for pair in todo:
            yield run_pair(pair, batch.out, batch.settings, extractor, progress=progress)
        return
    workers = min(workers, len(todo))
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked process
    devices = context.Queue()
    for device in worker_devices(batch.device, workers):
        devices.put(device)
    threads = max(1, torch.get_num_threads() // workers)
    # Leaving the block terminates the workers: Ctrl-C stops them at once (the parent writes the index).
    with context.Pool(workers, _start_worker, (batch.network, batch.settings.pooling, devices, threads)) as pool:
        yield from pool.imap_unordered(_worker_pair, [(pair, batch.out, batch.settings) for pair in todo])


_WORKER: dict[str, Any] = {}  # a worker process's extractor, or why it has none


def _start_worker(network: str, pooling: str, devices: Any, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    device = devices.get()
    if device == "cpu":
        torch.set_num_threads(threads)
    try:
        _WORKER["extractor"] = load_extractor(network, pooling=pooling, device=device)
    except NSTError as exc:  # kept, not raised: a pool would start the failing worker again and again
        _WORKER["error"] = str(exc)


def _worker_pair(job: tuple[Pair, Path, Settings]) -> Outcome:
    pair, out, settings = job
    if "error" in _WORKER:
        return Outcome(pair, "failed", _WORKER["error"])
    return run_pair(pair, out, settings, _WORKER["extractor"])


def _write_index(batch: Batch, outcomes: Iterable[Outcome]) -> None:
    """`index.json`: the settings, the contact sheet, and every pair with its status, written whole."""
    index = {"settings": dataclasses.asdict(batch.settings), "contact_sheet": CONTACT_SHEET,
             "pairs": [{"photo": str(o.pair.photo), "painting": str(o.pair.painting), "output": o.pair.name,
                        "status": o.status, "error": o.error} for o in outcomes]}
    tmp = batch.out / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, batch.out / INDEX)


def contact_sheet(batch: Batch, outcomes: Iterable[Outcome]) -> Image.Image:
    """Photos as rows, paintings as columns, each labelled with its file name: the top row
    shows the paintings, the left column the photos, and each cell the pair's result (a
    grey tile where there is none)."""
    results = {(o.pair.photo, o.pair.painting): batch.out / o.pair.name for o in outcomes
               if o.status in ("made", "kept")}
    photos = list(dict.fromkeys(pair.photo for pair in batch.pairs))
    paintings = list(dict.fromkeys(pair.painting for pair in batch.pairs))
    tile = max(_TILE_MIN, min(_TILE_MAX, batch.settings.size, _SHEET_MAX // (1 + max(len(photos), len(paintings)))))
    corner = Image.new("RGB", (tile, tile), "white")  # not a missing result, which is grey
    tiles = [[corner, *(_thumbnail(p, tile) for p in paintings)]]
    tiles += [[_thumbnail(photo, tile), *(_thumbnail(results[(photo, p)], tile) if (photo, p) in results else None
                                          for p in paintings)] for photo in photos]
    return make_grid(tiles, ["paintings", *(p.name for p in photos)], ["photos", *(p.name for p in paintings)], tile)


def _thumbnail(path: Path, tile: int) -> Image.Image | None:
    """The image at `path` at long edge `tile` (a large batch holds only these), or None when unreadable."""
    try:
        return resize_long_edge(load_image(path), tile)
    except NSTError:  # an unreadable input: its tile stays grey
        return None
