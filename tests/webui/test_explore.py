"""The Explore tab's handlers in process: cells streamed from one job, the map's figures, and a
picked cell turned into the Stylize tab's controls. Runs use the installed network at a few pixels."""

from __future__ import annotations

import dataclasses

import gradio as gr
import pandas as pd
import pytest
from PIL import Image

from nst import METHODS, explore
from webui.controls import Controls
from webui.explore_handlers import MAP_COLUMNS, Explorer, cell_in_range, judge_network
from webui.model import SharedModel


@pytest.fixture
def tiny_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells of 32 px and 2 steps, so that the six methods run in seconds."""
    monkeypatch.setitem(explore.PREVIEW, "cpu", {"size": 32, "steps": 2})


def test_explore_streams_every_method_and_ends_with_the_grid_and_the_map(tiny_preview, content_path, style_path):
    shown = list(Explorer(SharedModel("auto", "cpu")).explore(str(content_path), str(style_path)))
    assert shown[0]["gallery"] == [] and [len(s["gallery"]) for s in shown[1:-1]] == list(range(1, len(METHODS) + 1))
    last = shown[-1]
    assert isinstance(last["grid"], Image.Image) and last["grid"].width > len(METHODS) * 100
    assert [caption.split(":")[0] for _, caption in last["gallery"]] == list(METHODS)
    points = last["map"]["value"]
    assert isinstance(points, pd.DataFrame) and list(points.columns) == MAP_COLUMNS
    assert list(points["cell"]) == list(METHODS)
    assert [f["content_change"] for f in last["figures"]] == pytest.approx(list(points["content change"]), abs=1e-4)
    (x_low, x_high), (y_low, y_high) = last["map"]["x_lim"], last["map"]["y_lim"]  # no point on a border
    assert x_low < points["content change"].min() <= points["content change"].max() < x_high
    assert y_low < points["Gram gap closed"].min() <= points["Gram gap closed"].max() < y_high
    assert last["map_png"].format == "PNG" and last["map_png"].width >= 400
    judged = last["figures"][0]["judged_on"]
    assert ("VGG-16" in judged) == (judge_network() is not None) and judged in last["status"]
    assert last["sentence"].startswith("Of the cells that close at least")


def test_a_gamma_strip_and_bad_requests(tiny_preview, content_path, style_path):
    explorer = Explorer(SharedModel("auto", "cpu"))
    cells = explorer.cells("gamma", "bn")
    assert [c.settings.gamma for c in cells] == [METHODS["bn"].default_gamma * k for k in explore.GAMMA_STRIP]
    with pytest.raises(gr.Error, match="choose a photo and a painting first"):
        next(explorer.explore(None, str(style_path)))
    with pytest.raises(gr.Error, match="mode: 'all' is not one of methods, fusions, gamma"):
        next(explorer.explore(str(content_path), str(style_path), mode="all"))


def test_a_picked_cell_becomes_the_stylize_controls_at_the_page_s_full_size():
    model = SharedModel("auto", "cpu")
    cell = explore.method_cells(explore.preview_settings("cpu"), fusions=True)[-1]  # linear + gaussian
    cells = [{"settings": dataclasses.asdict(cell.settings), "content_change": 0.5}]
    shown = Explorer(model).pick("photo.jpg", "painting.jpg", cells, 0)
    assert (shown["content"], shown["style"]) == ("photo.jpg", "painting.jpg") and "mask" not in shown
    settings = Controls(**{k: v for k, v in shown.items() if k not in ("content", "style")}).to_settings()
    assert settings.fusion == (("linear", 0.5), ("gaussian", 0.5))
    assert (settings.size, settings.steps) == (model.defaults["size"], model.defaults["steps"])
    assert settings.gamma == pytest.approx(cell.settings.gamma_used())


def test_a_dragged_range_of_the_map_opens_the_point_nearest_its_middle():
    cells = [{"content_change": x} for x in (0.2, 0.5, 0.55, 0.9)]
    assert cell_in_range(cells, 0.5, 0.6) == 2 and cell_in_range(cells, 0.4, 0.6) == 1
    assert cell_in_range(cells, 0.6, 0.8) is None and cell_in_range(cells, 0.0, 1.0) == 1
