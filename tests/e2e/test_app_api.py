"""The app launched as `python app.py --port N` and called through gradio_client.
Weights: conftest's fake hub checkpoint; the images are test output."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from nst.config import field_spec
from nst.recipe import read_recipe
from nst.weights import default_device
from webui import paper_tab
from webui.model import page_defaults
from webui.controls import Controls


PAPER_SIZE = 32


@pytest.fixture(scope="module")
def paper_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("paper-cache")


@pytest.fixture(scope="module")
def client(tmp_path_factory, paper_cache, running_app):
    with pytest.MonkeyPatch.context() as mp:
        # Paper cells rendered on demand: none pre-rendered, tiny, into a fresh cache, so the test renders one.
        mp.setenv(paper_tab.RENDERED_ENV, str(tmp_path_factory.mktemp("no-pre-rendered-cells")))
        mp.setenv(paper_tab.CACHE_ENV, str(paper_cache))
        mp.setenv(paper_tab.SIZE_ENV, str(PAPER_SIZE))
        mp.setenv(paper_tab.STEPS_ENV, "2")
        with running_app(tmp_path_factory.mktemp("app-cwd")) as url:
            yield Client(url, verbose=False)


def expected_size(path, size: int) -> tuple[int, int]:
    w, h = Image.open(path).size
    scale = size / max(w, h)
    return round(w * scale), round(h * scale)


def test_stylize_is_documented_with_named_parameters_and_defaults(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    endpoint = api["/stylize"]
    params = {p["parameter_name"]: p for p in endpoint["parameters"]}
    assert list(params) == ["content", "style", *Controls.names()]
    assert not params["content"]["parameter_has_default"] and not params["style"]["parameter_has_default"]
    assert params["method"]["parameter_default"] == field_spec("method")["default"]
    assert params["steps"]["parameter_default"] == page_defaults(default_device())["steps"]
    assert params["size"]["parameter_default"] == page_defaults(default_device())["size"]
    assert all(params[name]["parameter_has_default"] for name in Controls.names())
    assert "Stylize" in endpoint["description"]
    assert "/estimate" in api


def test_stylize_returns_the_final_image_at_the_requested_size_with_its_recipe(client, content_path, style_path):
    path = client.predict(handle_file(str(content_path)), handle_file(str(style_path)), size=64, steps=3,
                          method="bn", api_name="/stylize")
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == expected_size(content_path, 64)
        assert np.asarray(img.convert("RGB"), dtype=np.float32).std() > 1
    recipe = read_recipe(path)  # the file as the client downloaded it
    assert (recipe.run.settings.method, recipe.run.settings.size, recipe.run.steps_done) == ("bn", 64, 3)


def test_a_corrupt_upload_gives_a_clear_message(client, style_path, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"GIF89a but not really an image")
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(bad)), handle_file(str(style_path)), size=32, steps=1, api_name="/stylize")
    assert "content image: not a readable image file" in str(info.value)


def test_an_unknown_method_is_refused_with_the_valid_choices(client, content_path, style_path):
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(content_path)), handle_file(str(style_path)), method="gram", size=32, steps=1,
                       api_name="/stylize")
    assert "gram" in str(info.value) and "gaussian" in str(info.value)


def test_the_precision_control_reaches_the_run_through_the_api(client, content_path, style_path):
    path = client.predict(handle_file(str(content_path)), handle_file(str(style_path)), size=32, steps=2,
                          precision="bf16", api_name="/stylize")
    with Image.open(path) as img:
        assert img.size == expected_size(content_path, 32)
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(content_path)), handle_file(str(style_path)), size=32, steps=1,
                       precision="fp16", api_name="/stylize")
    assert "fp16" in str(info.value) and "bf16" in str(info.value)


def test_submit_streams_intermediate_images_then_the_final_one(client, content_path, style_path):
    job = client.submit(handle_file(str(content_path)), handle_file(str(style_path)), size=48, steps=40,
                        style_layers=["relu1_1", "relu2_1"], api_name="/stylize")
    streamed = list(job)
    assert len(streamed) >= 2  # step 1, at most two a second after that, and the last step
    assert streamed[-1] == job.result()
    sizes = {Image.open(p).size for p in streamed}
    assert sizes == {expected_size(content_path, 48)}
    first, last = (np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in (streamed[0], streamed[-1]))
    assert np.abs(first - last).mean() > 0.5


def test_the_estimate_endpoint_says_where_and_how_long(client):
    text = client.predict(256, 100, "bn", "none", "1", api_name="/estimate")
    assert text.startswith("Runs on **") and "256 px × 100 steps takes up to" in text
    text = client.predict(256, 100, "bn", "none", "2", api_name="/estimate")
    assert "128 px × 50 → 256 px × 50 steps takes up to" in text


def test_the_app_has_the_three_tabs_apis(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/stylize", "/paper_cell", "/toy_linear", "/explain_identity"} <= set(api)


def test_a_paper_cell_renders_on_demand_through_the_app(client, paper_cache):
    image, record = client.predict("2", 1, 2, api_name="/paper_cell")
    assert max(Image.open(image).size) == PAPER_SIZE
    assert (record["figure"], record["row"], record["column"]) == ("2", 1, 2)
    assert record["run"]["settings"]["method"] == "poly" and record["run"]["settings"]["gamma"] == 0.1
    assert (paper_cache / "fig2" / "r1_c2.png").is_file()


def test_a_mask_file_paints_regions_through_the_api(client, content_path, style_path, tmp_path):
    w, h = Image.open(content_path).size
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[:, : w // 2] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "left.png")
    path = client.predict(handle_file(str(content_path)), handle_file(str(style_path)), size=32, steps=2,
                          mask=handle_file(str(tmp_path / "left.png")), api_name="/stylize")
    with Image.open(path) as img:
        assert img.size == expected_size(content_path, 32)
    Image.new("RGB", (w, h), (0, 0, 255)).save(tmp_path / "blue.png")
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(content_path)), handle_file(str(style_path)), size=32, steps=1,
                       mask=handle_file(str(tmp_path / "blue.png")), api_name="/stylize")
    assert "the mask paints a region blue, for painting 3, but only 1 painting was given" in str(info.value)
