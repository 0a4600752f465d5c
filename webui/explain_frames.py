"""The "Why it works" tab's tables: results of `nst.explain` as DataFrames, and the drawn points back.

Every builder returns the columns of its `*_COLUMNS` constant, which the tab's plots and
tables are laid out for; `empty_frame` gives the same columns without rows, typed, for
when there is nothing to show. `table_points` reads the playground's editable table of
drawn points in any form a Gradio Dataframe hands it over.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from nst import explain
from nst.errors import NSTError
from nst.explain import IdentityCheck

from .text import TOY_GAP_TITLES

__all__ = [
    "TOY_POINT_COLUMNS",
    "TOY_GAP_COLUMNS",
    "TOY_STAT_COLUMNS",
    "DRAWN_COLUMNS",
    "IDENTITY_COLUMNS",
    "PROJECTION_COLUMNS",
    "CHANNEL_COLUMNS",
    "DISTANCE_COLUMNS",
    "SOURCE",
    "TARGET",
    "START",
    "TOY_COLORS",
    "GAP_COLORS",
    "IMAGE_COLORS",
    "GAP_CEILING",
    "toy_points_frame",
    "toy_gaps_frame",
    "toy_stats_frame",
    "drawing_frame",
    "table_points",
    "identity_frame",
    "projection_frame",
    "channel_frame",
    "distance_frame",
    "empty_frame",
]

TOY_POINT_COLUMNS = ["x", "y", "cloud"]
TOY_GAP_COLUMNS = ["step", "gap", "statistic"]
TOY_STAT_COLUMNS = ["cloud", *explain.TOY_STATS]
DRAWN_COLUMNS = ["x", "y"]
IDENTITY_COLUMNS = ["layer", "N", "positions (image)", "positions (style)", "positions used",
                    "Gram loss E", "MMD² (kernel sums)", "MMD² / E", "4N²"]
PROJECTION_COLUMNS = ["PC 1", "PC 2", "image"]
CHANNEL_COLUMNS = ["bar", "channel", "image", "mean", "std"]
DISTANCE_COLUMNS = ["method", "layer", "content vs style", "result vs style", "result / content"]
_TEXT_COLUMNS = {"layer", "method", "image", "cloud", "statistic", "bar", "positions used"}

SOURCE, TARGET, START = "source (moving)", "target", "source at the start"
TOY_COLORS = {TARGET: "#f59e0b", SOURCE: "#2563eb", START: "#cbd5e1"}
GAP_COLORS = dict(zip(TOY_GAP_TITLES.values(), ("#2563eb", "#16a34a", "#9333ea", "#dc2626", "#f59e0b")))
IMAGE_COLORS = {"content": "#2563eb", "style": "#f59e0b", "result": "#16a34a"}
# Gaps above this multiple of their starting value leave the plot (poly can make spreads worse).
GAP_CEILING = 1.6


# ----- the 2-D playground

def toy_points_frame(start: torch.Tensor, now: torch.Tensor, target: torch.Tensor) -> pd.DataFrame:
    """Columns `TOY_POINT_COLUMNS`: every point of the three clouds, each `(2, M)`."""
    parts = [(START, start), (TARGET, target), (SOURCE, now)]
    frames = [pd.DataFrame({"x": p[0].numpy(), "y": p[1].numpy(), "cloud": name}) for name, p in parts]
    return pd.concat(frames, ignore_index=True)[TOY_POINT_COLUMNS]


def toy_gaps_frame(history: Sequence[tuple[int, dict[str, float]]]) -> pd.DataFrame:
    """Columns `TOY_GAP_COLUMNS`: each gap of `nst.explain.toy_gaps` as a fraction of its value at the start.

    `history` holds (step, gaps) pairs, the first at the start. A gap that was already
    (nearly) zero at the start is left out.
    """
    first = history[0][1]
    scale = max(first.values())
    rows = [(step, min(gaps[key] / first[key], GAP_CEILING + 0.05), TOY_GAP_TITLES[key])
            for key in explain.TOY_GAPS if first[key] > 1e-3 * scale
            for step, gaps in history]
    return pd.DataFrame(rows, columns=TOY_GAP_COLUMNS)


def toy_stats_frame(now: torch.Tensor, target: torch.Tensor) -> pd.DataFrame:
    """Columns `TOY_STAT_COLUMNS`: means, spreads and second moments of the two clouds `(2, ·)`, rounded."""
    rows = [{"cloud": name, **{k: round(v, 3) for k, v in explain.toy_stats(p).items()}}
            for name, p in ((TARGET, target), (SOURCE, now))]
    return pd.DataFrame(rows, columns=TOY_STAT_COLUMNS)


def drawing_frame(points: torch.Tensor) -> pd.DataFrame:
    """Columns `DRAWN_COLUMNS`: points `(2, K)` as rows to edit, to three decimals."""
    return pd.DataFrame(points.T.numpy(), columns=DRAWN_COLUMNS).round(3)


def _blank(cell: object) -> bool:
    """An empty table cell: None, blank text, or the NaN a table gives a new row."""
    return cell is None or str(cell).strip() in ("", "nan", "NaN", "None")


def _rows(table: Any) -> list[Sequence[object]]:
    """The rows of a Dataframe value: a DataFrame, a list of rows, or the API's {"headers", "data"}."""
    if isinstance(table, pd.DataFrame):
        return table.values.tolist()
    if isinstance(table, dict):
        return table.get("data") or []
    return list(table or [])


