"""Start `python app.py` in a subprocess on 127.0.0.1 for the API and browser tests, and find the browser.

A plain module, not a fixture: tests/e2e/conftest.py hands `running_app` to the tests as a
fixture and skips the browser tests without chromium; `scripts/reliability.py` imports it as
`tests.e2e.app_server` (from the repository root) to start the apps behind the README's table.

The subprocess inherits the test environment (conftest's temporary HF_HOME with the
fake checkpoint, HF_HUB_OFFLINE, GRADIO_ANALYTICS_ENABLED=False) and runs from another
directory, as the Space's examples must resolve relative to app.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from tests.paths import ROOT

STARTUP_SECONDS = 180
# Debian's browser (`apt-get install -y chromium`); Playwright's own download cannot work offline.
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--no-first-run"]
CHROMIUM_MISSING = "chromium is not installed (apt-get install -y chromium)"
# .ci/run sets it, so that a CI machine without chromium fails instead of skipping.
REQUIRE_BROWSER = bool(os.environ.get("NST_REQUIRE_BROWSER"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(workdir: Path, *args: str) -> Iterator[str]:
    """The URL of a running app; the process is stopped on exit, its log kept in `workdir`."""
    port = free_port()
    log = workdir / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                                 *args], cwd=workdir, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"app.py did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
