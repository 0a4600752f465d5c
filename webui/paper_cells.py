"""The Paper tab's logic: where its cells are found, rendering one on demand, its handlers.

A cell is shown from the pre-rendered folder when a record there matches it (at
whatever size and steps `python -m nst.paper` made it), else from the cache at this
page's size and steps (`nst.paper.find_cell`). Otherwise a visitor's click renders it
into the cache on the GPU (a `webui.runs.PaperCell` job of the run service), so a
fresh Space fills its galleries as they are visited. `PaperCells` holds the tab's
handlers, `FigureCells` those of one figure's section; both return `{field name: value}`
(see `webui.page`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
from PIL import Image, ImageDraw, ImageFont

from nst.config import field_spec
from nst.errors import NSTError
from nst.paper import MANIFEST_PATH, RENDERED_DIR, Cell, Manifest, RenderedCell, figure_cells, find_cell
from nst.stylize import Step

from .errors import one_line_errors
from .model import SharedModel
from .page import Outputs
from .runs import PaperCell, Runs
from .visitors import Visitors, session_of

__all__ = ["RENDERED_ENV", "CACHE_ENV", "SIZE_ENV", "STEPS_ENV", "PaperPaths", "allowed_paths",
           "one_line", "PaperCells", "FigureCells"]

RENDERED_ENV = "NST_PAPER_RENDERED"
CACHE_ENV = "NST_PAPER_CACHE"
# Size and steps of cells rendered on demand (default: the library's on a GPU, `CPU_CELL` on a CPU).
SIZE_ENV = "NST_PAPER_SIZE"
STEPS_ENV = "NST_PAPER_STEPS"
# The paper's figures are made at one scale, as the paper made them, so a CPU renders them
# smaller than the Stylize tab's coarse-to-fine preset: about 40 s a cell on two cores.
CPU_CELL = {"size": 256, "steps": 100}

# A cell on its way: the optimizer step just taken, or the finished cell.
CellState = Step | RenderedCell


@dataclass(frozen=True)
class PaperPaths:
    """Where the tab finds its manifest, pre-rendered cells and cache, and the
    size and steps of cells rendered on demand (None: the model's page defaults)."""

    manifest: Path
    rendered: Path
    cache: Path
    size: int | None = None
    steps: int | None = None

    @classmethod
    def from_env(cls, root: str | os.PathLike) -> PaperPaths:
        """The checkout at `root`'s paths, each replaced by its `NST_PAPER_*` variable when set;
        the cache defaults to a folder in the temp directory."""
        root = Path(root)
        return cls(manifest=root / MANIFEST_PATH,
                   rendered=Path(os.environ.get(RENDERED_ENV) or root / RENDERED_DIR),
                   cache=Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "nst-mmd-paper"),
                   size=_env_int(SIZE_ENV), steps=_env_int(STEPS_ENV))


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise NSTError(f"${name} must be a whole number, got {text!r}") from None


def allowed_paths(paths: PaperPaths) -> list[str]:
    """Folders the tab serves images from, for `launch(allowed_paths=...)` when they lie
    outside the working directory and the temp folder (Gradio serves those two anyway)."""
    return [str(paths.rendered), str(paths.cache)]


def one_line(text: str) -> str:
    """A label on one line (the manifest breaks long ones for the grid)."""
    return " ".join(text.split())


def _about(cell: Cell, status: str) -> dict[str, Any]:
    """What the page shows of a cell that is not finished: where it stands, and its parameters."""
    return {"status": status, "figure": cell.figure, "row": cell.row_label, "column": cell.column_label,
            "content": cell.content.name, "style": cell.style.name, "settings": dataclasses.asdict(cell.settings)}


