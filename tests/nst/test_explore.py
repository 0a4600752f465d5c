"""`nst.explore`: every distance on one photo and painting, measured; and `python -m nst explore`.
Runs use conftest's seeded random extractor, except the CLI's (the installed network)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from nst import METHODS, NSTError, Request, Settings
from nst.__main__ import main
from nst.explore import (FUSIONS, GAMMA_STRIP, PREVIEW, ExploreCell, Explored, explore_figures, explore_grid,
                         gamma_cells, iter_explore, map_sentence, method_cells, preview_settings, scatter_png)
from nst.yardstick import Yardstick

TINY = {"size": 32, "steps": 3}


def test_the_cells_are_every_method_at_its_default_gamma_or_one_method_over_a_strip():
    base = preview_settings("cpu")
    assert (base.size, base.steps, base.scale_plan()) == (PREVIEW["cpu"]["size"], PREVIEW["cpu"]["steps"],
                                                          ((64, 30), (128, 30)))
    cells = method_cells(base, fusions=True)
    assert [c.label for c in cells] == [*METHODS, "bn + poly", "linear + gaussian"]
    assert [c.settings.gamma_used() for c in cells[:len(METHODS)]] == [m.default_gamma for m in METHODS.values()]
    assert [c.settings.fusion for c in cells[len(METHODS):]] == list(FUSIONS)
    strip = gamma_cells(base, "bn")
    assert [c.settings.gamma for c in strip] == [METHODS["bn"].default_gamma * k for k in GAMMA_STRIP]
    assert {c.settings.method for c in strip} == {"bn"} and len({c.label for c in strip}) == len(GAMMA_STRIP)


def test_every_cell_moves_towards_the_painting_from_inputs_decoded_once(extractor, content_path, style_path,
                                                                         tmp_path):
    photo, painting = (Path(shutil.copy(p, tmp_path)) for p in (content_path, style_path))
    base = Settings(**TINY)
    request = Request(photo, painting, base)
    for path in (photo, painting):  # every cell must run from the decoded images, not the files
        path.unlink()
    cells = method_cells(base)
    frames = list(iter_explore(request, cells, extractor))
    done = [f for f in frames if f is not None]
    assert [d.cell for d in done] == cells and len(frames) == len(cells) * TINY["steps"]
    for d in done:
        assert d.image.size == (32, 21), d.cell.label
        assert d.yardstick.gram_gap_closed > 0 and d.yardstick.content_change > 0, d.cell.label


def test_a_cell_the_request_cannot_run_is_refused_before_any_step(extractor, content_path, style_path):
    request = Request(content_path, [style_path, style_path], Settings(**TINY))
    with pytest.raises(NSTError, match="painting_weights has 3 entries"):
        next(iter_explore(request, [ExploreCell("x", Settings(**TINY, painting_weights=(1, 1, 1)))], extractor))


def _explored(label: str, gram: float, change: float) -> Explored:
    return Explored(ExploreCell(label, Settings()), Image.new("RGB", (8, 8)), Yardstick(gram, 0.5, change, {}), 1.0)


def test_the_sentence_names_the_cell_that_keeps_most_of_the_photo_among_the_more_styled_half():
    done = [_explored("a", 0.9, 0.7), _explored("b", 0.8, 0.4), _explored("c", 0.5, 0.1), _explored("d", 0.7, 0.3)]
    # median Gram share 0.7: of a, b and d, d moved the content least (c, less styled, is left out)
    assert map_sentence(done).startswith("Of the cells that close at least 0.70 of the Gram gap (the median), d keeps")
    assert "content change 0.30" in map_sentence(done) and map_sentence([]) == ""


def test_the_grid_the_scatter_and_the_figures_show_every_cell():
    done = [_explored("a", 0.9, 0.7), _explored("b", 0.8, 0.4)]
    photo, painting = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (30, 40), "blue")
    grid = explore_grid(photo, painting, done, tile=64)
    colours = {colour: count for count, colour in grid.getcolors(grid.width * grid.height)}
    # the photo and the painting fitted into 64 px tiles, and the two (black) cells
    assert colours[(255, 0, 0)] == 64 * 48 and colours[(0, 0, 255)] == 48 * 64 and colours[(0, 0, 0)] >= 2 * 64 * 64
    red = [x for x in range(grid.width) if grid.getpixel((x, grid.height // 2)) == (255, 0, 0)]
    blue = [x for x in range(grid.width) if grid.getpixel((x, grid.height // 2)) == (0, 0, 255)]
    assert max(red) < min(blue)  # photo, then painting, then the cells
    scatter = Image.open(io.BytesIO(scatter_png(done, "judge net")))
    assert scatter.format == "PNG" and scatter.width >= 400
    rows = explore_figures(done, "judge net")
    assert [(r["label"], r["gram_gap_closed"], r["content_change"], r["judged_on"]) for r in rows] == [
        ("a", 0.9, 0.7, "judge net"), ("b", 0.8, 0.4, "judge net")]
    assert Settings.from_dict(json.loads(json.dumps(rows[0]["settings"]))) == Settings()


def test_the_cli_writes_the_grid_the_scatter_and_the_figures(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["explore", str(content_path), str(style_path), "-o", str(out), "--size", "32", "--steps", "2",
                 "--gamma-strip", "poly", "--judge", "same", "--device", "cpu", "--quiet"]) == 0
    figures = json.loads(out.with_suffix(".json").read_text())
    assert [c["gamma"] for c in figures["cells"]] == [METHODS["poly"].default_gamma * k for k in GAMMA_STRIP]
    assert figures["judged_on"] == figures["network"] and figures["sentence"] in capsys.readouterr().out
    assert Image.open(out).width > 6 * 100 and Image.open(tmp_path / "grid_scatter.png").format == "PNG"


def test_the_cli_refuses_a_bad_photo_before_loading_a_network(tmp_path, style_path, capsys, monkeypatch):
    import nst.explore_cli as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("loaded a network first"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["explore", str(bad), str(style_path), "-o", str(tmp_path / "g.png")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: content image: not a readable image file")
