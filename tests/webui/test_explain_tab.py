"""The "Why it works" tab's handlers: documented DataFrame columns, the toy animation's
frames, messages instead of crashes, and the events' API names (no browser). The network
is the fake hub checkpoint of conftest (seeded random weights: test output, never a
stylization)."""

import math

import gradio as gr
import pandas as pd
import pytest
import torch
from PIL import Image

from nst import explain
from nst.config import STYLE_LAYERS
from nst.errors import NSTError
from nst.methods import METHOD_NAMES, METHODS
from tests.paths import EXAMPLES
from webui import explain_frames as frames
from webui import explain_tab as tab
from webui.explain_handlers import Explainer, Playground
from webui.model import SharedModel
from webui.text import TOY_GAP_TITLES

SIZE = 64  # analysis size for tests: every layer down to relu5_1 still has positions


def scatter_frame(update: gr.ScatterPlot) -> pd.DataFrame:
    value = update.value  # the update's postprocessed table: {"columns": [...], "data": [...]}
    return pd.DataFrame(value["data"], columns=value["columns"])


def test_toy_preview_returns_documented_frames():
    outputs = Playground().preview("ring", "moons", None)
    scatter, gaps, stats = outputs["scatter"], outputs["gaps"], outputs["stats"]
    points = scatter_frame(scatter)
    assert list(points.columns) == frames.TOY_POINT_COLUMNS
    assert points["cloud"].value_counts().to_dict() == {frames.START: 200, frames.TARGET: 200, frames.SOURCE: 200}
    x_min, x_max = scatter.x_lim
    assert x_min < points["x"].min() and points["x"].max() < x_max
    assert list(gaps.columns) == frames.TOY_GAP_COLUMNS and set(gaps["gap"]) == {1.0}
    assert list(stats.columns) == frames.TOY_STAT_COLUMNS
    assert list(stats["cloud"]) == [frames.TARGET, frames.SOURCE]


def test_toy_run_streams_frames_until_bn_has_matched_means_and_spreads():
    shown = list(Playground(pause=0).run("bn", "ring", "blob", None))
    scatter, gaps, stats = shown[-1]["scatter"], shown[-1]["gaps"], shown[-1]["stats"]
    assert list(gaps.columns) == frames.TOY_GAP_COLUMNS
    steps = sorted(set(gaps["step"]))
    assert len(shown) == len(steps) and steps[-1] == METHODS["bn"].toy.steps
    final = gaps[gaps["step"] == gaps["step"].max()].set_index("statistic")["gap"]
    assert final[TOY_GAP_TITLES["mean"]] < 0.01 and final[TOY_GAP_TITLES["std"]] < 0.01
    target, source = stats.set_index("cloud").loc[frames.TARGET], stats.set_index("cloud").loc[frames.SOURCE]
    for column in ("mean x", "mean y", "std x", "std y"):
        assert source[column] == pytest.approx(target[column], abs=0.01)
    moving = scatter_frame(scatter).query("cloud == @frames.SOURCE")
    assert moving["x"].mean() == pytest.approx(target["mean x"], abs=0.01)


def test_toy_uses_drawn_points_and_rejects_bad_rows():
    table = pd.DataFrame([[1.0, 2.0], [2.0, 3.0], [3.0, 1.0]], columns=["x", "y"])
    scatter = Playground().preview("drawn", "moons", table)["scatter"]
    start = scatter_frame(scatter).query("cloud == @frames.START")
    assert start[["x", "y"]].values.tolist() == table.values.tolist()
    with pytest.raises(gr.Error, match="drawn points: row 2"):
        list(Playground(pause=0).run("linear", "drawn", "ring", pd.DataFrame([[1, 2], ["x", 3], [0, 0]])))
    with pytest.raises(gr.Error, match="unknown target preset"):
        Playground().preview("ring", "square", None)


def test_table_points_reads_every_form_a_dataframe_takes_and_names_bad_rows():
    rows = [[1, 2], ["3.5", "4"], [None, None], ["", ""], [math.nan, math.nan], [0, -1]]
    expected = torch.tensor([[1.0, 3.5, 0.0], [2.0, 4.0, -1.0]])
    for table in (rows, pd.DataFrame(rows, columns=frames.DRAWN_COLUMNS), {"headers": ["x", "y"], "data": rows}):
        assert torch.equal(frames.table_points(table), expected)
    with pytest.raises(NSTError, match="row 2 is not two numbers"):
        frames.table_points([[1, 2], ["a", 3], [0, 0]])
    with pytest.raises(NSTError, match="row 3 is not two numbers"):
        frames.table_points([[1, 2], [0, 0], [math.nan, 3], [1, 1]])
    with pytest.raises(NSTError, match="between -10 and 10"):
        frames.table_points([[1, 2], [11, 3], [0, 0]])
    with pytest.raises(NSTError, match="between 3 and 1000"):
        frames.table_points([[1, 2], [0, 0], [None, None]])
    heart = explain.default_drawing()
    assert torch.allclose(frames.table_points(frames.drawing_frame(heart)), heart, atol=5e-4)


@pytest.fixture(scope="module")
def model():
    return SharedModel("auto", "cpu")  # conftest's fake hub checkpoint