def table_points(table: Any) -> torch.Tensor:
    """Points `(2, K)` from a table of (x, y) rows, checked by `nst.explain.drawn_points`.

    Blank rows (a table's new, empty rows) are skipped; any other row must hold two
    numbers, else `NSTError` names its row.
    """
    points: list[tuple[float, float]] = []
    for i, row in enumerate(_rows(table), start=1):
        cells = [c for c in row if not _blank(c)]
        if not cells:
            continue
        try:
            points.append((float(cells[0]), float(cells[1])))
        except (IndexError, TypeError, ValueError):
            raise NSTError(f"drawn points: row {i} is not two numbers") from None
    return explain.drawn_points(torch.tensor(points, dtype=torch.float32).reshape(-1, 2).T)


# ----- real features

def _fmt(value: float) -> float:
    """Four significant digits, as a number (the table stays sortable)."""
    return float(f"{value:.4g}") if math.isfinite(value) else value


def identity_frame(checks: Sequence[IdentityCheck]) -> pd.DataFrame:
    """Columns `IDENTITY_COLUMNS`, one row per layer."""
    rows = [[c.layer, c.channels, c.positions_image, c.positions_style,
             "all" if (c.used_image, c.used_style) == (c.positions_image, c.positions_style)
             else f"random {c.used_image} / {c.used_style}",
             _fmt(c.gram_loss), _fmt(c.mmd2), round(c.ratio, 3), c.constant] for c in checks]
    return pd.DataFrame(rows, columns=IDENTITY_COLUMNS)


def projection_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `PROJECTION_COLUMNS` from `nst.explain.pca_projection` rows."""
    frame = pd.DataFrame(list(rows), columns=["pc1", "pc2", "image"])
    return frame.rename(columns={"pc1": "PC 1", "pc2": "PC 2"})[PROJECTION_COLUMNS]


def channel_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `CHANNEL_COLUMNS` from `nst.explain.channel_stats` rows; `bar` labels sort by rank."""
    frame = pd.DataFrame(list(rows), columns=["rank", "channel", "image", "mean", "std"])
    frame["bar"] = [f"{r:02d}·c{c} {i}" for r, c, i in zip(frame["rank"], frame["channel"], frame["image"])]
    return frame[CHANNEL_COLUMNS]


def distance_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Columns `DISTANCE_COLUMNS` from `nst.explain.distance_rows` rows (labels "content", "result")."""
    out = []
    for row in rows:
        before, after = row.get("content", np.nan), row.get("result", np.nan)
        ratio = after / before if np.isfinite(before) and np.isfinite(after) and before > 0 else np.nan
        out.append([row["method"], row["layer"], _fmt(before), _fmt(after), round(ratio, 3)])
    return pd.DataFrame(out, columns=DISTANCE_COLUMNS)


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """No rows, but `columns` typed (text or float), so an emptied table keeps its kinds of values."""
    return pd.DataFrame({c: pd.Series(dtype=str if c in _TEXT_COLUMNS else float) for c in columns})
