"""`nst.batch` through `python -m nst batch`: every pair with its recipe, the contact sheet and
the index, resuming, an unreadable photo, Ctrl-C, and worker processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nst.batch
from nst import read_recipe
from nst.__main__ import main

# Small and quick on the fake network: 64 px, two steps, two style layers.
RUN = ["--size", "64", "--steps", "2", "--layers", "2", "--device", "cpu", "--network", "vgg19", "--quiet"]
PAIRS = {"chelsea_cat__starry_night.png", "chelsea_cat__the_scream.png", "coffee__starry_night.png",
         "coffee__the_scream.png"}


@pytest.fixture
def folders(tmp_path, examples) -> tuple[Path, Path]:
    """photos/ with two photos, paintings/ with two paintings."""
    photos, paintings = tmp_path / "photos", tmp_path / "paintings"
    photos.mkdir(), paintings.mkdir()
    for name in ("chelsea_cat.jpg", "coffee.jpg"):
        shutil.copy(examples / "content" / name, photos)
    for name in ("starry_night.jpg", "the_scream.jpg"):
        shutil.copy(examples / "style" / name, paintings)
    return photos, paintings


def batch(folders: tuple[Path, Path], out: Path, *more: str) -> int:
    return main(["batch", str(folders[0]), str(folders[1]), "-o", str(out), *RUN, *more])


def test_every_pair_is_written_with_its_recipe_a_contact_sheet_and_an_index(folders, tmp_path, capsys):
    out = tmp_path / "out"
    assert batch(folders, out) == 0
    assert {p.name for p in out.glob("*__*.png")} == PAIRS
    for name in PAIRS:
        recipe = read_recipe(out / name)
        assert recipe.run.settings.size == 64 and recipe.run.steps_done == 2
        assert Path(recipe.run.content).stem == name.split("__")[0]
    index = json.loads((out / "index.json").read_text())
    assert [(Path(p["photo"]).name, Path(p["painting"]).name, p["output"], p["status"]) for p in index["pairs"]] == [
        ("chelsea_cat.jpg", "starry_night.jpg", "chelsea_cat__starry_night.png", "made"),
        ("chelsea_cat.jpg", "the_scream.jpg", "chelsea_cat__the_scream.png", "made"),
        ("coffee.jpg", "starry_night.jpg", "coffee__starry_night.png", "made"),
        ("coffee.jpg", "the_scream.jpg", "coffee__the_scream.png", "made")]
    assert index["settings"]["size"] == 64 and index["contact_sheet"] == "contact_sheet.png"
    sheet = np.asarray(Image.open(out / "contact_sheet.png").convert("L"))
    # three rows and three columns of 96 px tiles (the paintings, then a row per photo), with labels
    assert sheet.shape[0] > 3 * 96 and sheet.shape[1] > 3 * 96
    assert (sheet[:, :40] < 100).any() and (sheet[:12] < 100).any()  # dark text in the label column and row
    assert capsys.readouterr().out.startswith("4 pairs: 4 made, 0 kept from before, 0 failed")


def test_a_rerun_keeps_finished_pairs_and_remakes_those_whose_settings_changed(folders, tmp_path, capsys,
                                                                              monkeypatch):
    out = tmp_path / "out"
    assert batch(folders, out) == 0
    written = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*__*.png")}
    real_stylize = nst.batch.stylize
    monkeypatch.setattr(nst.batch, "stylize", lambda *a, **k: pytest.fail("a finished pair ran again"))
    capsys.readouterr()
    assert batch(folders, out) == 0
    assert capsys.readouterr().out.startswith("4 pairs: 0 made, 4 kept from before, 0 failed")
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*__*.png")} == written
    monkeypatch.setattr(nst.batch, "stylize", real_stylize)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("photo,painting\ncoffee.jpg,the_scream.jpg\n\n")
    assert batch(folders, out, "--pairs", str(pairs), "--steps", "3") == 0
    assert capsys.readouterr().out.startswith("1 pairs: 1 made, 0 kept from before, 0 failed")
    assert read_recipe(out / "coffee__the_scream.png").run.settings.steps == 3


def test_an_unreadable_photo_is_reported_once_and_the_other_pairs_finish(folders, tmp_path, capsys):
    broken = folders[0] / "holiday.jpg"
    broken.write_bytes(b"GIF89a but not really an image")
    out = tmp_path / "out"
    assert batch(folders, out) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"skipped: photo {broken}: not a readable image file; use a PNG, JPEG or WebP "
                            "image\n")
    assert captured.out.startswith("6 pairs: 4 made, 0 kept from before, 2 failed")
    assert {p.name for p in out.glob("*__*.png")} == PAIRS
    failed = [p for p in json.loads((out / "index.json").read_text())["pairs"] if p["status"] == "failed"]
    assert [p["output"] for p in failed] == ["holiday__starry_night.png", "holiday__the_scream.png"]
    assert all("not a readable image file" in p["error"] for p in failed)


def test_ctrl_c_keeps_what_was_written_and_the_next_run_goes_on(folders, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    real_run_pair = nst.batch.run_pair
    calls = []

    def interrupted_at_the_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_pair(*args, **kwargs)

    monkeypatch.setattr(nst.batch, "run_pair", interrupted_at_the_second)
    assert batch(folders, out) == 130
    assert "interrupted" in capsys.readouterr().err
    assert [p.name for p in out.glob("*__*.png")] == ["chelsea_cat__starry_night.png"]
    assert [p["status"] for p in json.loads((out / "index.json").read_text())["pairs"]] == [
        "made", "pending", "pending", "pending"]
    assert (out / "contact_sheet.png").is_file()
    monkeypatch.setattr(nst.batch, "run_pair", real_run_pair)
    assert batch(folders, out) == 0
    assert capsys.readouterr().out.startswith("4 pairs: 3 made, 1 kept from before, 0 failed")


def test_two_worker_processes_make_every_pair(folders, tmp_path, capsys):
    out = tmp_path / "out"
    assert batch(folders, out, "--workers", "2") == 0
    assert capsys.readouterr().out.startswith("4 pairs: 4 made")
    assert all(read_recipe(out / name).run.steps_done == 2 for name in PAIRS)


@pytest.mark.parametrize("setup, message", [
    (lambda photos: shutil.copy(photos / "coffee.jpg", photos / "coffee.png"),
     "error: coffee.jpg × starry_night.jpg and coffee.png × starry_night.jpg would both be written as "
     "coffee__starry_night.png; rename one"),
    (lambda photos: shutil.rmtree(photos), "error: {photos}: not a folder"),
])
def test_a_batch_that_cannot_run_is_refused_in_one_line(folders, tmp_path, capsys, setup, message):
    setup(folders[0])
    assert batch(folders, tmp_path / "out") == 2
    assert capsys.readouterr().err.strip() == message.format(photos=folders[0])
