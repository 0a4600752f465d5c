"""Rendering a figure: every cell (or those already finished, with `resume`), then its grid."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from ..features import VGGFeatures
from ..images import load_image, save_png
from .cells import RenderedCell, find_cell, render_cell
from .grid import figure_grid, grid_footer
from .manifest import Cell, Manifest

__all__ = ["FigureRun", "render_figure"]


@dataclass(frozen=True)
class FigureRun:
    """What `render_figure` produced: the grid image and every cell, `rendered` of them just now."""

    figure: str
    grid: Path
    cells: tuple[RenderedCell, ...]
    rendered: int

    @property
    def records(self) -> list[dict[str, Any]]:
        return [cell.record for cell in self.cells]


def render_figure(manifest: Manifest, cells: Sequence[Cell], folder: str | os.PathLike, extractor: VGGFeatures, *,
                  resume: bool = False, progress: bool = True) -> FigureRun:
    """Render `cells` (one figure's, from `figure_cells`) into `folder` with a tqdm bar
    over cells, then draw its labelled grid: `fig<N>/grid.png` for the whole figure,
    `grid_rows…_cols….png` for a subset. With `resume`, a cell that `find_cell` finds
    finished with these weights is kept, not rendered again."""
    figure = cells[0].figure
    finished, rendered = [], 0
    bar = tqdm(cells, desc=f"figure {figure}", unit="cell", disable=not progress)
    for cell in bar:
        bar.set_postfix_str(cell.name)
        done = find_cell(cell, folder, network_source=extractor.source) if resume else None
        if done is None:
            done = render_cell(cell, folder, extractor)
            rendered += 1
        finished.append(done)
    spec = manifest.figure(figure)
    grid = figure_grid(spec, cells, [load_image(done.png) for done in finished], grid_footer(cells, extractor))
    path = save_png(grid, Path(folder) / f"fig{figure}" / _grid_name(spec, cells))
    return FigureRun(figure, path, tuple(finished), rendered)


def _grid_name(spec: dict[str, Any], cells: Sequence[Cell]) -> str:
    if len(cells) == len(spec["rows"]) * len(spec["columns"]):
        return "grid.png"
    rows = "-".join(map(str, dict.fromkeys(c.row for c in cells)))
    columns = "-".join(map(str, dict.fromkeys(c.column for c in cells)))
    return f"grid_rows{rows}_cols{columns}.png"
