"""The Paper tab in a standalone Blocks, called through `gradio_client` like a visitor
would: pre-rendered cells, on-demand rendering into the cache, and no weights. Cells
are rendered with the random test extractor at 32–40 px: test output only."""

from __future__ import annotations

from typing import Iterator

import gradio as gr
import pytest
from gradio_client import Client
from PIL import Image

from nst import paper
from nst.errors import NSTError
from webui import paper_tab

SIZE, STEPS = 32, 2
PRE_SIZE = 40  # pre-rendered cells keep the size the runner used


def _no_weights():
    raise NSTError("no VGG-19 weights found (test). To fix: provide them")


def _launch(get_extractor, gpu=None) -> tuple[gr.Blocks, Client]:
    with gr.Blocks() as demo:
        with gr.Tab("Paper"):
            paper_tab.build_paper_tab(get_extractor, gpu=gpu, size=SIZE, steps=STEPS)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo, Client(url, verbose=False)


def _recording_gpu(requests: list[int]):
    """Stands in for `spaces.GPU(duration=...)`: records the seconds each call asks for."""
    def decorator_for(duration):
        def decorate(fn):
            def wrapped(*args):
                requests.append(duration(*args))
                yield from fn(*args)
            return wrapped
        return decorate
    return decorator_for


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, extractor) -> Iterator[dict[str, object]]:
    rendered = tmp_path_factory.mktemp("rendered")
    cache = tmp_path_factory.mktemp("cache")
    pre = paper.figure_cells("3", PRE_SIZE, STEPS, rows=[0], columns=[0])[0]
    paper.render_cell(pre, rendered, extractor)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(paper_tab.RENDERED_ENV, str(rendered))
        mp.setenv(paper_tab.CACHE_ENV, str(cache))
        gpu_requests: list[int] = []
        demo, client = _launch(lambda: extractor, gpu=_recording_gpu(gpu_requests))
        bare, bare_client = _launch(_no_weights)
        yield {"demo": demo, "client": client, "bare_client": bare_client, "cache": cache, "gpu": gpu_requests}
        demo.close()
        bare.close()



def test_tab_builds_with_named_events(extractor, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paper_tab.CACHE_ENV, str(tmp_path))  # the galleries draw their placeholder here
    with gr.Blocks() as demo:
        with gr.Tab("Paper"):
            paper_tab.build_paper_tab(lambda: extractor, size=SIZE, steps=STEPS)
    names = {d["api_name"] for d in demo.get_config_file()["dependencies"]}
    assert names == {"paper_cell"} | {f"paper_fig{n}_{kind}" for n in "1234" for kind in ("cell", "select", "gallery")}


def test_cell_renders_on_demand_then_comes_from_the_cache(apps, render_counter: list[int]) -> None:
    client = apps["client"]
    requested = len(apps["gpu"])
    image, record = client.predict("1", 0, 1, api_name="/paper_cell")
    assert render_counter[0] == 1
    assert len(apps["gpu"]) == requested + 1 and apps["gpu"][-1] > 0  # rendering asks for a GPU
    assert max(Image.open(image).size) == SIZE
    assert (record["figure"], record["row"], record["column"]) == ("1", 0, 1)
    assert record["settings"]["layer_weights"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert record["settings"]["size"] == SIZE and record["settings"]["steps"] == STEPS
    assert (apps["cache"] / "fig1" / "r0_c1.png").is_file()
    again, same = client.predict("1", 0, 1, api_name="/paper_cell")
    assert render_counter[0] == 1 and same == record
    assert len(apps["gpu"]) == requested + 1  # a cached cell does not
    gallery = client.predict(api_name="/paper_fig1_gallery")
    assert len(gallery) == 4 * 5
    assert gallery[1]["caption"].startswith("linear · layer 2") and "not rendered" not in gallery[1]["caption"]
    assert gallery[0]["caption"] == "linear · layer 1 (not rendered yet)"


def test_prerendered_cell_is_served_without_rendering(apps, render_counter: list[int]) -> None:
    image, record = apps["client"].predict("3", 0, 0, api_name="/paper_cell")
    assert render_counter[0] == 0
    assert record["settings"]["size"] == PRE_SIZE and max(Image.open(image).size) == PRE_SIZE


def test_section_button_streams_and_refreshes_the_gallery(apps, render_counter: list[int]) -> None:
    job = apps["client"].submit(2, 3, api_name="/paper_fig4_cell")
    outputs = list(job)
    assert render_counter[0] == 1 and len(outputs) >= 2
    assert outputs[0][1]["status"].startswith("rendering: step 1 of 2")
    image, record, gallery = job.result()
    assert record["settings"]["mix"] == [["linear", 0.25], ["gaussian", 0.75]]
    assert len(gallery) == 4 * 5 and "not rendered" not in gallery[2 * 5 + 3]["caption"]


def test_without_weights_the_message_shows_and_rendered_cells_still_do(apps, render_counter) -> None:
    bare = apps["bare_client"]
    with pytest.raises(Exception, match="no VGG-19 weights found"):
        bare.predict("2", 0, 0, api_name="/paper_cell")
    _, record = bare.predict("3", 0, 0, api_name="/paper_cell")
    assert record["settings"]["size"] == PRE_SIZE and render_counter[0] == 0


def test_bad_cell_index_is_a_one_line_error(apps) -> None:
    with pytest.raises(Exception, match=r"figure 1 row 9 does not exist; valid: 0\.\.3"):
        apps["client"].predict("1", 9, 0, api_name="/paper_cell")
