"""One cell: rendering it, its record, and finding it once it is finished.

A finished cell is a PNG with a JSON record beside it (`fig<N>/r<i>_c<j>.png` and
`.json` in an output folder): where the cell sits in its figure, a hash of its parameters
and input images, its first losses and the highest total seen, and under "run" the run's
`nst.RunRecord` (settings, final losses, seconds, device, network and where its weights came from).
`find_cell` is the one reader of that format; the figure runner's `--resume` and the app
both look cells up through it.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import NSTError
from ..features import VGGFeatures
from ..images import save_png
from ..record import RunRecord, read_json, run_record
from ..request import Request
from ..stylize import Step, iter_stylize
from .manifest import Cell

__all__ = ["RECORD_VERSION", "CELL_KEYS", "RenderedCell", "CellProgress", "cell_hash", "inputs_hash", "find_cell",
           "iter_render_cell", "render_cell"]

# Bump when the meaning of a hash changes: old cells then re-render. A record of another
# layout is not found either (`find_cell`), so it re-renders too.
RECORD_VERSION = 1
# The keys of a cell's record besides "run".
CELL_KEYS = ("figure", "row", "column", "row_label", "column_label", "hash", "first_losses", "peak_total")


@dataclass(frozen=True)
class RenderedCell:
    """A finished cell: its PNG and the JSON record written beside it."""

    png: Path
    record: dict[str, Any]

    @property
    def run(self) -> RunRecord:
        """The run that made it (`find_cell` checked it)."""
        return RunRecord.from_dict(self.record["run"])

    @property
    def network_source(self) -> str:
        """Where the weights that made it came from (`VGGFeatures.source`)."""
        return self.run.network_source


@dataclass(frozen=True)
class CellProgress:
    """Where the rendering of one cell stands: the optimizer `step` just taken and,
    after the last one, the finished cell (`done`)."""

    step: Step
    rendered: RenderedCell | None = None

    @property
    def done(self) -> bool:
        return self.rendered is not None


@functools.lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def cell_hash(cell: Cell) -> str:
    """Hash of everything that decides a cell's image except the weights: its full
    `Settings` and the bytes of both input images (so a changed file re-renders)."""
    return inputs_hash(dataclasses.asdict(cell.settings), cell.content, cell.style)


def inputs_hash(settings: dict[str, Any], content: Path, style: Path) -> str:
    """`cell_hash` of settings given as a dict (as a record of any layout holds them)."""
    payload = {"version": RECORD_VERSION, "settings": settings,
               "content": _file_digest(content), "style": _file_digest(style)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def find_cell(cell: Cell, folder: str | os.PathLike, *, network_source: str | None = None,
              prerendered: str | os.PathLike | None = None) -> RenderedCell | None:
    """The finished rendering of `cell`, or None.

    Looked up first in `prerendered` (when given), made at whatever size and steps the
    runner used there, then in `folder` at the cell's own size and steps. A record
    matches when its hash is the cell's and, when `network_source` is given, it names it.
    """
    found = _finished(cell, Path(prerendered), network_source, any_run=True) if prerendered is not None else None
    return found or _finished(cell, Path(folder), network_source, any_run=False)


def _finished(cell: Cell, folder: Path, network_source: str | None, *, any_run: bool) -> RenderedCell | None:
    png, record_path = cell.png(folder), cell.record_path(folder)
    if not png.is_file() or not record_path.is_file():
        return None
    try:
        record = read_json(record_path, name="cell record")
        run = _check_record(record)
    except NSTError:  # not one of ours, or of an older layout
        return None
    if any_run:
        cell = cell.with_run(run.settings.size, run.settings.steps)
    if record["hash"] != cell_hash(cell) or (network_source is not None and run.network_source != network_source):
        return None
    return RenderedCell(png, record)


def _check_record(record: Any) -> RunRecord:
    """The run of a cell's record; `NSTError` when it is not a cell's record."""
    if not isinstance(record, dict) or set(record) != {*CELL_KEYS, "run"}:
        raise NSTError(f"a cell record has the keys {', '.join(CELL_KEYS)} and run")
    return RunRecord.from_dict(record["run"])


def iter_render_cell(cell: Cell, folder: str | os.PathLike, extractor: VGGFeatures) -> Iterator[CellProgress]:
    """Render `cell`, reporting every optimizer step; after the last one, write the PNG
    and its JSON record into `folder` and report once more, `done`.

    Each file is written whole, then renamed, so an interrupted run never leaves a
    half-written cell that looks finished.
    """
    if extractor.pooling != cell.settings.pooling:
        raise NSTError(f"{cell.name} needs a network with {cell.settings.pooling} pooling; "
                       f"the extractor has {extractor.pooling}")
    inputs = Request(_display(cell.content), _display(cell.style), cell.settings)
    first: Step | None = None
    last: Step | None = None
    peak = float("-inf")
    for last in iter_stylize(inputs, extractor=extractor):
        first = first or last
        peak = max(peak, last.losses["total"])
        yield CellProgress(last)
    assert first is not None and last is not None  # Settings enforces steps >= 1
    png = cell.png(folder)
    os.replace(save_png(last.pil(), png.with_name(f".{png.name}.tmp")), png)
    run = run_record(inputs, extractor, steps_done=last.step, final_losses=last.losses, seconds=last.elapsed,
                     output=png.name)
    text = json.dumps(_record(cell, first, peak, run), indent=2, ensure_ascii=False) + "\n"
    tmp = png.with_name(f".{png.stem}.json.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, cell.record_path(folder))
    yield CellProgress(last, RenderedCell(png, json.loads(text)))  # as `find_cell` reads it: lists, not tuples


def render_cell(cell: Cell, folder: str | os.PathLike, extractor: VGGFeatures) -> RenderedCell:
    """Render `cell` into `folder` (see `iter_render_cell`) and return it finished."""
    last = collections.deque(iter_render_cell(cell, folder, extractor), maxlen=1)[0]
    assert last.rendered is not None  # iter_render_cell always ends done
    return last.rendered


def _record(cell: Cell, first: Step, peak: float, run: RunRecord) -> dict[str, Any]:
    """The JSON record of a finished cell: its place in the figure, its hash, and its `run`;
    `first_losses` and `peak_total` (the highest total seen) show whether the loss went
    down throughout."""
    return {"figure": cell.figure, "row": cell.row, "column": cell.column, "row_label": cell.row_label,
            "column_label": cell.column_label, "hash": cell_hash(cell), "first_losses": first.losses,
            "peak_total": peak, "run": run.to_dict()}


def _display(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it (records stay
    portable between checkouts), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
