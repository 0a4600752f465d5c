"""Drawing a figure as the paper lays it out: labelled rows and columns of square tiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from PIL import Image, ImageDraw, ImageFont

from ..errors import NSTError
from ..features import VGGFeatures
from ..images import load_image, resize_long_edge
from .manifest import Cell

__all__ = ["GridLayout", "grid_layout", "make_grid", "figure_grid", "grid_footer"]

# Pillow's built-in font (Aileron) has Latin glyphs only; spelling these out keeps the
# grid identical on every machine instead of depending on installed fonts.
_LATIN_ONLY = str.maketrans({"γ": "gamma", "α": "alpha", "β": "beta", "σ": "sigma", "−": "-", "→": "->"})
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


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
        """`(width, height)` of the sheet, without a footer."""
        return (self.label_width + self.columns * (self.tile + self.gap) + self.gap,
                self.label_height + self.rows * (self.tile + self.gap) + self.gap)

    def tile_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """`(left, top, right, bottom)` of the tile at `row`, `column`."""
        x = self.label_width + self.gap + column * (self.tile + self.gap)
        y = self.label_height + self.gap + row * (self.tile + self.gap)
        return x, y, x + self.tile, y + self.tile


def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


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


def _with_footer(sheet: Image.Image, text: str, font: Font) -> Image.Image:
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


def figure_grid(spec: dict[str, Any], cells: Sequence[Cell], images: Sequence[Image.Image | None],
                footer: str = "") -> Image.Image:
    """The paper-style grid of `cells` (row-major, as `figure_cells` returns them) with
    one image per cell: the figure's input columns (content, style, from the manifest
    entry `spec`) first, then one tile per cell; a missing image (None) leaves a grey
    tile. `footer` goes under the grid."""
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


def grid_footer(cells: Sequence[Cell], extractor: VGGFeatures) -> str:
    """What made a grid: the network and weights, size and steps (one line)."""
    sizes = sorted({c.settings.size for c in cells})
    steps = sorted({c.settings.steps for c in cells})
    return (f"Made with {extractor.label}, {'/'.join(map(str, sizes))} px, {'/'.join(map(str, steps))} steps "
            f"per cell ({extractor.source}).")
