"""`nst.RunRecord`: built by `run_record`, written as JSON, read back by `from_json`, which
refuses a malformed or hostile file in one line; older records rewritten by
`scripts/upgrade_records.py`, and the committed paper cells in the current layout."""

from __future__ import annotations

import dataclasses
import json

import pytest

import nst
from nst import NSTError, Request, RunRecord, Settings, run_record
from nst import paper
from nst.paper.cells import CELL_KEYS, inputs_hash
from nst.record import read_json
from scripts.upgrade_records import NOT_RECORDED, main as upgrade_main, upgrade
from tests.paths import EXAMPLES, ROOT

RENDERED = EXAMPLES / "paper" / "rendered"


@pytest.fixture
def record(extractor, content_path, style_path) -> RunRecord:
    """A finished record whose settings hold every kind of tuple."""
    settings = Settings(fusion=(("bn", 0.25), ("poly", 0.75)), style_layers=("relu1_1", "relu2_1"),
                        layer_weights=(2.0, 1.0), painting_weights=(0.7, 0.3), style_blend="sum", size=64, steps=4,
                        scales=2)
    inputs = Request(content_path, [style_path, style_path], settings)
    return run_record(inputs, extractor, steps_done=4, final_losses={"bn": 0.5, "total": 1.25}, seconds=1.5,
                      output="out.png")


def test_a_record_survives_json_whole(record, content_path, style_path):
    assert RunRecord.from_json(record.to_json()) == record
    assert RunRecord.from_json(record.to_json(indent=None)) == record
    back = RunRecord.from_json(record.to_json())
    assert back.settings.fusion == (("bn", 0.25), ("poly", 0.75)) and back.settings.layer_weights == (2.0, 1.0)
    assert back.scales == ((32, 2), (64, 2)) and back.paintings == (str(style_path),) * 2
    assert (back.content, back.regions, back.version, back.gamma) == (str(content_path), None, nst.__version__,
                                                                      record.settings.gamma_used())


def _broken(record: RunRecord, **changes) -> str:
    return json.dumps({**record.to_dict(), **changes})


