"""Try every bad input on a running app and write the README's Reliability table.

    .venv/bin/python -m scripts.reliability

Starts `app.py` twice, on the paper's VGG-19 (no flags) and with weights that do not exist,
sends each case of `CASES` through `gradio_client` (or a raw upload), and rewrites the
table between the README's `<!-- reliability:start -->` and `<!-- reliability:end -->`
markers with what each answer said. Cases that other tests check (Stop, a closed tab,
load, memory, faults that cannot be caused from outside) are rows with their test named.
`tests/e2e/test_reliability.py` sends the same cases on the test checkpoint and fails when
the README's table differs from their answers. Timings and tracebacks found in the app's
log are printed here, never written to the README (they vary).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from nst.config import LIMITS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
REGENERATE = ".venv/bin/python -m scripts.reliability"

# The two apps the cases are sent to.
WEIGHTS, NO_WEIGHTS = "weights", "no weights"
MISSING_WEIGHTS = "/nonexistent/vgg19.safetensors"
# Caps read from the environment by the app: unset, so the table shows the defaults.
CAP_VARIABLES = ("NST_MAX_RUN_SECONDS", "NST_MAX_PIXEL_STEPS", "NST_RUNS_PER_VISITOR", "NST_NETWORK")
AREAS = ("Images", "Parameters", "Weights", "Load", "Cancellation", "Faults")
THIS_TEST = "tests/e2e/test_reliability.py::test_each_input_gets_its_answer"

File = Callable[[Path], Path]  # makes an input file in the case's temporary folder
Send = Callable[[Client, Path], str]  # sends a case; what the user sees, in one line
# Small and cheap: an answer within a second or two even on a busy CPU.
QUICK: dict[str, Any] = {"size": 32, "steps": 1, "method": "bn"}


@dataclass(frozen=True)
class Case:
    """One row of the table. `send` is None for a row another test checks (`checked_by`);
    its `expect` is then the whole of what the user sees, else a fragment of the answer."""

    key: str
    area: str
    tried: str
    expect: str
    send: Send | None = None
    checked_by: str = THIS_TEST
    app: str = WEIGHTS


@dataclass(frozen=True)
class App:
    url: str
    log: Path
    seconds_to_listen: float  # from starting the process to its first answer


@dataclass(frozen=True)
class Observed:
    """A case's answer (normalised, one line), how long it took, and whether the app's log
    gained a traceback meanwhile."""

    message: str
    seconds: float
    traceback: bool


# ----- input files


def example(relative: str) -> File:
    return lambda tmp: ROOT / "examples" / relative


CAT, NIGHT = example("content/chelsea_cat.jpg"), example("style/starry_night.jpg")


def written(name: str, data: bytes) -> File:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name
    return make


def picture(name: str, width: int, height: int) -> File:
    def make(tmp: Path) -> Path:
        Image.new("RGB", (width, height), (180, 40, 40)).save(tmp / name)
        return tmp / name
    return make


def declared_png(name: str, width: int, height: int, *, grey: bool = False, rows: int | None = None) -> File:
    """A PNG whose header declares `width`×`height`, black; only its first `rows` rows of
    pixel data are written (all by default): a small file that claims many pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    def make(tmp: Path) -> Path:
        row = b"\0" * (1 + width * (1 if grey else 3))  # filter byte, then the pixels
        packer = zlib.compressobj(9)
        data = b"".join(packer.compress(row) for _ in range(height if rows is None else rows)) + packer.flush()
        header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
        (tmp / name).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                                 + chunk(b"IEND", b""))
        return tmp / name
    return make


def oversized(name: str) -> File:
    """A JPEG followed by zeros up to one byte over the upload limit (a sparse file: no disk used)."""
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes((ROOT / "examples" / "content" / "chelsea_cat.jpg").read_bytes())
        with open(path, "r+b") as out:
            out.truncate(LIMITS.max_file_bytes + 1)
        return path
    return make


# ----- ways of sending


