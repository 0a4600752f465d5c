"""The figure manifest, the figure runner and its cache, with the random test extractor
at 32–48 px and 2–3 steps: the images are test output, never stylization results."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import paper
from nst.config import STYLE_LAYERS, Settings
from nst.errors import NSTError
from nst.methods import METHOD_NAMES, METHODS, fusion_weights
from nst.record import RunRecord
from nst.weights import load_extractor
from tests.paths import ROOT

MANIFEST = ROOT / paper.MANIFEST_PATH


@pytest.fixture(scope="module")
def manifest() -> paper.Manifest:
    return paper.load_manifest(MANIFEST)


def _grid(cells: list[paper.Cell]) -> dict[tuple[int, int], paper.Cell]:
    return {(c.row, c.column): c for c in cells}


def test_manifest_defines_every_cell_of_the_four_figures(manifest: paper.Manifest) -> None:
    assert manifest.figure_ids == ("1", "2", "3", "4")
    shapes = {"1": (4, 5), "2": (4, 9), "3": (6, 4), "4": (4, 5)}
    for figure, (rows, columns) in shapes.items():
        spec = manifest.figure(figure)
        assert spec["caption"] and spec["about"] and spec["title"]
        cells = paper.figure_cells(manifest, figure)
        assert len(spec["rows"]) == rows and len(spec["columns"]) == columns and len(cells) == rows * columns
        for cell in cells:
            assert isinstance(cell.settings, Settings)
            assert cell.settings.size == Settings().size and cell.settings.steps == Settings().steps
            for image in (cell.content, cell.style):
                assert image.is_file() and image.is_relative_to(ROOT / "examples")
                assert image.parent.name in ("content", "style")  # public-domain / CC0 folders only


def test_manifest_matches_the_papers_captions(manifest: paper.Manifest) -> None:
    cells = {f: _grid(paper.figure_cells(manifest, f)) for f in ("1", "2", "3", "4")}
    for (r, c), cell in cells["1"].items():  # α = 0, noise, first c+1 layers at weight 1
        assert cell.settings.method == METHOD_NAMES[r]
        assert cell.settings.content_weight == 0.0 and cell.settings.init == "noise"
        assert cell.settings.style_layers == STYLE_LAYERS
        assert cell.settings.layer_weights == (1.0,) * (c + 1) + (0.0,) * (len(STYLE_LAYERS) - c - 1)
    for (r, c), cell in cells["2"].items():
        assert cell.settings.method == METHOD_NAMES[r]
        assert cell.settings.gamma == (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)[c]
    for (r, c), cell in cells["3"].items():
        assert cell.settings.method == METHOD_NAMES[c]
        assert cell.settings.gamma == (2.0, 2.0, 2.0, 5.0, 5.0, 5.0)[r]
    assert len({(cells["3"][r, 0].content, cells["3"][r, 0].style) for r in range(6)}) == 6
    for (r, c), cell in cells["4"].items():
        pair = ("bn", "poly") if r < 2 else ("linear", "gaussian")
        weights = fusion_weights(cell.settings.method, cell.settings.fusion)
        assert cell.settings.gamma == 5.0 and set(weights) <= set(pair)
        assert sum(weights.values()) == pytest.approx(1.0)
        assert weights.get(pair[1], 0.0) == pytest.approx(c / 4)  # 0 … 1, ends included
    assert cells["4"][0, 0].content != cells["4"][1, 0].content


def test_manifest_errors_are_one_line(tmp_path: Path, manifest: paper.Manifest) -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for folder in ("content", "style"):  # image paths are relative to the manifest's folder
        (tmp_path / folder).symlink_to(ROOT / "examples" / folder)
    (tmp_path / "paper").mkdir()
    bad = tmp_path / "paper" / "figures.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    assert paper.load_manifest(bad).figure_ids == ("1", "2", "3", "4")
    data["figures"]["2"]["columns"][3]["settings"]["gamma"] = -1.0
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(NSTError, match=r"figure 2, row 0, column 3: gamma must be between"):
        paper.load_manifest(bad)
    data["figures"]["2"]["columns"][3]["settings"]["gamma"] = 1.0
    data["figures"]["2"]["images"]["style"] = str(tmp_path / "missing.jpg")
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(NSTError, match="missing.jpg' does not exist"):
        paper.load_manifest(bad)
    with pytest.raises(NSTError, match="unknown figure '7'; choose one of 1, 2, 3, 4"):
        paper.figure_cells(manifest, "7")
    with pytest.raises(NSTError, match="content image '.*nowhere.jpg' does not exist"):
        paper.figure_cells(manifest, "1", content=tmp_path / "nowhere.jpg")


@pytest.mark.parametrize("figure", ["1", "2", "3", "4"])
def test_runner_renders_a_2x2_subset_writes_grid_and_records_and_resumes(
        figure: str, tmp_path: Path, extractor, manifest: paper.Manifest, render_counter: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    size = 40
    cells = paper.figure_cells(manifest, figure, size, 2, rows=[0, 1], columns=[0, 1])
    run = paper.render_figure(manifest, cells, tmp_path, extractor, progress=False)
    assert render_counter[0] == 4 and run.rendered == 4 and len(run.records) == 4
    spec = manifest.figure(figure)
    for cell, done in zip(cells, run.cells):
        png, record = done.png, done.record
        assert png == cell.png(tmp_path) and max(Image.open(png).size) == size
        on_disk = json.loads(cell.record_path(tmp_path).read_text(encoding="utf-8"))
        assert on_disk == record
        assert record["hash"] == paper.cell_hash(cell)
        made = RunRecord.from_dict(record["run"])
        assert made == done.run and made.settings == cell.settings and made.steps_done == 2
        assert made.network_source == extractor.source and made.device == "cpu"
        assert made.content == str(cell.content.relative_to(ROOT))  # inside the working directory: relative
        assert made.paintings == (str(cell.style.relative_to(ROOT)),) and made.output == png.name
        methods = set(fusion_weights(cell.settings.method, cell.settings.fusion))
        expected_terms = methods | {"tv", "total"} | ({"content"} if cell.settings.content_weight > 0 else set())
        assert set(made.final_losses) == expected_terms == set(record["first_losses"])
        unset = cell.settings.gamma is None and not cell.settings.fusion  # Figure 1 leaves γ to the method
        assert made.gamma == (METHODS[cell.settings.method].default_gamma if unset else cell.settings.gamma)
        assert record["peak_total"] == max(record["first_losses"]["total"], made.final_losses["total"])
        assert made.seconds > 0

    grid = Image.open(run.grid)
    assert run.grid.name == "grid_rows0-1_cols0-1.png"
    inputs = spec["input_columns"]
    layout = paper.grid_layout([c.row_label for c in cells[::2]], inputs + [c.column_label for c in cells[:2]],
                               size)
    tiles = len(inputs) + 2
    assert grid.width == layout.size[0]
    assert grid.width == layout.label_width + tiles * size + (tiles + 1) * layout.gap and layout.label_width > 0
    assert layout.size[1] == layout.label_height + 2 * size + 3 * layout.gap and layout.label_height > 0
    footer = np.asarray(grid.convert("L"))[layout.size[1]:]  # the band that names the network
    assert footer.shape[0] > layout.font_size and footer.min() < 100
    assert extractor.label in paper.grid_footer(cells, extractor) and "40 px, 2 steps" in paper.grid_footer(cells, extractor)
    # The last tile of the first row is exactly the cell's PNG, centred in its square.
    cell = cells[1]
    image = np.asarray(Image.open(cell.png(tmp_path)).convert("RGB"))
    left, top, _, _ = layout.tile_box(0, tiles - 1)
    x, y = left + (size - image.shape[1]) // 2, top + (size - image.shape[0]) // 2
    np.testing.assert_array_equal(np.asarray(grid)[y:y + image.shape[0], x:x + image.shape[1]], image)
    labels = np.asarray(grid.convert("L"))[:, : layout.label_width]
    assert labels.min() < 100  # row labels were drawn

    render_counter[0] = 0
    again = paper.render_figure(manifest, cells, tmp_path, extractor, resume=True, progress=False)
    assert render_counter[0] == 0 and again.rendered == 0 and again.records == run.records
    more_steps = paper.figure_cells(manifest, figure, size, 3, rows=[0], columns=[1])
    paper.render_figure(manifest, more_steps, tmp_path, extractor, resume=True, progress=False)
    assert render_counter[0] == 1  # other parameters: a new hash, so the cell renders again


def test_cache_follows_the_image_bytes_and_the_weights(tmp_path: Path, extractor, manifest) -> None:
    content = tmp_path / "content.jpg"
    shutil.copy(ROOT / "examples" / "content" / "coffee.jpg", content)
    cell = paper.figure_cells(manifest, "3", 32, 2, rows=[0], columns=[3], content=content)[0]
    assert cell.content == content.resolve()
    done = paper.render_cell(cell, tmp_path / "out", extractor)
    assert paper.find_cell(cell, tmp_path / "out", network_source=extractor.source) == done
    assert paper.find_cell(cell, tmp_path / "out") == done  # any weights
    assert paper.find_cell(cell, tmp_path / "out", network_source="hub:other-weights") is None
    assert paper.find_cell(cell.with_run(48, 2), tmp_path / "out") is None  # a cache holds one size and steps
    assert done.run.content == str(content.resolve())  # outside the working directory (ROOT): absolute
    Image.open(content).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(content)
    assert paper.find_cell(cell, tmp_path / "out", network_source=extractor.source) is None


def test_same_seed_gives_the_same_image_on_cpu(tmp_path: Path, extractor, manifest) -> None:
    # Gaussian MMD from noise: both random parts of a run (the start image and the
    # sampled pairs) are drawn from the seed.
    cell = paper.figure_cells(manifest, "1", 32, 3, rows=[2], columns=[2])[0]
    first = paper.render_cell(cell, tmp_path / "a", extractor)
    second = paper.render_cell(cell, tmp_path / "b", extractor)
    other_seed = dataclasses.replace(cell, settings=cell.settings.replace(seed=1))
    third = paper.render_cell(other_seed, tmp_path / "c", extractor)
    a, b, c = (np.asarray(Image.open(done.png)) for done in (first, second, third))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


def test_make_grid_places_tiles_and_labels() -> None:
    red = Image.new("RGB", (30, 15), (255, 0, 0))
    blue = Image.new("RGB", (10, 20), (0, 0, 255))
    grid = paper.make_grid([[red, None], [blue, red]], ["one", "two\nlines"], ["a", "b"], 30)
    layout = paper.grid_layout(["one", "two\nlines"], ["a", "b"], 30)
    pixels = np.asarray(grid)
    left, top, right, bottom = layout.tile_box(0, 0)
    assert (pixels[top + 7:top + 22, left:right] == (255, 0, 0)).all()  # 30x15 centred in a 30-px square
    assert (pixels[top, left] == 255).all()  # letterboxed: white above it
    left, top, right, bottom = layout.tile_box(0, 1)
    assert (pixels[top:bottom, left:right] == 224).all()  # missing cell: grey square
    left, top, right, bottom = layout.tile_box(1, 0)
    assert tuple(pixels[top + 15, left + 15]) == (0, 0, 255)  # blue scaled to 15x30, centred
    assert layout.label_height > 0 and pixels[: layout.label_height].min() < 100
    with pytest.raises(NSTError, match="one row per row label"):
        paper.make_grid([[red]], ["one", "two"], ["a"], 30)


def test_rendering_reports_every_step_then_the_finished_cell(tmp_path: Path, extractor, manifest) -> None:
    cell = paper.figure_cells(manifest, "2", 32, 3, rows=[0], columns=[0])[0]
    progress = list(paper.iter_render_cell(cell, tmp_path, extractor))
    assert [p.step.step for p in progress] == [1, 2, 3, 3] and [p.done for p in progress] == [False] * 3 + [True]
    assert all(p.rendered is None for p in progress[:-1])
    done = progress[-1].rendered
    assert done.png == cell.png(tmp_path) and done.network_source == extractor.source
    assert done.record == json.loads(cell.record_path(tmp_path).read_text(encoding="utf-8"))
    assert done.run.final_losses == progress[-1].step.losses
    assert sorted(p.name for p in cell.png(tmp_path).parent.iterdir()) == ["r0_c0.json", "r0_c0.png"]  # no .tmp left


def test_cli_main_renders_resumes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              render_counter: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["2", "--manifest", str(MANIFEST), "--out", str(tmp_path), "--size", "32", "--steps", "2", "--rows", "3",
            "--columns", "0,6", "--device", "cpu", "--quiet"]
    assert paper.main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["figure"] == "2" and report["cells"] == 2 and report["rendered"] == 2
    assert report["network_source"] == load_extractor("auto", device="cpu").source  # what --network auto found
    assert Path(report["grid"]).is_file()
    record = json.loads((tmp_path / "fig2" / "r3_c6.json").read_text(encoding="utf-8"))
    last_column = json.loads(MANIFEST.read_text(encoding="utf-8"))["figures"]["2"]["columns"][6]
    settings = RunRecord.from_dict(record["run"]).settings
    assert settings.method == "bn" and settings.gamma == last_column["settings"]["gamma"]
    assert paper.main([*argv, "--resume"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rendered"] == 0
    assert render_counter[0] == 2
    assert paper.main(["5", "--manifest", str(MANIFEST), "--out", str(tmp_path), "--device", "cpu"]) == 2
    assert "unknown figure '5'; choose one of 1, 2, 3, 4" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # the default manifest is the checkout's, relative to the working directory
    assert paper.main(["1", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip() == ("error: cannot read the figure manifest "
                                               "'examples/paper/figures.json': FileNotFoundError")


def test_runner_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "nst.paper", "1", "--rows", "9", "--out", str(tmp_path)],
                          cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: figure 1 row 9 does not exist; valid: 0..3"
