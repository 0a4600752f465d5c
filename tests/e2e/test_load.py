"""The app under load, on loopback: many `gradio_client` clients at once, and the server's
memory over a series of runs, some stopped midway.

Weights: conftest's fake hub checkpoint, so every image here is test output. Sizes and
steps are tiny so that this passes on a slow, busy two-core machine; every wait is
bounded, so a lost or hung request fails the test instead of hanging the run. Speed
figures (latencies, requests per minute) and memory figures go to the run's terminal
summary through the `figures` plugin (tests/figures.py); only behaviour is asserted.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.client import Job
from gradio_client.utils import Status
from PIL import Image

from nst.config import LIMITS
from nst.images import load_image
from tests.paths import EXAMPLES
from webui.gpu import QUEUE_SIZE

CONTENTS = sorted((EXAMPLES / "content").glob("*.jpg"))
STYLE = EXAMPLES / "style" / "starry_night.jpg"
SIZES = (32, 48)
STEPS = 2
METHOD = "bn"  # the cheapest method; its L-BFGS run leaves a 2-step result close to its content image
# Bounds, not speed targets: far above what a busy two-core machine needs (a 32-48 px
# run takes about half a second there), so reaching one means a lost or hung request.
CONNECT_SECONDS = 180
PHASE_SECONDS = 600
FIRST_FRAME_SECONDS = 120
# The request that holds the single slot while the others queue: long enough never to end
# by itself before it is cancelled (it would take many minutes on a CPU, half a minute on
# an H200; the app's own cap, NST_MAX_RUN_SECONDS, ends it after 300 s at the latest).
BLOCKER_SIZE = 128
BLOCKER_STEPS = LIMITS.max_steps
# The memory test: 20 runs one after another, every third one stopped after its first frame.
MEMORY_RUNS = 20
MEMORY_SIZE = 48
MEMORY_STEPS = 4
CANCELLED_STEPS = 400  # would take many seconds: the cancel lands mid-run
SETTLE_SECONDS = 3
# Over 20 runs at 48 px the RSS grew by 4-6 MiB (seven runs of this test on two cores);
# at 128 px glibc's per-thread arenas added steps of ~50 MiB, so the margin leaves room
# for such allocator noise. A leak of 5 MiB a run fails it: a copy of the network
# (49-80 MiB) every ten runs, or 8 MiB kept per run (tried: +122 MiB).
RSS_MARGIN_MIB = 100


@dataclass(frozen=True)
class Request:
    """One client's `/stylize` call: its own content image, size and seed."""

    index: int
    content: Path
    size: int
    seed: int


@dataclass(frozen=True)
class Outcome:
    """What one client got: completed (with the result's path), refused by the queue, failed or hung."""

    request: Request
    kind: str
    seconds: float
    ended: float = 0.0  # time.monotonic() at the answer
    path: str | None = None
    error: str = ""


@dataclass(frozen=True)
class App:
    url: str
    workdir: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, running_app) -> Iterator[App]:
    yield from _app(tmp_path_factory, running_app, "load-app")


@pytest.fixture
def fresh_app(tmp_path_factory: pytest.TempPathFactory, running_app) -> Iterator[App]:
    """An app of its own: the memory test's first run must be the process's first."""
    yield from _app(tmp_path_factory, running_app, "memory-app")


def _app(tmp_path_factory: pytest.TempPathFactory, running_app, name: str) -> Iterator[App]:
    workdir = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        # The server's streamed frames and results go to the test's temporary folder, not /tmp/gradio.
        mp.setenv("GRADIO_TEMP_DIR", str(workdir / "gradio-tmp"))
        with running_app(workdir) as url:
            yield App(url, workdir)


