"""Reproducing the paper's four figures from a manifest: `python -m nst.paper FIGURE`.

A figure is a grid of cells, rows × columns; each cell is one stylization. The parts:

- `manifest`: the figures as data (`load_manifest`) and their cells (`figure_cells`);
- `cells`: rendering one cell through `nst.stylize.iter_stylize` into a PNG with a JSON
  record beside it, and `find_cell`, the one lookup of a finished cell (the runner's
  `--resume` and the app both use it);
- `grid`: drawing the labelled grid with Pillow;
- `runner`: rendering a figure's cells, then its grid (`render_figure`);
- `cli`: the command line.

Paths are arguments: `MANIFEST_PATH` and `RENDERED_DIR` say where a checkout keeps the
manifest and the rendered cells, relative to its root.
"""

from .cells import RECORD_VERSION, CellProgress, RenderedCell, cell_hash, find_cell, iter_render_cell, render_cell
from .cli import RENDERED_DIR, build_parser, main
from .grid import GridLayout, figure_grid, grid_footer, grid_layout, make_grid
from .manifest import MANIFEST_PATH, Cell, Manifest, figure_cells, load_manifest
from .runner import FigureRun, render_figure

__all__ = [
    "MANIFEST_PATH",
    "RENDERED_DIR",
    "RECORD_VERSION",
    "Manifest",
    "Cell",
    "RenderedCell",
    "CellProgress",
    "FigureRun",
    "GridLayout",
    "load_manifest",
    "figure_cells",
    "cell_hash",
    "find_cell",
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
