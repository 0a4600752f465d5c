"""The Paper tab: its handlers without a server, and a standalone Blocks called through
`gradio_client` like a visitor would (pre-rendered cells, on-demand rendering into the
cache, no weights). Cells are rendered with the random test extractor or conftest's fake
checkpoint at 32–40 px: test output only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import gradio as gr
import pytest
from gradio_client import Client
from PIL import Image

from nst import paper
from nst.config import Settings
from nst.errors import NSTError
from nst.weights import load_extractor
from tests.paths import ROOT
from webui import gpu, paper_cells as tab_cells, paper_tab, runs
from webui.model import SharedModel

MANIFEST = ROOT / paper.MANIFEST_PATH
SIZE, STEPS = 32, 2
PRE_SIZE = 40  # pre-rendered cells keep the size the runner used


@pytest.fixture(scope="module")
def manifest() -> paper.Manifest:
    return paper.load_manifest(MANIFEST)


def _record_gpu_requests(mp: pytest.MonkeyPatch, requests: list[int]) -> None:
    """Stand in for `spaces.GPU(duration=...)` around `webui.runs.run_on_gpu`: record the
    seconds each call asks for, then render."""
    real = runs.run_on_gpu

    def recording(job: runs.Job):
        requests.append(job.seconds)
        yield from real(job)

    mp.setattr(runs, "run_on_gpu", recording)


def _paths(tmp: Path, rendered: Path | None = None, size: int | None = SIZE,
           steps: int | None = STEPS) -> tab_cells.PaperPaths:
    return tab_cells.PaperPaths(manifest=MANIFEST, rendered=rendered or tmp / "rendered", cache=tmp / "cache",
                                size=size, steps=steps)


def _launch(model: SharedModel, paths: tab_cells.PaperPaths) -> tuple[gr.Blocks, Client]:
    with gr.Blocks() as demo:
        with gr.Tab("Paper"):
            paper_tab.build_paper_tab(model, paths)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo, Client(url, verbose=False)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, extractor, manifest) -> Iterator[dict[str, object]]:
    rendered = tmp_path_factory.mktemp("rendered")
    pre = paper.figure_cells(manifest, "3", PRE_SIZE, STEPS, rows=[0], columns=[0])[0]
    paper.render_cell(pre, rendered, extractor)
    paths = _paths(tmp_path_factory.mktemp("paper"), rendered)
    with pytest.MonkeyPatch.context() as mp:
        gpu_requests: list[int] = []
        _record_gpu_requests(mp, gpu_requests)
        demo, client = _launch(SharedModel("auto", "cpu"), paths)
        missing = tmp_path_factory.mktemp("no-weights") / "missing.safetensors"
        bare, bare_client = _launch(SharedModel(missing, "cpu"), paths)
        yield {"client": client, "bare_client": bare_client, "cache": paths.cache, "gpu": gpu_requests}
        demo.close()
        bare.close()


def test_tab_builds_with_named_events_and_renders_in_the_gpu_slot(tmp_path: Path) -> None:
    with gr.Blocks() as demo:
        with gr.Tab("Paper"):
            page = paper_tab.build_paper_tab(SharedModel("auto", "cpu"), _paths(tmp_path))
    assert [s.figure for s in page.sections] == ["1", "2", "3", "4"]
    names = {d["api_name"] for d in demo.get_config_file()["dependencies"]}
    assert names == {"paper_cell"} | {f"paper_fig{n}_{kind}" for n in "1234" for kind in ("cell", "select", "gallery")}
    rendering = [fn for fn in demo.fns.values() if fn.api_name.endswith("_cell")]
    assert len(rendering) == 5
    assert all((fn.concurrency_id, fn.concurrency_limit) == (gpu.HEAVY["concurrency_id"], 1) for fn in rendering)


def test_an_unreadable_manifest_leaves_a_notice_instead_of_the_tab(tmp_path: Path) -> None:
    paths = tab_cells.PaperPaths(tmp_path / "nowhere.json", tmp_path, tmp_path, tmp_path)
    with gr.Blocks() as demo:
        assert paper_tab.build_paper_tab(SharedModel("auto", "cpu"), paths) is None
    assert not demo.get_config_file()["dependencies"]
    notice = [c for c in demo.get_config_file()["components"] if c["type"] == "markdown"]
    assert "The paper's figures are unavailable: cannot read the figure manifest" in notice[0]["props"]["value"]


def test_paths_come_from_the_root_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (tab_cells.RENDERED_ENV, tab_cells.CACHE_ENV, tab_cells.SIZE_ENV, tab_cells.STEPS_ENV):
        monkeypatch.delenv(name, raising=False)
    default = tab_cells.PaperPaths.from_env(tmp_path)
    assert default.manifest == tmp_path / "examples" / "paper" / "figures.json"
    assert default.rendered == tmp_path / "examples" / "paper" / "rendered"
    assert (default.size, default.steps) == (None, None)
    monkeypatch.setenv(tab_cells.RENDERED_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv(tab_cells.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(tab_cells.SIZE_ENV, "96")
    monkeypatch.setenv(tab_cells.STEPS_ENV, "7")
    paths = tab_cells.PaperPaths.from_env(tmp_path)
    assert (paths.rendered, paths.cache, paths.size, paths.steps) == (tmp_path / "mine", tmp_path / "cache", 96, 7)
    assert set(tab_cells.allowed_paths(paths)) == {str(tmp_path / "mine"), str(tmp_path / "cache")}
    monkeypatch.setenv(tab_cells.SIZE_ENV, "big")
    with pytest.raises(NSTError, match=r"^\$NST_PAPER_SIZE must be a whole number, got 'big'$"):
        tab_cells.PaperPaths.from_env(tmp_path)


def test_on_demand_size_and_steps_default_to_the_model_s_device(tmp_path: Path, manifest) -> None:
    cells = tab_cells.PaperCells(SharedModel("auto", "cpu"), manifest, _paths(tmp_path, size=None, steps=None))
    assert (cells.size, cells.steps) == tuple(tab_cells.CPU_CELL.values())
    assert cells.cell("2", 1, 3).settings.size == tab_cells.CPU_CELL["size"]
    assert cells.cell("2", 1, 3).settings.scale_plan() == ((256, 100),)  # the paper's way: one scale
    chosen = tab_cells.PaperCells(SharedModel("auto", "cpu"), manifest, _paths(tmp_path, size=64, steps=5))
    assert (chosen.size, chosen.steps) == (64, 5)
    assert (chosen.cell("2", 1, 3).settings.size, chosen.cell("2", 1, 3).settings.steps) == (64, 5)


def test_the_gpu_reservation_follows_the_cell_s_size_steps_and_methods(manifest) -> None:
    cell = paper.figure_cells(manifest, "4", 256, 100, rows=[2], columns=[3])[0]  # linear + Gaussian
    service = runs.Runs(SharedModel("auto", "cuda"))
    seconds = service.job(runs.PaperCell(cell, Path("cache"))).seconds
    assert seconds == gpu.reservation(cell.settings) > gpu.reservation(cell.settings.replace(fusion=(), method="linear"))
    assert service.job(runs.PaperCell(cell.with_run(1024, 300), Path("cache"))).seconds > seconds


def test_work_a_zero_gpu_reservation_would_cut_short_is_refused_before_asking(tmp_path, manifest, monkeypatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    requests: list[int] = []
    _record_gpu_requests(monkeypatch, requests)
    cells = tab_cells.PaperCells(SharedModel("auto", "cpu"), manifest, _paths(tmp_path, size=2048, steps=5000))
    with pytest.raises(gr.Error, match="more than the 120 s ZeroGPU lends at once"):
        list(cells.show("1", 0, 0))
    assert requests == []


def test_a_gallery_click_shows_that_cell_or_says_it_is_not_rendered(tmp_path, manifest, extractor) -> None:
    cells = tab_cells.PaperCells(SharedModel("auto", "cpu"), manifest, _paths(tmp_path))
    figure = tab_cells.FigureCells(cells, "2")  # 9 columns
    done = paper.render_cell(cells.cell("2", 1, 4), tmp_path / "cache", extractor)
    shown = figure.select(gr.SelectData(None, {"index": 9 + 4, "value": None}))
    assert shown == {"row": 1, "column": 4, "image": str(done.png), "record": done.record}
    missing = figure.select(gr.SelectData(None, {"index": 2 * 9, "value": None}))
    assert (missing["row"], missing["column"], missing["image"]) == (2, 0, None)
    assert missing["record"]["status"] == "not rendered yet: press Render"
    assert missing["record"]["settings"]["size"] == SIZE


def test_the_app_finds_what_the_runner_wrote_and_the_runner_resumes_what_the_app_rendered(
        tmp_path: Path, manifest, render_counter: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    """One lookup (`nst.paper.find_cell`): a runner's output folder serves as the app's
    pre-rendered folder (at the runner's size) or as its cache (at the same size and steps),
    and the runner's `--resume` keeps cells the app rendered into its cache."""
    runner_out = tmp_path / "runner"
    argv = ["1", "--manifest", str(MANIFEST), "--out", str(runner_out), "--size", str(PRE_SIZE), "--steps", "2",
            "--rows", "1", "--columns", "2", "--device", "cpu", "--quiet", "--network", "auto"]
    assert paper.main(argv) == 0 and render_counter[0] == 1
    written = json.loads((runner_out / "fig1" / "r1_c2.json").read_text(encoding="utf-8"))
    model = SharedModel("auto", "cpu")
    as_prerendered = tab_cells.PaperCells(model, manifest, _paths(tmp_path / "a", rendered=runner_out))
    as_cache = tab_cells.PaperCells(model, manifest, tab_cells.PaperPaths(
        MANIFEST, rendered=tmp_path / "b", cache=runner_out, size=PRE_SIZE, steps=2))
    for cells in (as_prerendered, as_cache):
        assert [out["record"] for out in cells.show("1", 1, 2)] == [written]
    assert render_counter[0] == 1

    app = tab_cells.PaperCells(model, manifest, _paths(tmp_path / "app"))
    *frames, final = app.show("1", 3, 0)
    assert render_counter[0] == 2 and final["record"]["run"]["settings"]["size"] == SIZE
    resume = ["1", "--manifest", str(MANIFEST), "--out", str(tmp_path / "app" / "cache"), "--size", str(SIZE),
              "--steps", str(STEPS), "--rows", "3", "--columns", "0", "--device", "cpu", "--quiet", "--resume"]
    capsys.readouterr()
    assert paper.main(resume) == 0 and render_counter[0] == 2
    assert json.loads(capsys.readouterr().out)["rendered"] == 0


def test_cell_renders_on_demand_then_comes_from_the_cache(apps, render_counter: list[int]) -> None:
    client = apps["client"]
    requested = len(apps["gpu"])
    image, record = client.predict("1", 0, 1, api_name="/paper_cell")
    assert render_counter[0] == 1
    asked = gpu.reservation(Settings(method="linear", size=SIZE, steps=STEPS))
    assert apps["gpu"][requested:] == [asked]  # rendering asks for a GPU
    assert max(Image.open(image).size) == SIZE
    assert (record["figure"], record["row"], record["column"]) == ("1", 0, 1)
    assert record["run"]["settings"]["layer_weights"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert record["run"]["settings"]["size"] == SIZE and record["run"]["settings"]["steps"] == STEPS
    assert record["run"]["network_source"] == load_extractor("auto", device="cpu").source  # the shared model's
    assert (apps["cache"] / "fig1" / "r0_c1.png").is_file()
    again, same = client.predict("1", 0, 1, api_name="/paper_cell")
    assert render_counter[0] == 1 and same == record
    assert len(apps["gpu"]) == requested + 1  # a cached cell does not
    gallery = client.predict(api_name="/paper_fig1_gallery")
    assert len(gallery) == 4 * 5
    assert gallery[1]["caption"].startswith("linear · layer 2") and "not rendered" not in gallery[1]["caption"]
    assert gallery[0]["caption"] == "linear · layer 1 (not rendered yet)"


def test_prerendered_cell_is_served_without_rendering(apps, render_counter: list[int]) -> None:
    requested = len(apps["gpu"])
    image, record = apps["client"].predict("3", 0, 0, api_name="/paper_cell")
    assert render_counter[0] == 0 and len(apps["gpu"]) == requested
    assert record["run"]["settings"]["size"] == PRE_SIZE and max(Image.open(image).size) == PRE_SIZE
    gallery = apps["client"].predict(api_name="/paper_fig3_gallery")
    assert gallery[0]["caption"].endswith("(random test weights, not a stylization)")


def test_section_button_streams_and_refreshes_the_gallery(apps, render_counter: list[int]) -> None:
    job = apps["client"].submit(2, 3, api_name="/paper_fig4_cell")
    outputs = list(job)
    assert render_counter[0] == 1 and len(outputs) >= 2
    assert outputs[0][1]["status"] == "rendering: step 1 of 2"
    image, record, gallery = job.result()
    assert "status" not in record and record["run"]["settings"]["fusion"] == [["linear", 0.25], ["gaussian", 0.75]]
    assert len(gallery) == 4 * 5 and "not rendered" not in gallery[2 * 5 + 3]["caption"]


def test_without_weights_the_message_shows_and_rendered_cells_still_do(apps, render_counter) -> None:
    bare = apps["bare_client"]
    requested = len(apps["gpu"])
    with pytest.raises(Exception, match=r"missing.safetensors' does not exist\nTo fix it"):
        bare.predict("2", 0, 0, api_name="/paper_cell")
    assert len(apps["gpu"]) == requested  # refused before a GPU is asked for
    _, record = bare.predict("3", 0, 0, api_name="/paper_cell")
    assert record["run"]["settings"]["size"] == PRE_SIZE and render_counter[0] == 0


def test_bad_cell_index_is_a_one_line_error(apps) -> None:
    with pytest.raises(Exception, match=r"figure 1 row 9 does not exist; valid: 0\.\.3"):
        apps["client"].predict("1", 9, 0, api_name="/paper_cell")
