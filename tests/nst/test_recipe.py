"""`nst.recipe`: the recipe inside every PNG, written and read back, reproducing a run bit for
bit on the CPU, and refusing a hostile recipe in one line (the README's Reliability rows of
the area "Recipes" are checked here)."""

from __future__ import annotations

import builtins
import dataclasses
import io
import json
import socket
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from nst import NSTError, Recipe, Request, Settings, read_recipe, run_record, save_with_recipe, stylize
from nst.__main__ import main
from nst.recipe import RECIPE_KEY, Inputs, inputs_of, recipe_of
from scripts.reliability import CASES

RECIPE_CASES = {case.key: case for case in CASES if case.area == "Recipes"}
HOSTILE = "tests/nst/test_recipe.py::test_a_hostile_recipe_is_refused_in_one_line"


@pytest.fixture
def inputs(content_path, style_path) -> Request:
    return Request(content_path, style_path, Settings(size=32, steps=2, style_layers=("relu1_1", "relu2_1")))


@pytest.fixture
def recipe(inputs, extractor) -> Recipe:
    record = run_record(inputs, extractor, steps_done=2, final_losses={"total": 1.5}, seconds=3.25,
                        output="out/a.png")
    return recipe_of(record, inputs)


def test_a_recipe_is_the_record_without_its_timing_and_the_inputs_hashes(recipe, inputs):
    assert (recipe.run.seconds, recipe.run.created, recipe.run.output) == (None, None, None)
    assert recipe.run.settings == inputs.settings and recipe.run.final_losses == {"total": 1.5}
    assert recipe.inputs.mask is None and len(recipe.inputs.paintings) == 1
    assert all(len(h) == 64 for h in (recipe.inputs.content, *recipe.inputs.paintings))
    assert recipe.inputs.content != recipe.inputs.paintings[0]
    assert Recipe.from_json(recipe.to_json()) == recipe


def test_a_png_carries_its_recipe_and_its_pixels(recipe, tmp_path):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (21, 32, 3), dtype=np.uint8))
    path = save_with_recipe(image, tmp_path / "sub" / "a.png", recipe)
    assert read_recipe(path) == recipe
    with Image.open(path) as png:
        assert png.format == "PNG" and np.array_equal(np.asarray(png.convert("RGB")), np.asarray(image))
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.png"]  # the temporary file was renamed


def test_inputs_are_hashed_by_their_pixels_so_a_lossless_copy_is_the_same(content_path, style_path, tmp_path):
    copy = tmp_path / "cat.png"
    Image.open(content_path).save(copy)  # another file, another format, the same pixels
    settings = Settings(size=32, steps=1)
    same = inputs_of(Request(copy, style_path, settings))
    assert same == inputs_of(Request(content_path, style_path, settings))
    other = inputs_of(Request(content_path, [style_path, content_path], settings))
    assert same.differ(other) == ["painting 2"]
    assert Inputs("a" * 64, ("b" * 64,), None).differ(Inputs("c" * 64, ("b" * 64,), "d" * 64)) == ["photo", "mask"]


def test_the_same_recipe_on_the_cpu_gives_the_same_pixels_and_bytes(extractor, content_path, style_path, tmp_path):
    """Reproducibility on the tiny network: the recipe read back from the first PNG makes
    the same PNG, byte for byte (the recipe leaves out the run's timing)."""
    settings = Settings(method="gaussian", init="noise", size=48, steps=4, seed=7, style_layers=("relu1_1", "relu2_1"))
    first = Request(content_path, style_path, settings)
    result = stylize(first, extractor=extractor, progress=False)
    a = save_with_recipe(result.image, tmp_path / "a.png", recipe_of(result.record, first))
    again = Request(content_path, style_path, read_recipe(a).run.settings)
    rerun = stylize(again, extractor=extractor, progress=False)
    b = save_with_recipe(rerun.image, tmp_path / "b.png", recipe_of(rerun.record, again))
    assert np.array_equal(np.asarray(result.image), np.asarray(rerun.image))
    assert a.read_bytes() == b.read_bytes()
    assert rerun.record.seconds is not None and read_recipe(b).run.seconds is None


# ----- hostile recipes