@pytest.mark.parametrize("text, message", [
    (lambda r: "{not json", "run record: not JSON"),
    (lambda r: "[" * 100_000 + "]" * 100_000, "run record: not JSON"),
    (lambda r: "[1, 2]", "run record: expected a JSON object, got list"),
    (lambda r: _broken(r, styles=["a.jpg"]), "run record: unknown key(s) styles; a record has settings, gamma"),
    (lambda r: json.dumps({k: v for k, v in r.to_dict().items() if k != "device"}),
     "run record: missing key(s) device"),
    (lambda r: _broken(r, gamma="5"), "run record: gamma '5' is not a number"),
    (lambda r: _broken(r, steps_done=True), "run record: steps_done True is not a whole number"),
    (lambda r: _broken(r, scales=[[64, "2"]]), "run record: scales [[64, '2']] is not a list of [size, steps] pairs"),
    (lambda r: _broken(r, final_losses={"total": None}), "run record: final_losses {'total': None} is not an object"),
    (lambda r: _broken(r, settings={**r.to_dict()["settings"], "colour": "red"}),
     "run record: bad settings: unknown setting(s) colour"),
    (lambda r: _broken(r, settings={**r.to_dict()["settings"], "size": "big"}),
     "run record: bad settings: size: 'big' is not of type int"),
    (lambda r: _broken(r, settings={**r.to_dict()["settings"], "fusion": [["bn", "half"]]}),
     "run record: bad settings: fusion: [['bn', 'half']] is not of type tuple[tuple[str, float], ...]"),
    (lambda r: _broken(r, settings={**r.to_dict()["settings"], "steps": 0}),
     "run record: bad settings: steps must be between 1 and 5000"),
])
def test_a_malformed_record_is_refused_in_one_line(record, text, message):
    with pytest.raises(NSTError) as info:
        RunRecord.from_json(text(record))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_record_file_larger_than_any_record_is_refused_unread(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(" " * 2_000_000 + "{}")
    with pytest.raises(NSTError, match="larger than 1,000,000 bytes"):
        read_json(big)


def test_every_committed_paper_cell_holds_a_run_record():
    records = sorted(RENDERED.rglob("r*_c*.json"))
    assert len(records) == 100
    for path in records:
        data = read_json(path)
        assert set(data) == {*CELL_KEYS, "run"}
        run = RunRecord.from_dict(data["run"])
        assert run.output == path.with_suffix(".png").name and run.steps_done == run.settings.steps


def _as_0_1(run: dict) -> dict:
    """A run record as nst 0.1.0 wrote it, before `mix`, `style_weights` and `weights` were renamed."""
    old_names = {"fusion": "mix", "painting_weights": "style_weights", "network_source": "weights"}
    return {old_names.get(k, k): ({old_names.get(s, s): v for s, v in value.items()} if k == "settings" else value)
            for k, value in run.items()}


def test_older_records_are_rewritten_in_the_current_layout(record, tmp_path, capsys):
    new = _as_0_1(record.to_dict())
    cli = {"output": "out/cat.png", "seconds": 1.5, "device": "cpu", "network": new["network"],
           "weights": new["weights"], "optimizer": new["optimizer"], "gamma": new["gamma"], "scales": new["scales"],
           "styles": new["paintings"], "mask": None, "final_losses": new["final_losses"],
           "settings": new["settings"]}
    cell = {"figure": "1", "row": 0, "column": 0, "row_label": "linear", "column_label": "layer 1",
            "image": "r0_c0.png", "content": "examples/content/chelsea_cat.jpg", "style": "examples/style/a.jpg",
            "hash": "936793d6e0c532612aba", "settings": new["settings"], "first_losses": {"total": 4.0},
            "final_losses": {"total": 1.0}, "peak_total": 4.0, "seconds": 2.27, "device": "cpu",
            "network": new["network"], "weights": new["weights"], "optimizer": "adam", "gamma": 5.0,
            "torch": "2.14.1", "created": "2026-12-02T19:35:28+00:00"}
    from_cli = RunRecord.from_dict(upgrade(cli))
    assert from_cli == dataclasses.replace(record, content=NOT_RECORDED, output="out/cat.png", version=NOT_RECORDED,
                                           torch=NOT_RECORDED, created=NOT_RECORDED, tiles=())
    from_cell = upgrade(cell)
    assert {k: from_cell[k] for k in CELL_KEYS} == {k: cell[k] for k in CELL_KEYS}
    run = RunRecord.from_dict(from_cell["run"])
    assert (run.content, run.paintings, run.output, run.regions) == (cell["content"], (cell["style"],), "r0_c0.png",
                                                                     None)
    assert (run.scales, run.steps_done, run.torch, run.created) == (((32, 2), (64, 2)), 4, "2.14.1", cell["created"])
    assert upgrade(from_cell) is None and upgrade(record.to_dict()) is None  # the current layout stays as it is
    assert RunRecord.from_dict(upgrade(new)) == record  # a record of 0.1.0
    (tmp_path / "a.json").write_text(json.dumps(cli))
    (tmp_path / "b.json").write_text(record.to_json())
    assert upgrade_main([str(tmp_path)]) == 0 and capsys.readouterr().out.strip() == "1 of 2 records rewritten"
    assert RunRecord.from_json((tmp_path / "a.json").read_text()) == from_cli
    (tmp_path / "c.json").write_text('{"output": "x.png"}')
    assert upgrade_main([str(tmp_path / "c.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'c.json'}: not a record of a known layout")


def test_a_record_lists_its_scales_tiles_and_one_written_before_tiles_reads_back(record):
    assert record.tiles == ((32, 0, 1), (64, 0, 1))  # both scales whole on the CPU's budget
    older = record.to_dict()
    del older["tiles"]
    assert RunRecord.from_dict(older) == dataclasses.replace(record, tiles=())
    with pytest.raises(NSTError, match=r"run record: tiles \[\[64, 1\]\] is not a list of \[tile, halo, tiles\]"):
        RunRecord.from_dict({**record.to_dict(), "tiles": [[64, 1]]})


def test_a_record_written_before_auto_and_early_stopping_reads_back(record):
    """Such a record's run went to its last step in its settings' precision."""
    assert record.precision == "fp32" and record.stopped is None  # "auto" resolved on this (simulated) CPU
    older = record.to_dict()
    del older["precision"], older["stopped"]
    older["settings"] = {**older["settings"], "precision": "bf16"}
    assert RunRecord.from_dict(older).precision == "bf16"
    with pytest.raises(NSTError, match="run record: precision 'auto' is not fp32 or bf16"):
        RunRecord.from_dict({**record.to_dict(), "precision": "auto"})


@pytest.mark.parametrize("stale", [False, True])
def test_a_cell_of_0_1_is_found_again_once_upgraded_unless_it_was_stale(tmp_path, monkeypatch, stale):
    monkeypatch.chdir(ROOT)  # a cell's record names its inputs relative to the repository
    cell = next(c for c in paper.figure_cells(paper.load_manifest(ROOT / paper.MANIFEST_PATH), "3")
                if (c.row, c.column) == (2, 3))
    current = read_json(cell.record_path(RENDERED))
    run = _as_0_1(current["run"])
    old_hash = "0" * 20 if stale else inputs_hash(run["settings"], cell.content, cell.style)
    cell.png(tmp_path).parent.mkdir()
    cell.png(tmp_path).write_bytes(cell.png(RENDERED).read_bytes())
    cell.record_path(tmp_path).write_text(json.dumps({**current, "hash": old_hash, "run": run}))
    assert paper.find_cell(cell, tmp_path, prerendered=tmp_path) is None
    assert upgrade_main([str(tmp_path)]) == 0
    found = paper.find_cell(cell, tmp_path, prerendered=tmp_path)
    assert (found is None) if stale else (found.record == current)
