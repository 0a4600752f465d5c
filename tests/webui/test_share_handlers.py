"""Share and reproduce on the Stylize tab, called directly (no server): a dropped PNG, Share
links (`webui.links`) and opening one. Recipes are made as the app makes them
(`recipe_of` + `save_with_recipe`), on conftest's fake hub checkpoint."""

from __future__ import annotations

import builtins
import dataclasses
import os
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from PIL import Image

from nst.config import Settings
from nst.errors import NSTError
from nst.images import save_png
from nst.recipe import RECIPE_KEY, Recipe, recipe_of, save_with_recipe
from nst.request import Request
from webui.controls import Controls
from webui.links import Links
from webui.model import SharedModel
from webui.share_handlers import Sharing
from webui.stylize_handlers import Stylizer

SETTINGS = Settings(method="bn", gamma=20.0, size=96, steps=3, seed=7, optimizer="adam", lr=0.05,
                    fusion=(("bn", 0.75), ("poly", 0.25)), precision="bf16", colors="match", scales=2)


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    return Stylizer(SharedModel("auto", "cpu"))


@pytest.fixture
def sharing(tmp_path) -> Sharing:
    return Sharing(Links(tmp_path / "links"))


def made_here(stylizer: Stylizer, content: Path, paintings: list[Path], path: Path,
              settings: Settings = SETTINGS) -> Recipe:
    """A result PNG as the app writes one at the end of a run: a picture carrying its recipe."""
    request = Request(content, paintings, settings)
    record = dataclasses.replace(stylizer.record(request), steps_done=settings.steps)
    recipe = recipe_of(record, request)
    save_with_recipe(Image.new("RGB", (48, 32), (200, 120, 40)), path, recipe)
    return recipe


def one_line(info: pytest.ExceptionInfo) -> str:
    message = info.value.message
    assert "\n" not in message and "Traceback" not in message
    return message


def restored_controls(outputs: dict) -> dict:
    return {name: outputs[name] for name in Controls.names() if name != "mask"}


def test_a_dropped_png_restores_every_control_its_image_and_its_record(stylizer, content_path, style_path, tmp_path):
    png = tmp_path / "made.png"
    recipe = made_here(stylizer, content_path, [style_path], png)
    outputs = Sharing.restore_file(str(png))
    assert outputs.pop("result") == str(png) and outputs.pop("record") == recipe.run.to_dict()
    assert outputs.pop("compare") is None and "made.png" in outputs.pop("status")
    assert set(outputs) == set(Controls.names()) - {"mask"}  # the painted regions stay as they are
    assert Controls(**outputs).to_settings() == SETTINGS
    assert outputs["precision"] == "bf16" and outputs["fuse_with"] == "poly" and outputs["scales"] == "2"
    assert Sharing.restore_file(None) == {}  # the file cleared: nothing changes


def test_a_png_without_a_recipe_gets_one_clear_line(tmp_path):
    Image.new("RGB", (20, 20)).save(tmp_path / "holiday.png")
    with pytest.raises(gr.Error) as info:
        Sharing.restore_file(str(tmp_path / "holiday.png"))
    assert one_line(info) == "holiday.png: no nst recipe in it (a PNG that nst wrote carries one)"
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(gr.Error) as info:
        Sharing.restore_file(str(tmp_path / "notes.png"))
    assert one_line(info).startswith("notes.png: not a readable image file")


@pytest.mark.parametrize("text, message", [
    ("{not json", "recipe: not JSON"),
    ("[" * 100_000 + "]" * 100_000, "recipe: not JSON (nested too deep)"),
    ('{"run": {}, "sha256": {}, "more": 1}', "expected a JSON object with the keys run and sha256"),
    ('{"run": {"settings": {"size": 1e12}}, "sha256": {"content": "0", "paintings": [], "mask": null}}',
     "every sha256 must be 64 hexadecimal digits"),
    ("NaN", "recipe: not JSON"),
])
def test_a_malformed_or_hostile_recipe_gets_one_clear_line(tmp_path, text, message):
    png = save_png(Image.new("RGB", (8, 8)), tmp_path / "odd.png", text={RECIPE_KEY: text})
    with pytest.raises(gr.Error) as info:
        Sharing.restore_file(str(png))
    assert one_line(info).startswith("odd.png: ") and message in info.value.message


def test_settings_out_of_range_are_refused_as_the_api_refuses_them(stylizer, content_path, style_path, tmp_path):
    recipe = made_here(stylizer, content_path, [style_path], tmp_path / "made.png")
    text = recipe.to_json().replace(f'"size":{SETTINGS.size}', f'"size":{10**9}', 1)
    assert f'"size":{10**9}' in text
    png = save_png(Image.new("RGB", (8, 8)), tmp_path / "big.png", text={RECIPE_KEY: text})
    with pytest.raises(gr.Error) as info:
        Sharing.restore_file(str(png))
    assert one_line(info).startswith("big.png: recipe: run record: bad settings: size must be between")


