"""Your runs kept in the browser (`webui.your_runs`, a `gr.BrowserState`): entries, caps, and a
hostile value from the browser refused as a whole, through the Stylize tab's handlers."""

from __future__ import annotations

import base64
import dataclasses
import io
import json

import gradio as gr
import pytest
from PIL import Image

from nst.config import Settings
from nst.errors import NSTError
from nst.request import Request
from webui import your_runs
from webui.controls import Controls
from webui.model import SharedModel
from webui.stylize_handlers import Stylizer

SETTINGS = Settings(method="gaussian", gamma=50.0, size=64, steps=4, seed=3, precision="bf16", colors="luminance")


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    return Stylizer(SharedModel("auto", "cpu"))


@pytest.fixture
def record(stylizer, content_path, style_path) -> dict:
    run = stylizer.record(Request(content_path, style_path, SETTINGS))
    return dataclasses.replace(run, steps_done=SETTINGS.steps).to_dict()


def through_the_browser(value):
    """What localStorage gives back: the value as JSON text, parsed again."""
    return json.loads(json.dumps(value))


def jpeg_url(image: Image.Image, kind: str = "JPEG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=kind)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def test_a_run_survives_a_reload_as_its_record_and_a_thumbnail(stylizer, record, tmp_path):
    path = tmp_path / "result.png"
    Image.new("RGB", (300, 200), (10, 200, 90)).save(path)
    remembered = stylizer.remember(str(path), record, [], {})
    stored = through_the_browser(remembered["history"])
    loaded = stylizer.load_runs(stored)  # a new page: this session has no images
    assert loaded["history"] == stored and loaded["gallery"]["visible"]
    (thumb, caption), = loaded["gallery"]["value"]
    assert thumb.size == (96, 64) and caption == "gaussian · γ 50"
    assert thumb.getpixel((48, 32)) == pytest.approx((10, 200, 90), abs=3)
    restored = stylizer.restore(stored, {}, gr.SelectData(None, {"index": 0, "value": None}))
    assert isinstance(restored.pop("result"), Image.Image) and restored.pop("record") == record
    restored.pop("compare")
    assert Controls(**restored).to_settings() == SETTINGS  # every control as it was


def test_the_runs_are_capped_in_number_and_bytes(stylizer, record, tmp_path, monkeypatch):
    path = tmp_path / "result.png"
    Image.effect_noise((400, 400), 80).convert("RGB").save(path)  # noise: the largest thumbnails
    history, images = [], {}
    for seed in range(your_runs.MAX_RUNS + 3):
        changed = {**record, "settings": {**record["settings"], "seed": seed}}
        out = stylizer.remember(str(path), changed, history, images)
        history, images = out["history"], out["images"]
    assert len(history) == your_runs.MAX_RUNS
    assert [h["record"]["settings"]["seed"] for h in history] == list(range(your_runs.MAX_RUNS + 2, 2, -1))
    assert len(json.dumps(history)) < your_runs.MAX_BYTES and your_runs.read(through_the_browser(history)) == history
    monkeypatch.setattr(your_runs, "MAX_BYTES", len(json.dumps(history[:3])) + 10)
    assert len(your_runs.add(history[1:], history[0])) == 3  # the oldest go until it fits


def good_entry(record: dict) -> dict:
    return your_runs.entry(Image.new("RGB", (50, 40)), record)


@pytest.mark.parametrize("spoil, message", [
    (lambda e: "a string", "expected a list"),
    (lambda e: [e] * (your_runs.MAX_RUNS + 1), "expected a list of at most 12 runs"),
    (lambda e: [{**e, "image": "/etc/passwd"}], "each run must be an object with the keys id, record, thumb"),
    (lambda e: [{**e, "id": "../x"}], "a run's id must be 16 hexadecimal digits"),
    (lambda e: [{**e, "record": {**e["record"], "settings": {**e["record"]["settings"], "steps": -1}}}],
     "steps must be between"),
    (lambda e: [{**e, "record": "x"}], "run record"),
    (lambda e: [{**e, "thumb": "http://example.com/a.jpg"}], "a thumbnail must be a JPEG data URL"),
    (lambda e: [{**e, "thumb": "data:image/jpeg;base64,!!!"}], "a thumbnail is not a readable JPEG"),
    (lambda e: [{**e, "thumb": jpeg_url(Image.new("RGB", (97, 10)))}], "a thumbnail is larger than 96 px"),
    (lambda e: [{**e, "thumb": jpeg_url(Image.new("RGB", (9, 9)), "PNG")}], "a thumbnail is not a readable JPEG"),
    (lambda e: [{**e, "thumb": "data:image/jpeg;base64," + "A" * 20_000}], "a JPEG data URL of at most"),
])
def test_a_hostile_value_from_the_browser_is_refused_in_one_line(stylizer, record, spoil, message):
    value = through_the_browser(spoil(good_entry(record)))
    with pytest.raises(NSTError) as info:
        your_runs.read(value)
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.warns(UserWarning, match=r"^Your runs kept in this browser could not be read \(") as warned:
        loaded = stylizer.load_runs(value)
    assert len(warned) == 1 and "\n" not in str(warned[0].message)
    assert loaded["history"] == [] and not loaded["gallery"]["visible"]  # the browser's copy is emptied


def test_nothing_kept_yet_is_an_empty_history(stylizer):
    for value in (None, []):
        assert stylizer.load_runs(value)["history"] == []
