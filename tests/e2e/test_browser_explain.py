"""A real browser (Playwright driving Debian's chromium) on the "Why it works" tab.

The 2-D playground is driven in the full app (`python app.py`), opened at its tab; its
screenshot goes to tests/artifacts/explain.png (git-ignored; the README's picture comes
from `python -m scripts.docs_images`). The tab's own upload boxes, used when it stands alone, are checked in a
standalone Blocks on conftest's fake hub checkpoint (seeded random weights): test output, never a stylization.
"""

from __future__ import annotations

import re

import gradio as gr
import pytest

from tests.paths import ARTIFACTS, EXAMPLES
from webui.explain_frames import SOURCE, TARGET
from webui.explain_tab import build_explain_tab
from webui.model import SharedModel

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def app_page(browser, tmp_path_factory, running_app):
    with running_app(tmp_path_factory.mktemp("app-cwd")) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="Why it works").click()
        page.wait_for_selector("#toy-scatter svg", timeout=TIMEOUT_MS)
        yield page


@pytest.fixture(scope="module")
def page(browser):
    from app import CSS, THEME  # the standalone tab should look like the app

    with gr.Blocks(title="Why it works") as demo:
        with gr.Tab("Why it works"):
            build_explain_tab(SharedModel("auto", "cpu"), examples=EXAMPLES)
    demo.queue(default_concurrency_limit=1)
    _, local_url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, theme=THEME,
                                  css=CSS)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(local_url)
    page.wait_for_selector("#toy-scatter svg", timeout=TIMEOUT_MS)
    yield page
    demo.close()


# Gradio's table keeps a hidden <tr> for measuring; the visible rows carry role="row".
ROW_NUMBERS = """(name) => {
    const rows = [...document.querySelectorAll('#toy-stats [role=row]')].map(r => r.innerText.trim().split('\\n'));
    const row = rows.find(cells => cells[0].trim() === name);
    return row ? row.slice(1).map(parseFloat) : null;
}"""


def cloud_stats(page) -> dict[str, list[float]]:
    """The statistics table as the page shows it: cloud name → its numbers."""
    return {name: page.evaluate(ROW_NUMBERS, name) for name in (TARGET, SOURCE)}


def test_toy_playground_animates_gaussian_mmd_and_screenshot(app_page):
    page = app_page
    start = cloud_stats(page)
    assert abs(start[SOURCE][0] - start[TARGET][0]) > 1  # the clouds start apart
    drawing = page.locator("#toy-scatter svg").inner_html()
    page.click("#toy-gaussian")
    # The run ends when the moving cloud's statistics equal the target's in the table.
    page.wait_for_function(
        f"""() => {{
            const stats = {ROW_NUMBERS};
            const s = stats({SOURCE!r}), t = stats({TARGET!r});
            return s && t && s.slice(0, 4).every((v, i) => Math.abs(v - t[i]) < 0.02);
        }}""", timeout=TIMEOUT_MS)
    end = cloud_stats(page)
    assert end[SOURCE][:4] == pytest.approx(end[TARGET][:4], abs=0.02)  # means and spreads matched
    assert page.locator("#toy-scatter svg").inner_html() != drawing  # the points were redrawn
    # The gap plot has one line per statistic, drawn up to the last step.
    page.wait_for_function("document.querySelectorAll('#toy-gaps svg path[aria-roledescription=\"line mark\"]')"
                           ".length >= 5", timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # let the last frame settle before the picture
    top = page.locator("#explain-intro").bounding_box()
    bottom = page.locator("#toy-stats").bounding_box()
    clip = {"x": 0, "y": top["y"] - 12, "width": 1280, "height": bottom["y"] + bottom["height"] - top["y"] + 24}
    path = ARTIFACTS / "explain.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), clip=clip, full_page=True)
    assert path.stat().st_size > 50_000


def test_analyse_fills_the_identity_table(page):
    page.click("#explain-analyse")
    page.locator("#explain-status").get_by_text("Features of").wait_for(timeout=TIMEOUT_MS)
    assert SharedModel("auto", "cpu")().source in page.locator("#explain-status").inner_text()
    table = page.locator("#explain-identity").inner_text()
    for layer, constant in (("relu1_1", "16384"), ("relu5_1", "1048576")):
        assert re.search(rf"{layer}.*{constant}.*{constant}", table.replace("\n", " ")), table