def load_requests(count: int) -> list[Request]:
    """`count` requests cycling through the example content images at 32 and 48 px, each with its own seed."""
    requests = []
    for i in range(count):
        content = CONTENTS[i % len(CONTENTS)]
        size = SIZES[(i // len(CONTENTS)) % len(SIZES)]
        if min(_scaled(content, size)) < LIMITS.min_size:  # the panorama is too thin at 32 px
            size = max(SIZES)
        requests.append(Request(i, content, size, seed=1000 + i))
    return requests


@functools.cache
def _scaled(path: Path, size: int) -> tuple[int, int]:
    """The result's size for `path` at long edge `size`, rounded as the app resizes."""
    w, h = load_image(path).size
    scale = size / max(w, h)
    return round(w * scale), round(h * scale)


def _submit(client: Client, request: Request, steps: int = STEPS) -> Job:
    return client.submit(handle_file(str(request.content)), handle_file(str(STYLE)), size=request.size,
                         steps=steps, seed=request.seed, method=METHOD, api_name="/stylize")


def _client_run(url: str, request: Request, folder: Path, start: threading.Barrier, deadline: float,
                joined: threading.Event) -> Outcome:
    """One client: connect, wait for the others, send the request, wait (bounded) for its answer.

    `joined` is set once the server has answered the join (queued or refused), or this client gave up.
    """
    try:
        client = Client(url, verbose=False, download_files=str(folder))
    except BaseException:
        joined.set()
        start.abort()  # the others stop waiting for this client
        raise
    try:
        start.wait(timeout=CONNECT_SECONDS)
        began = time.monotonic()
        job = _submit(client, request)
        while not _answered_join(job) and time.monotonic() < deadline:
            time.sleep(0.05)
        joined.set()
        try:
            path = job.result(timeout=max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            job.cancel()
            return Outcome(request, "hung", time.monotonic() - began, time.monotonic(),
                           error="no answer before the deadline")
        except Exception as exc:  # gradio_client raises QueueError, AppError, httpx errors...
            kind = "refused" if "queue is full" in str(exc).lower() else "failed"
            return Outcome(request, kind, time.monotonic() - began, time.monotonic(),
                           error=f"{type(exc).__name__}: {exc}")
        return Outcome(request, "completed", time.monotonic() - began, time.monotonic(), path=path)
    finally:
        joined.set()  # also when this client failed: the caller must not wait for it
        client.close()


def _answered_join(job: Job) -> bool:
    """The server has either queued the job (it reports a rank or more) or refused it (the job ended)."""
    return job.done() or job.status().code not in (Status.STARTING, Status.JOINING_QUEUE)


def send_at_once(url: str, requests: list[Request], folder: Path,
                 while_queued: Callable[[], None] = lambda: None) -> tuple[list[Outcome], float]:
    """Every request from its own client and thread, released together; the outcomes and the
    seconds from the release to the last answer. `while_queued` runs once every join is answered.

    Every wait is bounded: a client still waiting at `deadline` cancels its job and reports "hung".
    """
    start = threading.Barrier(len(requests) + 1)
    joined = [threading.Event() for _ in requests]
    deadline = time.monotonic() + CONNECT_SECONDS + PHASE_SECONDS
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(_client_run, url, r, folder / f"client-{r.index}", start, deadline, event)
                   for r, event in zip(requests, joined)]
        try:
            start.wait(timeout=CONNECT_SECONDS)
        except threading.BrokenBarrierError:
            pass  # a client could not connect: its future says why
        released = time.monotonic()
        for event in joined:
            event.wait(timeout=max(0.0, deadline - time.monotonic()))
        while_queued()
        outcomes = []
        for request, future in zip(requests, futures):
            try:
                outcomes.append(future.result(timeout=max(0.0, deadline - time.monotonic()) + 60))
            except Exception as exc:  # the thread itself failed (connecting, or the barrier)
                outcomes.append(Outcome(request, "failed", 0.0, error=f"{type(exc).__name__}: {exc}"))
    return outcomes, time.monotonic() - released


def count(outcomes: list[Outcome], kind: str) -> int:
    return sum(o.kind == kind for o in outcomes)


def outcome_line(outcomes: list[Outcome]) -> str:
    return ", ".join(f"{count(outcomes, k)} {k}" for k in ("completed", "refused", "failed", "hung"))


def latency_line(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    p50, p90 = np.percentile(seconds, [50, 90])
    return f"p50 {p50:.2f}, p90 {p90:.2f}, max {max(seconds):.2f}"


def problems(outcomes: list[Outcome], allowed: tuple[str, ...] = ("completed",)) -> list[str]:
    return [f"request {o.request.index} ({o.request.content.name}, {o.request.size} px): {o.kind} {o.error}"
            for o in outcomes if o.kind not in allowed]


def assert_each_got_its_own_result(outcomes: list[Outcome]) -> None:
    """Each completed result has its content image's shape at its size, and of all the example
    content images squeezed to that shape it is nearest to its own (two steps barely move it)."""
    done = [o for o in outcomes if o.kind == "completed"]
    pixels = {}
    for o in done:
        with Image.open(o.path) as img:
            assert img.format == "PNG"
            result = np.asarray(img.convert("RGB"), dtype=np.float32)
        pixels[o.request.content, o.request.size] = result
        size = result.shape[1], result.shape[0]
        assert size == _scaled(o.request.content, o.request.size), f"request {o.request.index}"
        distance = {c: np.abs(result - _squeezed(c, size)).mean() for c in CONTENTS}
        nearest = min(distance, key=distance.get)
        assert nearest == o.request.content, \
            f"request {o.request.index} sent {o.request.content.name} but got a result nearest to {nearest.name}"
    # Results of different content images at the same shape differ in pixels.
    for (a, size_a), image_a in pixels.items():
        for (b, size_b), image_b in pixels.items():
            if a != b and image_a.shape == image_b.shape:
                assert not np.array_equal(image_a, image_b), f"{a.name} and {b.name} at {size_a} px gave one image"


_SQUEEZED: dict[tuple[Path, tuple[int, int]], np.ndarray] = {}


def _squeezed(path: Path, size: tuple[int, int]) -> np.ndarray:
    """`path` resized to exactly `size` (its own aspect ratio or not), as the result is compared to it."""
    if (path, size) not in _SQUEEZED:
        image = load_image(path).resize(size, Image.Resampling.LANCZOS)
        _SQUEEZED[path, size] = np.asarray(image, dtype=np.float32)
    return _SQUEEZED[path, size]


def assert_no_traceback(app: App) -> None:
    log = (app.workdir / "app.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def test_as_many_clients_at_once_as_the_queue_holds_all_get_their_own_result(app, tmp_path, figures):
    # One request runs while the others wait: at any join at most QUEUE_SIZE - 1 others are
    # waiting, so the queue can never be full and every request must complete.
    requests = load_requests(QUEUE_SIZE)
    outcomes, wall = send_at_once(app.url, requests, tmp_path)

    section = f"load: {QUEUE_SIZE} clients at once ({'/'.join(map(str, SIZES))} px, {STEPS} steps, {METHOD})"
    figures.add(section, f"outcomes: {outcome_line(outcomes)}")
    figures.add(section, "latency s, release to result: "
                         + latency_line([o.seconds for o in outcomes if o.kind == "completed"]))
    figures.add(section, f"throughput: {count(outcomes, 'completed') / wall * 60:.0f} requests/min "
                         f"({count(outcomes, 'completed')} in {wall:.1f} s)")
    assert not problems(outcomes), problems(outcomes)
    assert_each_got_its_own_result(outcomes)
    assert_no_traceback(app)


def test_beyond_the_queue_size_requests_are_refused_with_a_clear_message_and_the_rest_complete(
        app, tmp_path, figures):
    # A long run holds the one slot, so nothing leaves the queue while the clients join:
    # exactly QUEUE_SIZE of them are queued and the rest refused, whatever their timing.
    # The run is cancelled once every join is answered; the queued ones must then complete.
    requests = load_requests(QUEUE_SIZE + 4)
    holder = Client(app.url, verbose=False, download_files=str(tmp_path / "blocker"))
    blocker = _submit(holder, Request(-1, CONTENTS[0], BLOCKER_SIZE, seed=0), steps=BLOCKER_STEPS)
    held: list[bool] = []
    cancelled_at: list[float] = []

    def release_the_slot() -> None:
        held.append(not blocker.done())
        cancelled_at.append(time.monotonic())
        blocker.cancel()

    try:
        deadline = time.monotonic() + FIRST_FRAME_SECONDS
        while not blocker.outputs() and not blocker.done() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert blocker.outputs(), f"the holding run streamed no frame within {FIRST_FRAME_SECONDS} s"
        outcomes, _ = send_at_once(app.url, requests, tmp_path, while_queued=release_the_slot)
    finally:
        blocker.cancel()
        holder.close()
    completed = [o for o in outcomes if o.kind == "completed"]

    section = f"load: {len(requests)} clients at once behind a running request (queue of {QUEUE_SIZE})"
    figures.add(section, f"outcomes: {outcome_line(outcomes)}")
    figures.add(section, "latency s of the completed, release to result (includes the wait for the cancel): "
                         + latency_line([o.seconds for o in outcomes if o.kind == "completed"]))
    figures.add(section, "latency s of the refusals: " + latency_line([o.seconds for o in outcomes
                                                                       if o.kind == "refused"]))
    if completed and cancelled_at:
        drain = max(o.ended for o in completed) - cancelled_at[0]
        figures.add(section, f"throughput once the slot is free: {len(completed) / drain * 60:.0f} requests/min "
                             f"({len(completed)} in {drain:.1f} s)")
    assert held == [True], f"the {BLOCKER_STEPS}-step run ended before every client had joined: raise BLOCKER_STEPS"
    # A refusal counts as one only when its message says that the queue is full; any other error is a failure.
    assert not problems(outcomes, ("completed", "refused")), problems(outcomes, ("completed", "refused"))
    assert (count(outcomes, "completed"), count(outcomes, "refused")) == (QUEUE_SIZE, len(requests) - QUEUE_SIZE), \
        outcome_line(outcomes)
    assert_each_got_its_own_result(outcomes)
    assert_no_traceback(app)


def server_pid(url: str) -> int:
    """The PID of the `app.py` process serving `url`: the one whose command line names its port."""
    port = url.rstrip("/").rsplit(":", 1)[1]
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if any(a.endswith(b"app.py") for a in args) and b"--port" in args and port.encode() in args:
            found.append(int(cmdline.parent.name))
    assert len(found) == 1, f"expected one app.py on port {port}, found {found}"
    return found[0]


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_memory_stays_near_its_level_after_the_first_run_over_twenty_runs_some_cancelled(
        fresh_app, tmp_path, figures):
    pid = server_pid(fresh_app.url)
    client = Client(fresh_app.url, verbose=False, download_files=str(tmp_path))
    requests = [Request(i, CONTENTS[i % len(CONTENTS)], MEMORY_SIZE, seed=2000 + i) for i in range(MEMORY_RUNS)]
    cancelled = {r.index for r in requests if r.index % 3 == 2}  # 6 of 20; the first and the last complete
    rss: list[float] = []
    frames_before_cancel: list[int] = []
    try:
        for request in requests:
            if request.index in cancelled:
                job = _submit(client, request, steps=CANCELLED_STEPS)
                deadline = time.monotonic() + FIRST_FRAME_SECONDS
                while not job.outputs() and not job.done() and time.monotonic() < deadline:
                    time.sleep(0.05)
                frames_before_cancel.append(len(job.outputs()))
                # Returns once Gradio has closed the handler at its current step. The app allows one
                # run per visitor (session), so the next request from this client is refused if the
                # stopped run were still going.
                job.cancel()
            else:
                path = _submit(client, request, steps=MEMORY_STEPS).result(timeout=PHASE_SECONDS)
                with Image.open(path) as img:
                    assert img.size == _scaled(request.content, MEMORY_SIZE)
            rss.append(rss_mib(pid))
    finally:
        client.close()
    time.sleep(SETTLE_SECONDS)  # the last run's frames are written and its tensors freed
    final = rss_mib(pid)
    first = rss[0]

    section = (f"memory: {MEMORY_RUNS} runs one after another at {MEMORY_SIZE} px, {len(cancelled)} cancelled "
               f"after their first frame (server RSS)")
    figures.add(section, f"after the first run {first:.0f} MiB, after all {MEMORY_RUNS} {final:.0f} MiB "
                         f"({final - first:+.0f} MiB; allowed +{RSS_MARGIN_MIB})")
    figures.add(section, "after each run, MiB: " + " ".join(f"{r:.0f}" for r in rss))
    assert all(n >= 1 for n in frames_before_cancel), frames_before_cancel
    assert final <= first + RSS_MARGIN_MIB, f"RSS grew from {first:.0f} to {final:.0f} MiB over {MEMORY_RUNS} runs"
    assert_no_traceback(fresh_app)
