"""The figure manifest and the cells it defines.

A manifest (`examples/paper/figures.json` in a checkout) defines every figure as data:
caption, row and column labels, images, and every cell's parameters as
`nst.config.Settings` fields, merged figure → row → column → the row's per-column
`cells` entry. Image paths in it are relative to the manifest's folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..config import Settings
from ..errors import NSTError

__all__ = ["MANIFEST_PATH", "IMAGE_KEYS", "Manifest", "Cell", "load_manifest", "figure_cells"]

# Where a checkout keeps the paper's manifest, relative to the checkout's root.
MANIFEST_PATH = Path("examples") / "paper" / "figures.json"
IMAGE_KEYS = ("content", "style")


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
    """One stylization of a figure: where it sits, its inputs (absolute paths) and its `Settings`."""

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

    def png(self, folder: str | os.PathLike) -> Path:
        """Where the cell's image lies in an output folder: `fig<N>/r<i>_c<j>.png`."""
        return Path(folder) / f"fig{self.figure}" / f"{self.name}.png"

    def record_path(self, folder: str | os.PathLike) -> Path:
        """The JSON record beside the cell's image."""
        return self.png(folder).with_suffix(".json")

    def with_run(self, size: int, steps: int) -> Cell:
        """The same cell rendered at another size and number of steps."""
        return Cell(self.figure, self.row, self.column, self.row_label, self.column_label, self.content,
                    self.style, self.settings.replace(size=size, steps=steps))


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate the manifest at `path`.

    Checks that every figure has a caption, labelled rows and columns, input images
    that exist, and that every cell's parameters build a valid `Settings`.
    """
    path = Path(path)
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
    bad = [c for c in spec.get("input_columns", []) if c not in IMAGE_KEYS]
    if bad:
        raise NSTError(f"figure {figure}: input column {bad[0]!r} is not one of {', '.join(IMAGE_KEYS)}")
    for i, row in enumerate(spec["rows"]):
        if "cells" in row and len(row["cells"]) != len(spec["columns"]):
            raise NSTError(f"figure {figure}, row {i}: {len(row['cells'])} 'cells' entries for "
                           f"{len(spec['columns'])} columns")
    for cell in figure_cells(manifest, figure):
        for image in (cell.content, cell.style):
            if not image.is_file():
                raise NSTError(f"figure {figure}, {cell.name}: image {str(image)!r} does not exist")


def figure_cells(manifest: Manifest, figure: str | int, size: int | None = None, steps: int | None = None, *,
                 rows: Sequence[int] | None = None, columns: Sequence[int] | None = None,
                 content: str | os.PathLike | None = None, style: str | os.PathLike | None = None) -> list[Cell]:
    """The cells of one figure in row-major order, each with validated `Settings`.

    `size` and `steps` override the manifest (and so `Settings`' defaults) for every
    cell; `rows`/`columns` pick a subset by index; `content`/`style` replace the
    manifest's images in every cell.
    """
    spec = manifest.figure(figure)
    row_ids = _pick(rows, len(spec["rows"]), f"figure {figure} row")
    column_ids = _pick(columns, len(spec["columns"]), f"figure {figure} column")
    run = {k: v for k, v in (("size", size), ("steps", steps)) if v is not None}
    overrides = _image_overrides(content=content, style=style)
    cells = []
    for i in row_ids:
        row = spec["rows"][i]
        images = {**spec.get("images", {}), **row.get("images", {})}
        missing = [k for k in IMAGE_KEYS if k not in images and k not in overrides]
        if missing:
            raise NSTError(f"figure {figure}, row {i}: the manifest gives no {missing[0]} image")
        paths = {k: overrides.get(k) or (manifest.path.parent / images[k]).resolve() for k in IMAGE_KEYS}
        for j in column_ids:
            fields = {**spec.get("settings", {}), **row.get("settings", {}), **spec["columns"][j].get("settings", {}),
                      **(row["cells"][j] if "cells" in row else {}), **run}
            try:
                settings = Settings.from_dict(fields)
            except (NSTError, TypeError) as exc:
                raise NSTError(f"figure {figure}, row {i}, column {j}: {exc}") from None
            cells.append(Cell(str(figure), i, j, row["label"], spec["columns"][j]["label"],
                              paths["content"], paths["style"], settings))
    return cells


def _image_overrides(**images: str | os.PathLike | None) -> dict[str, Path]:
    """The given replacement images, resolved; one that does not exist is refused here, before any work."""
    given = {key: Path(path).resolve() for key, path in images.items() if path is not None}
    for key, path in given.items():
        if not path.is_file():
            raise NSTError(f"{key} image {str(path)!r} does not exist")
    return given


def _pick(indices: Sequence[int] | None, count: int, what: str) -> list[int]:
    if indices is None:
        return list(range(count))
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        raise NSTError(f"{what} {bad[0]} does not exist; valid: 0..{count - 1}")
    return list(dict.fromkeys(indices))