@pytest.fixture(scope="module")
def analysed(model):
    result = Image.open(EXAMPLES / "content" / "chelsea_cat.jpg").convert("RGB").resize((96, 64))  # a PIL input
    explainer = Explainer(model, size=SIZE)
    return explainer.all(str(EXAMPLES / "content" / "chelsea_cat.jpg"), str(EXAMPLES / "style" / "starry_night.jpg"),
                         result, "result", "relu3_1")


def test_explain_all_returns_documented_frames(analysed, model):
    assert set(analysed) == {"status", "identity", "caption", "points", "means", "stds", "distances"}
    status, identity, caption = analysed["status"], analysed["identity"], analysed["caption"]
    assert "result" in status and model().source in status and f"{SIZE} px" in status
    assert list(identity.columns) == frames.IDENTITY_COLUMNS
    assert list(identity["layer"]) == list(STYLE_LAYERS)
    assert (abs(identity["MMD² / E"] / identity["4N²"] - 1) < 1e-5).all()
    assert "relu3_1" in caption and "PC 1 explains" in caption
    points, means, stds = analysed["points"], analysed["means"], analysed["stds"]
    assert list(points.columns) == frames.PROJECTION_COLUMNS
    assert set(points["image"]) == {"content", "style", "result"}
    assert list(means.columns) == frames.CHANNEL_COLUMNS and means is stds
    assert means["image"].value_counts().to_dict() == {"style": 16, "result": 16}
    distances = analysed["distances"]
    assert list(distances.columns) == frames.DISTANCE_COLUMNS
    assert len(distances) == len(METHOD_NAMES) * len(STYLE_LAYERS)
    assert distances["content vs style"].gt(0).all() and distances["result / content"].notna().all()


def test_identity_falls_back_to_the_content_photo_without_a_result(model):
    outputs = Explainer(model, size=SIZE).identity(str(EXAMPLES / "content" / "coffee.jpg"),
                                                   str(EXAMPLES / "style" / "the_scream.jpg"), None, "result")
    assert "**content**" in outputs["status"]
    identity = outputs["identity"]
    assert list(identity.columns) == frames.IDENTITY_COLUMNS and len(identity) == len(STYLE_LAYERS)


def test_missing_weights_and_images_become_the_status_line(style_path, content_path, tmp_path):
    explainer = Explainer(SharedModel(tmp_path / "nowhere" / "vgg19.safetensors", "cpu"), size=SIZE)
    outputs = explainer.identity(str(content_path), str(style_path), None)
    assert outputs["status"].startswith("⚠️ ") and "weights" in outputs["status"] and outputs["identity"].empty
    assert list(outputs["identity"].columns) == frames.IDENTITY_COLUMNS
    everything = explainer.all(str(content_path), str(style_path), None)
    assert everything["status"] == outputs["status"]
    assert all(everything[k].empty for k in ("identity", "points", "means", "stds", "distances"))
    outputs = explainer.features(None, None, None)
    assert "Add a style image" in outputs["caption"] and list(outputs["points"].columns) == frames.PROJECTION_COLUMNS
    outputs = explainer.distances(str(content_path), None, None)
    assert "Add a style image" in outputs["status"] and list(outputs["distances"].columns) == frames.DISTANCE_COLUMNS


def test_unreadable_image_becomes_the_status_line(model, content_path, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    outputs = Explainer(model, size=SIZE).distances(str(content_path), str(bad), None)
    assert outputs["status"].startswith("⚠️ style image: not a readable image file")


def api_names(demo: gr.Blocks) -> set[str]:
    return {fn.api_name for fn in demo.fns.values()}


def test_every_event_has_an_api_name(model):
    with gr.Blocks() as demo:
        page = tab.build_explain_tab(model, examples=EXAMPLES)
    names = api_names(demo)
    assert None not in names and "" not in names
    assert {f"toy_{m}" for m in METHOD_NAMES} | {"toy_preview", "explain_all", "explain_identity",
                                                 "explain_features", "explain_distances"} <= names
    assert page.content.value["path"].endswith("chelsea_cat.jpg") and page.result.value is None


def test_handlers_name_only_the_outputs_they_are_wired_to(model, content_path, style_path):
    with gr.Blocks() as demo:
        page = tab.build_explain_tab(model, examples=EXAMPLES)
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    wired = {name: {c._id for c in fns[name].outputs} for name in fns}
    explainer = Explainer(model, size=SIZE)
    calls = {"explain_all": explainer.all(str(content_path), str(style_path), None),
             "explain_identity": explainer.identity(str(content_path), str(style_path), None),
             "explain_features": explainer.features(str(content_path), str(style_path), None),
             "explain_distances": explainer.distances(str(content_path), str(style_path), None),
             "toy_preview": Playground().preview("ring", "moons", None)}
    for name, outputs in calls.items():
        assert {page.component(k)._id for k in outputs} == wired[name], name


def test_linked_tab_recomputes_when_the_result_changes(model):
    with gr.Blocks() as demo:
        content, style = gr.Image(type="filepath"), gr.Image(type="pil")
        result = gr.Image(type="filepath")
        page = tab.build_explain_tab(model, content=content, style=style, result=result)
    (explain_all,) = [fn for fn in demo.fns.values() if fn.api_name == "explain_all"]
    assert (result._id, "change") in explain_all.targets
    assert [c._id for c in explain_all.inputs[:3]] == [content._id, style._id, result._id]
    assert (page.content, page.style, page.result) == (content, style, result)
