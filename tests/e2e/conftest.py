"""Fixtures of the tests that run the app (tests/e2e/): the app in a subprocess and the browser.

Every test that takes `browser` (directly or through another fixture) is skipped, saying so,
where chromium is not installed, before any app is started; with NST_REQUIRE_BROWSER=1
(.ci/run) it fails instead.
"""

from __future__ import annotations

import pytest

from tests.e2e import app_server
from tests.e2e.app_server import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MISSING, REQUIRE_BROWSER


@pytest.fixture(scope="session")
def running_app():
    """`with running_app(workdir, *app_args) as url:` the URL of `python app.py` started in
    `workdir` (its log: workdir/app.log), stopped on exit. Module fixtures start their own app
    with the environment they set (tests/e2e/app_server.py)."""
    return app_server.running_app


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM is not None or REQUIRE_BROWSER:
        return
    skip = pytest.mark.skip(reason=CHROMIUM_MISSING)
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright, shared by the browser tests."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        (pytest.fail if REQUIRE_BROWSER else pytest.skip)(CHROMIUM_MISSING)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
