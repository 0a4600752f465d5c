"""The "Why it works" tab's handlers: documented DataFrame columns, the toy animation's
frames, messages instead of crashes, and the events' API names (no browser)."""

import gradio as gr
import pandas as pd
import pytest
from PIL import Image

from nst import explain
from nst.config import STYLE_LAYERS
from nst.errors import NSTError
from nst.methods import METHOD_NAMES
from webui import explain_tab as tab

SIZE = 64  # analysis size for tests: every layer down to relu5_1 still has positions


def scatter_frame(update: gr.ScatterPlot) -> pd.DataFrame:
    value = update.value  # the update's postprocessed table: {"columns": [...], "data": [...]}
    return pd.DataFrame(value["data"], columns=value["columns"])


def test_toy_preview_returns_documented_frames():
    scatter, gaps, stats = tab.toy_preview("ring", "moons", None)
    points = scatter_frame(scatter)
    assert list(points.columns) == tab.TOY_POINT_COLUMNS
    assert points["cloud"].value_counts().to_dict() == {tab.START: 200, tab.TARGET: 200, tab.SOURCE: 200}
    x_min, x_max = scatter.x_lim
    assert x_min < points["x"].min() and points["x"].max() < x_max
    assert list(gaps.columns) == tab.TOY_GAP_COLUMNS and set(gaps["gap"]) == {1.0}
    assert list(stats.columns) == tab.TOY_STAT_COLUMNS
    assert list(stats["cloud"]) == [tab.TARGET, tab.SOURCE]


def test_toy_run_streams_frames_until_bn_has_matched_means_and_spreads():
    frames = list(tab.toy_run("bn", "ring", "blob", None, pause=0))
    scatter, gaps, stats = frames[-1]
    assert list(gaps.columns) == tab.TOY_GAP_COLUMNS
    steps = sorted(set(gaps["step"]))
    assert len(frames) == len(steps) and steps[-1] == explain.TOY_SCHEDULE["bn"].steps
    final = gaps[gaps["step"] == gaps["step"].max()].set_index("statistic")["gap"]
    assert final[explain.TOY_GAPS["mean"]] < 0.01 and final[explain.TOY_GAPS["std"]] < 0.01
    target, source = stats.set_index("cloud").loc[tab.TARGET], stats.set_index("cloud").loc[tab.SOURCE]
    for column in ("mean x", "mean y", "std x", "std y"):
        assert source[column] == pytest.approx(target[column], abs=0.01)
    moving = scatter_frame(scatter).query("cloud == @tab.SOURCE")
    assert moving["x"].mean() == pytest.approx(target["mean x"], abs=0.01)


def test_toy_uses_drawn_points_and_rejects_bad_rows():
    table = pd.DataFrame([[1.0, 2.0], [2.0, 3.0], [3.0, 1.0]], columns=["x", "y"])
    scatter, _, _ = tab.toy_preview("drawn", "moons", table)
    start = scatter_frame(scatter).query("cloud == @tab.START")
    assert start[["x", "y"]].values.tolist() == table.values.tolist()
    with pytest.raises(gr.Error, match="drawn points: row 2"):
        list(tab.toy_run("linear", "drawn", "ring", pd.DataFrame([[1, 2], ["x", 3], [0, 0]]), pause=0))
    with pytest.raises(gr.Error, match="unknown target preset"):
        tab.toy_preview("ring", "square", None)


@pytest.fixture(scope="module")
def analysed(extractor):
    root = tab.ROOT / "examples"
    result = Image.open(root / "content" / "chelsea_cat.jpg").convert("RGB").resize((96, 64))  # a PIL input
    explainer = tab.Explainer(lambda: extractor, size=SIZE)
    return explainer.all(str(root / "content" / "chelsea_cat.jpg"), str(root / "style" / "starry_night.jpg"),
                         result, "result", "relu3_1")


def test_explain_all_returns_documented_frames(analysed):
    status, identity, caption, points, means, stds, distances = analysed
    assert "result" in status and "random (seed 0)" in status and f"{SIZE} px" in status
    assert list(identity.columns) == tab.IDENTITY_COLUMNS
    assert list(identity["layer"]) == list(STYLE_LAYERS)
    assert (abs(identity["MMD² / E"] / identity["4N²"] - 1) < 1e-5).all()
    assert "relu3_1" in caption and "PC 1 explains" in caption
    assert list(points.columns) == tab.PROJECTION_COLUMNS
    assert set(points["image"]) == {"content", "style", "result"}
    assert list(means.columns) == tab.CHANNEL_COLUMNS and means is stds
    assert means["image"].value_counts().to_dict() == {"style": 16, "result": 16}
    assert list(distances.columns) == tab.DISTANCE_COLUMNS
    assert len(distances) == len(METHOD_NAMES) * len(STYLE_LAYERS)
    assert distances["content vs style"].gt(0).all() and distances["result / content"].notna().all()


def test_identity_falls_back_to_the_content_photo_without_a_result(extractor):
    root = tab.ROOT / "examples"
    status, identity = tab.Explainer(lambda: extractor, size=SIZE).identity(
        str(root / "content" / "coffee.jpg"), str(root / "style" / "the_scream.jpg"), None, "result")
    assert "**content**" in status
    assert list(identity.columns) == tab.IDENTITY_COLUMNS and len(identity) == len(STYLE_LAYERS)


def test_missing_weights_and_images_become_the_status_line(style_path, content_path):
    def no_weights():
        raise NSTError("no VGG-19 weights found (test). To fix: provide them")

    explainer = tab.Explainer(no_weights, size=SIZE)
    status, table = explainer.identity(str(content_path), str(style_path), None)
    assert status.startswith("⚠️ no VGG-19 weights found") and table.empty
    assert list(table.columns) == tab.IDENTITY_COLUMNS
    outputs = explainer.all(str(content_path), str(style_path), None)
    assert outputs[0].startswith("⚠️ no VGG-19") and all(o.empty for o in outputs[3:])
    status, points, means, stds = explainer.features(None, None, None)
    assert "Add a style image" in status and list(points.columns) == tab.PROJECTION_COLUMNS
    status, distances = explainer.distances(str(content_path), None, None)
    assert "Add a style image" in status and list(distances.columns) == tab.DISTANCE_COLUMNS


def test_unreadable_image_becomes_the_status_line(extractor, content_path, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    status, _ = tab.Explainer(lambda: extractor, size=SIZE).distances(str(content_path), str(bad), None)
    assert status.startswith("⚠️ style image: not a readable image file")


def api_names(demo: gr.Blocks) -> set[str]:
    return {fn.api_name for fn in demo.fns.values()}


def test_every_event_has_an_api_name(extractor):
    with gr.Blocks() as demo:
        tab.build_explain_tab(lambda: extractor)
    names = api_names(demo)
    assert None not in names and "" not in names
    assert {f"toy_{m}" for m in METHOD_NAMES} | {"toy_preview", "explain_all", "explain_identity",
                                                 "explain_features", "explain_distances"} <= names


def test_linked_tab_recomputes_when_the_result_changes(extractor):
    with gr.Blocks() as demo:
        content, style = gr.Image(type="filepath"), gr.Image(type="pil")
        result = gr.Image(type="filepath")
        tab.build_explain_tab(lambda: extractor, content=content, style=style, result=result)
    (explain_all,) = [fn for fn in demo.fns.values() if fn.api_name == "explain_all"]
    assert (result._id, "change") in explain_all.targets
    assert [c._id for c in explain_all.inputs[:3]] == [content._id, style._id, result._id]
