"""Every distance on one photo and painting at once, with a measured map of what each trades.

The paper's claim is that Gram matching is one distribution distance among several, and
that they transfer style differently. `iter_explore` renders one small cell per distance
(`method_cells`: every registered method at its default γ, and optionally the paper's two
fusions) or one method over a strip of γ (`gamma_cells`), all from one `Request` decoded
once, and measures each result with `nst.yardstick` (on the independent judge network
when one is given). `map_sentence` says which cell keeps the most of the photo at a given
level of style; `explore_grid` and `scatter_png` draw what the CLI writes and the app shows.

A cell's budget (`PREVIEW`) was chosen so that the six methods at 128 px finish within a
minute on two CPU cores (README "Explore").
"""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from PIL import Image

from .config import Settings
from .features import VGGFeatures
from .methods import METHODS, get_method
from .paper.grid import make_grid
from .request import Request
from .stylize import iter_stylize
from .yardstick import Yardstick, measure

__all__ = ["PREVIEW", "FUSIONS", "GAMMA_STRIP", "ExploreCell", "Explored", "preview_settings", "method_cells",
           "gamma_cells", "iter_explore", "explore_figures", "map_sentence", "explore_grid", "scatter_png"]

# Long edge and steps of a preview cell, by device type: two scales on a CPU (64 → 128 px).
PREVIEW: dict[str, dict[str, int]] = {"cpu": {"size": 128, "steps": 60}, "cuda": {"size": 256, "steps": 100}}
# The paper's two fusions (its Figure 4), half and half.
FUSIONS: tuple[tuple[tuple[str, float], ...], ...] = ((("bn", 0.5), ("poly", 0.5)), (("linear", 0.5), ("gaussian", 0.5)))
# A γ strip: these multiples of the method's default γ.
GAMMA_STRIP: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class ExploreCell:
    """One cell of the grid: its label and the settings it runs with."""

    label: str
    settings: Settings


@dataclass(frozen=True)
class Explored:
    """A finished cell: its image, its yardstick and how long it took."""

    cell: ExploreCell
    image: Image.Image
    yardstick: Yardstick
    seconds: float


def preview_settings(device_type: str, **changes: Any) -> Settings:
    """The settings every cell starts from on a device of `device_type`: `PREVIEW`'s size
    and steps (a CPU's on anything but CUDA), coarse to fine on a CPU, and `changes`."""
    preview = PREVIEW["cuda" if device_type == "cuda" else "cpu"]
    return Settings(**{**preview, **changes}).on_device(device_type)


def method_cells(base: Settings, *, fusions: bool = False) -> list[ExploreCell]:
    """Every registered method at its default γ, then (with `fusions`) the paper's two fusions."""
    cells = [ExploreCell(name, base.replace(method=name, fusion=(), gamma=None)) for name in METHODS]
    if fusions:
        cells += [ExploreCell(" + ".join(m for m, _ in pair), base.replace(fusion=pair, gamma=None)) for pair in FUSIONS]
    return cells


def gamma_cells(base: Settings, method: str) -> list[ExploreCell]:
    """`method` at each `GAMMA_STRIP` multiple of its default γ."""
    default = get_method(method).default_gamma
    return [ExploreCell(f"{method}, γ {default * k:g}", base.replace(method=method, fusion=(), gamma=default * k))
            for k in GAMMA_STRIP]


def iter_explore(request: Request, cells: Sequence[ExploreCell], extractor: VGGFeatures,
                 judge: VGGFeatures | None = None) -> Iterator[Explored | None]:
    """Render each cell from `request`'s inputs (decoded once) on `extractor` and measure it
    on `judge` (default: `extractor`). Yields None after every optimizer step, where a caller
    may stop, and an `Explored` when a cell is finished."""
    judge = judge or extractor
    for cell in cells:
        run = request.with_settings(cell.settings)
        start, last = time.perf_counter(), None
        for step in iter_stylize(run, extractor=extractor):
            last = step
            if step.step < step.steps:
                yield None
        size = cell.settings.size
        photo, paintings, _ = run.at(size, judge.device)
        result = last.image.to(judge.device)
        yield Explored(cell, last.pil(), measure(judge, photo, paintings[0], result), time.perf_counter() - start)


def explore_figures(done: Sequence[Explored], judged_on: str) -> list[dict[str, Any]]:
    """One JSON row per finished cell: its label, settings, three measures, seconds, and the
    network the measures were taken on."""
    return [{"label": d.cell.label, "settings": dataclasses.asdict(d.cell.settings), "gamma": d.cell.settings.gamma_used(),
             "gram_gap_closed": round(d.yardstick.gram_gap_closed, 4),
             "colour_gap_closed": round(d.yardstick.colour_gap_closed, 4),
             "content_change": round(d.yardstick.content_change, 4), "seconds": round(d.seconds, 2),
             "judged_on": judged_on} for d in done]


def map_sentence(done: Sequence[Explored]) -> str:
    """Which cell keeps the most of the photo among those that carry at least the median
    share of the style (Gram gap closed), in one sentence."""
    if not done:
        return ""
    closed = sorted(d.yardstick.gram_gap_closed for d in done)
    median = closed[(len(closed) - 1) // 2]
    styled = [d for d in done if d.yardstick.gram_gap_closed >= median]
    best = min(styled, key=lambda d: d.yardstick.content_change)
    return (f"Of the cells that close at least {median:.2f} of the Gram gap (the median), {best.cell.label} keeps "
            f"the most of the photo: content change {best.yardstick.content_change:.2f}, Gram gap closed "
            f"{best.yardstick.gram_gap_closed:.2f}.")


def explore_grid(photo: Image.Image, painting: Image.Image, done: Sequence[Explored], footer: str = "",
                 tile: int = 160) -> Image.Image:
    """One labelled row: the photo, the painting, then each cell under its label and its
    Gram gap closed (G) and content change (C)."""
    labels = ["photo", "painting", *(f"{d.cell.label}\nG {d.yardstick.gram_gap_closed:.2f} "
                                     f"C {d.yardstick.content_change:.2f}" for d in done)]
    return make_grid([[photo, painting, *(d.image for d in done)]], [""], labels, tile, footer=footer)


def scatter_png(done: Sequence[Explored], judged_on: str) -> bytes:
    """The measured map as a PNG: content change (x) against Gram gap closed (y), one
    labelled point per cell, coloured by the colour gap closed."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the figure is written to bytes
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    try:
        x = [d.yardstick.content_change for d in done]
        y = [d.yardstick.gram_gap_closed for d in done]
        points = ax.scatter(x, y, c=[d.yardstick.colour_gap_closed for d in done], cmap="viridis", s=60,
                            edgecolors="black")
        for d, xi, yi in zip(done, x, y):
            ax.annotate(d.cell.label, (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=9)
        fig.colorbar(points, ax=ax, label="colour gap closed")
        ax.set_xlabel("content change (less keeps more of the photo)")
        ax.set_ylabel("Gram gap closed (more style)")
        ax.set_title(f"What each distance trades, measured on\n{judged_on}", fontsize=10)
        ax.margins(0.15)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