def _answer(call: Callable[[], Any]) -> str:
    """What the caller sees: the error's message, or the result image described."""
    try:
        path = call()
    except (AppError, ValueError, TypeError) as exc:  # the server's answer, or gradio_client's refusal
        return str(exc)
    with Image.open(path) as img:
        return f"the stylized image: a {img.width}×{img.height} {img.format}"


def stylize(content: File | None = CAT, style: File | None = NIGHT, **controls: Any) -> Send:
    """`/stylize` with these images (None: left out) and `QUICK` updated by `controls`."""
    def send(client: Client, tmp: Path) -> str:
        images = [handle_file(str(make(tmp))) if make else None for make in (content, style)]
        return _answer(lambda: client.predict(*images, api_name="/stylize", **{**QUICK, **controls}))
    return send


def not_a_file(client: Client, tmp: Path) -> str:
    """A plain string where `/stylize` takes an uploaded file."""
    return _answer(lambda: client.predict("holiday.jpg", handle_file(str(NIGHT(tmp))), api_name="/stylize",
                                          **QUICK))


def raw_upload(make: File) -> Send:
    """POST the file to Gradio's upload route as a browser does, without gradio_client's own check."""
    def send(client: Client, tmp: Path) -> str:
        path = make(tmp)
        with open(path, "rb") as data:
            response = httpx.post(client.upload_url, files={"files": (path.name, data, "image/jpeg")}, timeout=120)
        return f"HTTP {response.status_code}: {response.text}"
    return send


# ----- the cases

_CHOICES = "is not valid; choose from"
_UNREADABLE = "content image: not a readable image file"
_GENERIC = "The upstream Gradio app has raised an exception"