def test_restoring_opens_nothing_a_recipe_names(stylizer, content_path, style_path, tmp_path, monkeypatch):
    recipe = made_here(stylizer, content_path, [style_path], tmp_path / "made.png")
    named = dataclasses.replace(recipe.run, content=str(tmp_path / "secret.jpg"), paintings=("http://example.com/x",),
                                network_source=str(tmp_path / "weights.safetensors"))
    png = save_with_recipe(Image.new("RGB", (8, 8)), tmp_path / "named.png", Recipe(named, recipe.inputs))
    opened: list[str] = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: opened.append(str(file)) or real_open(file, *a, **k))
    outputs = Sharing.restore_file(str(png))
    assert outputs["record"]["content"] == str(tmp_path / "secret.jpg") and "content" not in outputs
    assert all(Path(name).name == "named.png" for name in opened), opened  # the dropped file only


def test_a_shared_run_opens_with_its_images_settings_and_result(stylizer, sharing, content_path, style_path,
                                                                 other_style_path, tmp_path):
    settings = SETTINGS.replace(painting_weights=(0.7, 0.3))
    result = tmp_path / "stylized.png"
    recipe = made_here(stylizer, content_path, [style_path, other_style_path], result, settings)
    link = sharing.share(str(result), str(content_path), str(style_path), [str(other_style_path)])["link"]
    assert link.startswith("?run=") and len(link) == len("?run=") + 32
    outputs = sharing.open_link(SimpleNamespace(query_params={"run": link.removeprefix("?run=")}))
    assert Path(outputs.pop("result")).read_bytes() == result.read_bytes()
    assert Path(outputs.pop("content")).read_bytes() == content_path.read_bytes()
    more = outputs.pop("more_styles")
    assert [Path(p).read_bytes() for p in [outputs.pop("style"), *more]] == [style_path.read_bytes(),
                                                                             other_style_path.read_bytes()]
    assert outputs.pop("record") == recipe.run.to_dict() and outputs.pop("compare") is None
    assert "shared run" in outputs.pop("status")
    assert Controls(**outputs, more_styles=more).to_settings() == settings
    result.unlink()  # the link keeps its own copies
    assert Path(sharing.open_link(SimpleNamespace(query_params={"run": link[5:]}))["result"]).is_file()


def test_share_refuses_what_it_cannot_link(stylizer, sharing, content_path, style_path, other_style_path, tmp_path):
    result = tmp_path / "stylized.png"
    made_here(stylizer, content_path, [style_path], result)
    with pytest.raises(gr.Error, match="make a result first"):
        sharing.share(None, str(content_path), str(style_path), None)
    with pytest.raises(gr.Error, match=r"\(photo differ\)") as info:
        sharing.share(str(result), str(other_style_path), str(style_path), None)
    one_line(info)
    with pytest.raises(gr.Error, match=r"\(painting 1 differ\)"):
        sharing.share(str(result), str(content_path), str(other_style_path), None)
    with pytest.raises(gr.Error, match="put the photo and the painting"):
        sharing.share(str(result), None, str(style_path), None)
    Image.new("RGB", (8, 8)).save(tmp_path / "frame.png")  # a stopped run's last image: no recipe
    with pytest.raises(gr.Error, match="only a finished run's image can be shared"):
        sharing.share(str(tmp_path / "frame.png"), str(content_path), str(style_path), None)
    assert not (tmp_path / "links").exists()  # nothing kept


@pytest.mark.parametrize("link", ["0" * 32, "../../etc/passwd", "A" * 32, "", "0" * 33])
def test_an_unknown_or_malformed_link_gets_one_line(sharing, link):
    with pytest.raises(gr.Error, match="this link is unknown or has expired") as info:
        sharing.open_link(SimpleNamespace(query_params={"run": link}))
    one_line(info)


def test_a_page_without_a_link_changes_nothing(sharing):
    assert sharing.open_link(SimpleNamespace(query_params={})) == {}
    assert sharing.open_link(SimpleNamespace(query_params={"other": "1"})) == {}


def test_links_expire_and_at_most_max_links_are_kept(stylizer, content_path, style_path, tmp_path):
    result = tmp_path / "stylized.png"
    made_here(stylizer, content_path, [style_path], result)
    links = Links(tmp_path / "links", days=1, max_links=2)

    def keep(age: float = 0.0) -> str:
        link = links.keep(result, content_path, [style_path])
        when = time.time() - age
        os.utime(links.folder / link, (when, when))
        return link

    def kept() -> set[str]:
        return {p.name for p in links.folder.iterdir()}

    expired = keep(age=2 * 86400)
    with pytest.raises(NSTError, match="unknown or has expired"):
        links.open(expired)  # expired, even before a sweep removes it
    second = keep(age=20)
    assert kept() == {second}  # the sweep removed the expired one
    third = keep(age=10)
    fourth = keep()
    assert kept() == {third, fourth}  # at most two: the oldest went
    assert links.open(fourth).recipe == links.open(third).recipe
