"""Share and reproduce in a real browser (Playwright driving Debian's chromium) against `python app.py`:
a Share link opened in another page, a result PNG dropped back on the page, Your runs after a reload.

Weights as in tests/e2e/test_browser.py; one run of 4 steps at 64 px, test output. The app keeps
its links in a temporary folder (`NST_LINKS_DIR`).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from tests.e2e.test_browser import RUN_TIMEOUT_MS, open_page, page_with_a_run_set_up, shown_result, wait_for_status


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, running_app):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NST_LINKS_DIR", str(tmp_path_factory.mktemp("links")))
        with running_app(tmp_path_factory.mktemp("app-cwd")) as url:
            yield url


@pytest.fixture(scope="module")
def made(app_url, browser):
    """A page after one finished run (64 px, 4 steps), and its result as the browser got it."""
    page = page_with_a_run_set_up(browser, app_url, 64, 4)
    page.click("#stylize-button")
    wait_for_status(page, "Done: 4 steps")
    yield page, shown_result(page)
    page.close()


def controls_of(page) -> dict[str, str]:
    return {name: page.locator(f"#{name} input[type=number]").input_value() for name in ("size", "steps")}


def same_pixels(a, b) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_a_share_link_opens_the_result_with_its_settings_and_images(made, browser):
    page, result = made
    page.click("#share-button")
    box = page.locator("#share-link textarea")
    page.wait_for_function("() => document.querySelector('#share-link textarea').value.startsWith('http')",
                           timeout=RUN_TIMEOUT_MS)
    link = box.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?run=[0-9a-f]{32}", link), link
    other = browser.new_page(viewport={"width": 1280, "height": 900})  # another visitor: a fresh browser context
    other.goto(link)
    other.locator("#status p").get_by_text("A shared run").wait_for(timeout=RUN_TIMEOUT_MS)
    assert same_pixels(shown_result(other), result)
    assert controls_of(other) == {"size": "64", "steps": "4"}
    for image in ("#content-image img", "#style-image img"):  # the photo and the painting came with it
        other.wait_for_function(f"() => {{ const i = document.querySelector('{image}');"
                                " return i && i.complete && i.naturalWidth > 0; }")
    other.close()


def test_a_result_png_dropped_on_the_page_restores_its_settings(made, browser, app_url, tmp_path):
    page, result = made
    png = tmp_path / "downloaded.png"
    src = page.locator("#result img").get_attribute("src")
    png.write_bytes(page.request.get(src).body())  # the file behind the download button
    fresh = open_page(browser, app_url)
    assert controls_of(fresh) != {"size": "64", "steps": "4"}
    fresh.locator("#restore-file input[type=file]").set_input_files(str(png))
    fresh.locator("#status p").get_by_text(re.compile(r"^Restored the settings of downloaded\.png")).wait_for(
        timeout=RUN_TIMEOUT_MS)
    assert controls_of(fresh) == {"size": "64", "steps": "4"}
    assert same_pixels(shown_result(fresh), result)
    fresh.close()


def test_a_png_without_a_recipe_gets_one_line(browser, app_url, tmp_path):
    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "plain.png")
    page = open_page(browser, app_url)
    page.locator("#restore-file input[type=file]").set_input_files(str(tmp_path / "plain.png"))
    page.get_by_text(re.compile(r"plain\.png: no nst recipe in it")).first.wait_for(timeout=RUN_TIMEOUT_MS)
    page.close()


def test_your_runs_survive_a_reload(made):
    page, _ = made
    page.reload()
    page.wait_for_selector("#stylize-button")
    page.locator("#history img").first.wait_for(timeout=RUN_TIMEOUT_MS)  # the thumbnail, from localStorage
    page.locator("#history img").first.click()
    page.wait_for_function("() => document.querySelector('#steps input[type=number]').value === '4'",
                           timeout=RUN_TIMEOUT_MS)
    assert controls_of(page)["size"] == "64"