CASES: tuple[Case, ...] = (
    Case("corrupt", "Images", "a corrupt content file (text named `holiday.jpg`)", _UNREADABLE,
         stylize(written("holiday.jpg", b"GIF89a but not really an image"))),
    Case("empty", "Images", "an empty (0-byte) content file", _UNREADABLE, stylize(written("empty.png", b""))),
    Case("svg", "Images", "an SVG drawing as content", _UNREADABLE,
         stylize(written("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"/>'))),
    Case("tiny", "Images", "a 2×2 content image at size 32", "a 32×32 PNG", stylize(picture("tiny.png", 2, 2))),
    Case("sliver", "Images", "a 1×100 content image at size 32 (short edge under 16 px once resized)",
         "its short edge must be at least 16 px", stylize(picture("sliver.png", 1, 100))),
    Case("pixels-81m", "Images", "a PNG of under 1 KB declaring 9000×9000 (81 M pixels; the limit is 64 M)",
         "more than 64,000,000 pixels", stylize(declared_png("big.png", 9000, 9000, rows=1))),
    Case("pixels-81m-grey", "Images", "the same as a greyscale PNG with all its rows (79 KB)",
         "more than 64,000,000 pixels", stylize(declared_png("big_grey.png", 9000, 9000, grey=True))),
    Case("pixels-100m", "Images", "a PNG declaring 10000×10000 (over Pillow's bomb warning, 89 M pixels)",
         "image has more than 64,000,000 pixels", stylize(declared_png("bigger.png", 10000, 10000, rows=1))),
    Case("pixels-400m", "Images", "a PNG declaring 20000×20000 (over Pillow's bomb error, 179 M pixels)",
         "image has more than 64,000,000 pixels", stylize(declared_png("huge.png", 20000, 20000, rows=1))),
    Case("over-50mb-client", "Images", "a content file of 50 MB + 1 byte, through gradio_client",
         "exceeds the maximum file size", stylize(oversized("holiday.jpg"))),
    Case("over-50mb-upload", "Images", "the same file posted to the upload route (as a browser does)",
         "HTTP 413", raw_upload(oversized("holiday.jpg"))),
    Case("not-a-file", "Images", "a plain string instead of an uploaded content file", _GENERIC, not_a_file),
    Case("no-content", "Images", "no content image", "add a content image first", stylize(content=None)),
    Case("no-style", "Images", "no style image", "add a style image first", stylize(style=None)),
    Case("browser-corrupt", "Images", "a corrupt upload in the browser",
         "content image: not a readable image file; use a PNG, JPEG or WebP image (under the button)",
         checked_by="tests/e2e/test_browser.py::test_a_corrupt_upload_shows_a_clear_message"),
    Case("method", "Parameters", '`method="gram"`', _CHOICES, stylize(method="gram")),
    Case("fusion", "Parameters", 'a fusion with an unknown second method (`fuse_with="gram"`)', _CHOICES,
         stylize(fuse_with="gram")),
    Case("size-low", "Parameters", "`size=8` (range 16–2048)", "size: 8 is not valid; give a number from 16 to 2048",
         stylize(size=8)),
    Case("size-high", "Parameters", "`size=4096`", "give a number from 16 to 2048", stylize(size=4096)),
    Case("size-text", "Parameters", '`size="big"`', "size: 'big' is not valid", stylize(size="big")),
    Case("steps-zero", "Parameters", "`steps=0` (range 1–5000)", "give a number from 1 to 5000", stylize(steps=0)),
    Case("steps-high", "Parameters", "`steps=99999`", "give a number from 1 to 5000", stylize(steps=99999)),
    Case("gamma-negative", "Parameters", "`gamma=-1`", "gamma must be between 0 and 10000", stylize(gamma=-1)),
    Case("gamma-unlisted", "Parameters", "`gamma=7` (in range, but not one of the page's choices)", "PNG",
         stylize(gamma=7)),
    Case("content-weight", "Parameters", "`content_weight=-1`", "content_weight: -1 is not valid",
         stylize(content_weight=-1)),
    Case("lr-high", "Parameters", "`lr=100` (range 1e-06–10)", "give a number from 1e-06 to 10",
         stylize(optimizer="adam", lr=100)),
    Case("optimizer", "Parameters", '`optimizer="sgd"`', _CHOICES, stylize(optimizer="sgd")),
    Case("layer-weights-text", "Parameters", '`layer_weights="1, two"`', "expected numbers separated by commas",
         stylize(layer_weights="1, two")),
    Case("layer-weights-count", "Parameters", '`layer_weights="1, 2"` with five style layers',
         "expected one per style layer", stylize(layer_weights="1, 2")),
    Case("layer-weights-zero", "Parameters", '`layer_weights="0, 0, 0, 0, 0"`', "positive sum",
         stylize(layer_weights="0, 0, 0, 0, 0")),
    Case("style-layer", "Parameters", '`style_layers=["relu9_9"]`', _CHOICES, stylize(style_layers=["relu9_9"])),
    Case("no-style-layer", "Parameters", "`style_layers=[]`", "choose at least one style layer",
         stylize(style_layers=[])),
    Case("precision", "Parameters", '`precision="fp16"`', _CHOICES, stylize(precision="fp16")),
    Case("colors", "Parameters", '`colors="sepia"`', _CHOICES, stylize(colors="sepia")),
    Case("scales", "Parameters", '`scales="9"`', _CHOICES, stylize(scales="9")),
    Case("scales-too-small", "Parameters", '`scales="3", size=32`', "3 scales need a size of at least 64 px",
         stylize(scales="3", size=32)),
    Case("pixel-steps", "Parameters", "`size=2048, steps=5000` (over the cap of 2048² px × 300 steps)",
         "is more than one run may do here", stylize(size=2048, steps=5000)),
    Case("unknown-parameter", "Parameters", '`colour="red"`, a parameter `/stylize` does not have',
         "is not a valid key-word argument", stylize(colour="red")),
    Case("adam-largest-lr", "Parameters", '`optimizer="adam", lr=10` (the largest), 20 steps', "a 32×21 PNG",
         stylize(optimizer="adam", lr=10, steps=20)),
    Case("no-weights", "Weights", f"a run on an app started with `--network {MISSING_WEIGHTS}`", "To fix it, do one of these",
         stylize(), app=NO_WEIGHTS),
    Case("weights-kept", "Weights", "every later request to an app whose weights lookup failed",
         "the same message at once: the lookup is not repeated until the app restarts",
         checked_by="tests/webui/test_stylize_handlers.py::"
                    "test_a_failed_weights_lookup_is_kept_and_answered_at_once"),
    Case("weights-offline", "Weights", "looking for weights without network",
         "the message on how to provide weights, after one short connection attempt per host "
         "(no waiting through download retries)",
         checked_by="tests/nst/test_weights.py::test_without_network_the_lookup_ends_after_one_probe_per_host"),
    Case("queue-holds", "Load", "as many clients at once as the queue holds (16)",
         "each gets its own result; one run at a time, the others wait their turn",
         checked_by="tests/e2e/test_load.py"),
    Case("queue-full", "Load", "4 clients more than the queue holds, behind a running request",
         "Queue is full! Please try again. (gradio_client's words); the 16 queued ones complete",
         checked_by="tests/e2e/test_load.py"),
    Case("memory", "Load", "20 runs one after another, every third cancelled after its first image",
         "each answered; the server's memory stays near its level after the first run",
         checked_by="tests/e2e/test_load.py"),
    Case("visitor-cap", "Load", "a second run from a visitor whose first is still going",
         "you already have a run going: wait for it to end, or press Stop (other visitors are not held up)",
         checked_by="tests/webui/test_stylize_handlers.py::"
                    "test_a_visitor_has_one_run_at_a_time_others_are_not_held_up"),
    Case("zero-gpu-loan", "Load", "on ZeroGPU, a run that needs more GPU time than one loan",
         "this run needs … of GPU time, more than the 120 s ZeroGPU lends at once: lower the size or the steps",
         checked_by="tests/webui/test_stylize_handlers.py::"
                    "test_on_zero_gpu_a_run_longer_than_the_gpu_loan_is_refused"),
    Case("stop", "Cancellation", "Stop pressed during a run (browser)",
         "Stopped. The last image stays here and in your runs below.",
         checked_by="tests/e2e/test_browser.py::test_upload_stylize_stop_and_screenshot"),
    Case("stop-step", "Cancellation", "Stop pressed: how far the run goes on",
         "it ends at the step it is in; another visitor's Stop does not end it",
         checked_by="tests/webui/test_stylize_handlers.py::test_stop_ends_the_visitor_s_run_at_the_current_step"),
    Case("tab-closed", "Cancellation", "the browser tab closed during a run",
         "the run ends at its current step (the server's log says so), freeing the queue",
         checked_by="tests/e2e/test_browser.py::test_closing_the_tab_stops_its_run"),
    Case("time-cap", "Cancellation", "a run reaching the time cap (`NST_MAX_RUN_SECONDS`, 300 s)",
         "Stopped at the time limit of one run here (… s), after step … of …: this is the image at that step. "
         "Lower the size or the steps for a full run.",
         checked_by="tests/webui/test_stylize_handlers.py::"
                    "test_a_run_at_the_time_cap_ends_with_its_image_and_says_so"),
    Case("layer-weights-nan", "Parameters", '`layer_weights="nan, 1, 1, 1, 1"`', "layer_weights must be finite",
         stylize(layer_weights="nan, 1, 1, 1, 1")),
    Case("non-finite", "Faults", "a loss that stops being finite during a run (no input within the ranges "
         "causes one: 196 combinations of the largest learning rates, weights and starts were tried)",
         "the loss stopped being finite at step …; try a smaller learning rate or Adam",
         checked_by="tests/nst/test_stylize.py::test_a_non_finite_loss_stops_with_a_clear_error"),
    Case("out-of-memory", "Faults", "the device running out of memory during a run",
         "out of memory: choose a smaller output size or fewer style layers (the next run works)",
         checked_by="tests/webui/test_stylize_handlers.py::"
                    "test_running_out_of_memory_answers_that_visitor_and_the_next_run_works"),
)


# ----- running them


def normalise(message: str, tmp: Path) -> str:
    """One line without the temporary folder's path (it differs on every run)."""
    for folder in {str(tmp), os.path.realpath(tmp)}:
        message = message.replace(folder + os.sep, "")
    return " ".join(message.split())


def observe(case: Case, app: App, client: Client, tmp: Path) -> Observed:
    """Send `case` to `app` and read what came back and what the app logged meanwhile."""
    assert case.send is not None, f"{case.key} is checked by {case.checked_by}, not sent"
    folder = tmp / case.key
    folder.mkdir(parents=True, exist_ok=True)
    logged = app.log.stat().st_size
    start = time.monotonic()
    message = case.send(client, folder)
    seconds = time.monotonic() - start
    with open(app.log, "rb") as log:
        log.seek(logged)
        traceback = b"Traceback" in log.read()
    return Observed(normalise(message, folder), seconds, traceback)


def observe_all(apps: dict[str, App], tmp: Path, cases: tuple[Case, ...] = CASES) -> dict[str, Observed]:
    """Every case that is sent, once, one after another, keyed by `Case.key`."""
    clients = {name: Client(app.url, verbose=False, download_files=str(tmp / "downloads"))
               for name, app in apps.items()}
    try:
        return {case.key: observe(case, apps[case.app], clients[case.app], tmp) for case in cases if case.send}
    finally:
        for client in clients.values():
            client.close()


def _cell(text: str) -> str:
    # Table cells: a pipe would end the cell, and Gradio's "<class 'str'>" would be read as HTML.
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_table(observed: dict[str, Observed], cases: tuple[Case, ...] = CASES) -> str:
    """The Markdown table: one row per case, grouped by area; a sent case shows its answer."""
    lines = ["| Area | What is tried | What the user sees | Checked by |", "| --- | --- | --- | --- |"]
    for area in AREAS:
        for case in (c for c in cases if c.area == area):
            seen = observed[case.key].message if case.send else case.expect
            lines.append(f"| {area} | {case.tried} | {_cell(seen)} | `{case.checked_by}` |")
    return "\n".join(lines)


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip()


def with_table(text: str, table: str) -> str:
    """`text` with the table between the markers replaced."""
    start, end = text.index(START) + len(START), text.index(END)
    return f"{text[:start]}\n{table}\n{text[end:]}"


@contextlib.contextmanager
def running_apps(workdir: Path, weights_args: tuple[str, ...]) -> Iterator[dict[str, App]]:
    """The app with weights (started with `weights_args`) and the app without, both running."""
    from tests.e2e.app_server import running_app  # the tests' own launcher (the repository root is on the path)

    with contextlib.ExitStack() as stack:
        apps = {}
        for name, args in ((WEIGHTS, weights_args), (NO_WEIGHTS, ("--network", MISSING_WEIGHTS))):
            folder = workdir / name.replace(" ", "-")
            folder.mkdir()
            start = time.monotonic()
            url = stack.enter_context(running_app(folder, *args))
            apps[name] = App(url, folder / "app.log", time.monotonic() - start)
        yield apps


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="nst-reliability-"))
    # Offline, with an empty cache: the paper's VGG-19 comes from its PyPI package, nothing is downloaded.
    os.environ.update(HF_HOME=str(tmp / "hf"), TORCH_HOME=str(tmp / "torch"), HF_HUB_OFFLINE="1",
                      GRADIO_ANALYTICS_ENABLED="False")
    for name in CAP_VARIABLES:
        os.environ.pop(name, None)
    with running_apps(tmp, ()) as apps:
        observed = observe_all(apps, tmp)
    for name, app in apps.items():
        print(f"app with {name}: answering {app.seconds_to_listen:.1f} s after it was started")
    wrong = []
    for case in CASES:
        if case.send:
            seen = observed[case.key]
            flag = "  TRACEBACK in the app's log" if seen.traceback else ""
            print(f"{seen.seconds:6.1f} s  {case.key}: {seen.message}{flag}")
            if case.expect not in seen.message:
                wrong.append(f"{case.key}: expected {case.expect!r} in {seen.message!r}")
    if wrong:
        print("not written, some answers are not the expected ones:\n" + "\n".join(wrong), file=sys.stderr)
        return 1
    text = README.read_text()
    README.write_text(with_table(text, render_table(observed)))
    print(f"wrote the Reliability table of {README.relative_to(ROOT)} ({len(CASES)} rows); logs in {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