class PaperCells:
    """The Paper tab's handlers, bound to the shared model; they return `{field: value}`
    with `image` (a cell's picture) and `record` (its JSON record, or what is known of it)."""

    def __init__(self, model: SharedModel, manifest: Manifest, paths: PaperPaths,
                 visitors: Visitors | None = None) -> None:
        self.model = model
        self.manifest = manifest
        self.paths = paths
        self.runs = Runs(model, visitors)

    @property
    def size(self) -> int:
        """Long edge of cells rendered on demand."""
        return self.paths.size or self._defaults["size"]

    @property
    def steps(self) -> int:
        return self.paths.steps or self._defaults["steps"]

    @property
    def _defaults(self) -> dict[str, int]:
        if self.model.device.type == "cpu":
            return CPU_CELL
        return {"size": field_spec("size")["default"], "steps": field_spec("steps")["default"]}

    def cell(self, figure: str, row: int, column: int) -> Cell:
        """One cell of the manifest at this page's size and steps (`NSTError` for a bad index)."""
        return figure_cells(self.manifest, str(figure), self.size, self.steps, rows=[int(row)],
                            columns=[int(column)])[0]

    def find(self, cell: Cell) -> RenderedCell | None:
        """`cell` finished: pre-rendered at any size and steps, else cached at this page's."""
        return find_cell(cell, self.paths.cache, prerendered=self.paths.rendered)

    def states(self, cell: Cell, request: gr.Request | None = None) -> Iterator[CellState]:
        """`cell` finished, at once when it is (no GPU asked for); else the steps of
        rendering it on the GPU, then the finished cell. A visitor who leaves the page
        stops the render at the current step, and nothing is written."""
        found = self.find(cell)
        if found is not None:
            yield found
            return
        stream = self.runs.stream(self.runs.job(PaperCell(cell, self.paths.cache)), session_of(request))
        with contextlib.closing(stream):  # type: ignore[type-var]
            for progress in stream:
                if progress is not None:
                    yield progress.rendered if progress.done else progress.step

    @staticmethod
    def outputs(cell: Cell, state: CellState) -> Outputs:
        """`image` and `record` of `cell`: the finished ones, or the latest step and where it stands."""
        if isinstance(state, RenderedCell):
            return {"image": str(state.png), "record": state.record}
        return {"image": state.pil(), "record": _about(cell, f"rendering: step {state.step} of {state.steps}")}

    def show(self, figure: str, row: int, column: int, request: gr.Request | None = None) -> Iterator[Outputs]:
        """`/paper_cell`: any cell's image and record, streamed while it renders."""
        with one_line_errors():
            cell = self.cell(figure, row, column)
            for state in self.states(cell, request):
                yield self.outputs(cell, state)

    def gallery(self, figure: str) -> list[tuple[str, str]]:
        """(image, caption) per cell of `figure`, row-major, so a gallery is laid out like the figure."""
        items = []
        for cell in figure_cells(self.manifest, figure, self.size, self.steps):
            found = self.find(cell)
            label = f"{one_line(cell.row_label)} · {one_line(cell.column_label)}"
            if found is None:
                items.append((str(self.placeholder()), f"{label} (not rendered yet)"))
            else:
                test = " (random test weights, not a stylization)" if "random" in found.network_source else ""
                items.append((str(found.png), label + test))
        return items

    def placeholder(self) -> Path:
        """A grey tile saying the cell is not rendered yet (drawn once, into the cache)."""
        path = self.paths.cache / "not_rendered.png"
        if not path.is_file():
            image = Image.new("RGB", (256, 256), (230, 230, 230))
            ImageDraw.Draw(image).multiline_text((128, 128), "not rendered yet\nclick it, then Render",
                                                 fill=(90, 90, 90), font=ImageFont.load_default(size=18),
                                                 anchor="mm", align="center")
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
        return path


class FigureCells:
    """The handlers of one figure's section: its gallery, its Render button, a click in the gallery."""

    def __init__(self, cells: PaperCells, figure: str) -> None:
        self.cells = cells
        self.figure = figure
        self.columns = len(cells.manifest.figure(figure)["columns"])

    def gallery(self) -> Outputs:
        """Every cell of the figure, rendered or a placeholder (refreshed on each page load)."""
        with one_line_errors():
            return {"gallery": self.cells.gallery(self.figure)}

    def render(self, row: int, column: int, request: gr.Request | None = None) -> Iterator[Outputs]:
        """The cell at `row`, `column`, streamed while it renders; once finished, the gallery too."""
        with one_line_errors():
            cell = self.cells.cell(self.figure, row, column)
            for state in self.cells.states(cell, request):
                outputs = self.cells.outputs(cell, state)
                yield outputs | self.gallery() if isinstance(state, RenderedCell) else outputs

    def select(self, evt: gr.SelectData) -> Outputs:
        """A click on gallery tile `evt.index` (row-major): that cell's row, column, image and record."""
        row, column = divmod(evt.index, self.columns)
        with one_line_errors():
            cell = self.cells.cell(self.figure, row, column)
            found = self.cells.find(cell)
        shown = (self.cells.outputs(cell, found) if found is not None
                 else {"image": None, "record": _about(cell, "not rendered yet: press Render")})
        return {"row": row, "column": column, **shown}