def _png(text: str | None = None, *, zipped: bool = True, size: tuple[int, int] = (8, 8)) -> bytes:
    """A small PNG with `text` as its recipe chunk (zipped iTXt, or plain tEXt)."""
    info = PngImagePlugin.PngInfo()
    if text is not None:
        if zipped:
            info.add_itxt(RECIPE_KEY, text, zip=True)
        else:
            info.add_text(RECIPE_KEY, text)
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _declaring(width: int, height: int, text: str) -> bytes:
    """A PNG that declares `width`×`height` pixels, with one row of data and the recipe chunk `text`."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    itxt = RECIPE_KEY.encode() + b"\0\0\0\0\0" + text.encode()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"iTXt", itxt)
            + chunk(b"IDAT", zlib.compress(b"\0" * (1 + 3 * width))) + chunk(b"IEND", b""))


def _changed(recipe: Recipe, *, run: dict | None = None, settings: dict | None = None,
             sha256: dict | None = None) -> str:
    data = json.loads(recipe.to_json())
    data["run"].update(run or {})
    data["run"]["settings"].update(settings or {})
    data["sha256"].update(sha256 or {})
    return json.dumps(data)


# key of a row in scripts/reliability.py → the file it describes, made from a good recipe
HOSTILE_FILES = {
    "recipe-none": lambda r: _png(None),
    "recipe-text-2mb": lambda r: _png(" " * 2_000_000, zipped=False),
    "recipe-zip-bomb": lambda r: _png(" " * 5_000_000 + r.to_json()),
    "recipe-deep": lambda r: _png("[" * 100_000 + "]" * 100_000),
    "recipe-not-json": lambda r: _png("import os; os.system('rm -rf ~')"),
    "recipe-nan": lambda r: _png(_changed(r, settings={"gamma": "NaN-placeholder"}).replace('"NaN-placeholder"',
                                                                                              "NaN")),
    "recipe-unknown-key": lambda r: _png(json.dumps({**json.loads(r.to_json()), "exec": "rm -rf ~"})),
    "recipe-url": lambda r: _png(_changed(r, settings={"size": "https://example.com/a.png"})),
    "recipe-path": lambda r: _png(_changed(r, settings={"content_weight": "/etc/passwd"})),
    "recipe-range": lambda r: _png(_changed(r, settings={"steps": 10**9})),
    "recipe-choice": lambda r: _png(_changed(r, settings={"colors": "sepia"})),
    "recipe-run-type": lambda r: _png(_changed(r, run={"steps_done": "all"})),
    "recipe-digest": lambda r: _png(_changed(r, sha256={"content": "../../etc/passwd"})),
    "recipe-pixels": lambda r: _declaring(20000, 20000, r.to_json()),
}


def test_every_recipe_row_of_the_reliability_table_is_checked_here():
    assert {key for key, case in RECIPE_CASES.items() if case.checked_by == HOSTILE} == set(HOSTILE_FILES)


@pytest.mark.parametrize("key", sorted(HOSTILE_FILES))
def test_a_hostile_recipe_is_refused_in_one_line(key, recipe, tmp_path, content_path, style_path, capsys,
                                                  monkeypatch):
    """`python -m nst --recipe shared.png …` answers each crafted PNG with the line the
    README's Reliability table shows, exit status 2, before any weights are looked for."""
    import nst.__main__ as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("looked for weights"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared.png").write_bytes(HOSTILE_FILES[key](recipe))
    assert main(["--recipe", "shared.png", str(content_path), str(style_path), "-o", "again.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.strip() == RECIPE_CASES[key].expect
    assert not (tmp_path / "again.png").exists()


def test_reading_a_recipe_opens_its_file_only_and_connects_nowhere(recipe, tmp_path, monkeypatch):
    """A recipe names the photo, the paintings and where the weights came from; reading it
    opens none of them and fetches nothing."""
    named = dataclasses.replace(recipe.run, content="/etc/passwd", paintings=("https://example.com/a.jpg",),
                                network_source="https://example.com/weights.pth")
    path = save_with_recipe(Image.new("RGB", (8, 8)), tmp_path / "shared.png", Recipe(named, recipe.inputs))
    opened: list[str] = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def no_connection(*args, **kwargs):
        raise AssertionError("reading a recipe tried to connect")

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    assert read_recipe(path).run.network_source == "https://example.com/weights.pth"
    assert opened == [str(path)]


def test_a_recipe_from_json_refuses_what_is_not_a_recipe(recipe):
    for text, message in [("[]", "recipe: expected a JSON object with the keys run and sha256"),
                          (json.dumps({"run": {}, "sha256": []}), "recipe: sha256 must be an object"),
                          (_changed(recipe, sha256={"paintings": []}), "recipe: every sha256 must be 64")]:
        with pytest.raises(NSTError, match=message):
            Recipe.from_json(text)
