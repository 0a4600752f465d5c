"""The Explore tab in a real browser against `python app.py` (weights as in test_browser.py):
the example pair's six cells at the page's preview size, the map, and a cell opened in Stylize."""

from __future__ import annotations

import pytest

from nst.config import CPU_PRESET
from nst.explore import PREVIEW
from nst.methods import METHODS
from tests.paths import ARTIFACTS

# Six cells of 60 steps at 128 px: about a minute on two quiet cores, several on a busy CI machine.
EXPLORE_TIMEOUT_MS = 10 * 60_000


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, running_app):
    with running_app(tmp_path_factory.mktemp("app-cwd")) as url:
        yield url


def test_explore_fills_every_cell_draws_the_map_and_a_cell_opens_in_stylize(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url)
    page.get_by_role("tab", name="Explore").click()
    page.click("#explore-button")  # the example pair is there from the start
    page.locator("#explore-status p").get_by_text(f"All {len(METHODS)} cells").wait_for(timeout=EXPLORE_TIMEOUT_MS)
    assert page.locator("#explore-gallery img").count() == len(METHODS)
    captions = page.locator("#explore-gallery").inner_text()
    assert all(f"{name}: Gram" in captions for name in METHODS)
    page.locator("#explore-map canvas, #explore-map svg").first.wait_for()
    assert page.locator("#explore-sentence").inner_text().startswith("Of the cells that close at least")
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)

    page.locator("#explore-gallery img").nth(list(METHODS).index("gaussian")).click()
    page.wait_for_selector("#stylize-button", state="visible")
    page.wait_for_function("() => [...document.querySelectorAll('input[type=radio][value=gaussian]')]"
                           ".some(r => r.checked)")
    steps = page.locator("#steps input[type=number]").input_value()
    assert steps == str(CPU_PRESET["steps"]) != str(PREVIEW["cpu"]["steps"])  # a full-size run, not the preview
    assert page.locator("#content-image img").count() == 1 and page.locator("#style-image img").count() == 1
    page.close()
