"""The run service (`webui.runs`): picklable jobs, refusing before a GPU is reserved, stopping
and closing a run. Weights: conftest's fake hub checkpoint; every image here is test output."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from PIL import Image

from nst import paper
from nst.config import Settings
from nst.errors import NSTError
from nst.request import Request
from tests.paths import ROOT
from webui import gpu, runs
from webui.model import SharedModel
from webui.visitors import Visitors

TINY = Settings(size=32, steps=500, style_layers=("relu1_1",))


@pytest.fixture
def gpu_calls(monkeypatch: pytest.MonkeyPatch) -> list[runs.Job]:
    """The jobs given to the GPU entry point from now on (each still runs)."""
    calls: list[runs.Job] = []
    real = runs.run_on_gpu

    def counting(job: runs.Job):
        calls.append(job)
        yield from real(job)

    monkeypatch.setattr(runs, "run_on_gpu", counting)
    return calls


def _round_trip(job: runs.Job) -> runs.Job:
    return pickle.loads(pickle.dumps(job))


def test_every_kind_of_job_survives_pickling_as_zero_gpu_sends_it(content_path, style_path, tmp_path):
    service = runs.Runs(SharedModel("auto", "cpu"))
    request = Request(content_path, style_path, TINY)
    stylize = service.job(runs.Stylization(request, interval=0.25, max_seconds=9.0))
    back = _round_trip(stylize)
    assert (back.network, back.device, back.seconds) == ("auto", "cpu", gpu.reservation(TINY))
    assert (back.work.interval, back.work.max_seconds, back.work.settings) == (0.25, 9.0, TINY)
    assert back.work.request.content.tobytes() == request.content.tobytes()
    assert [p.tobytes() for p in back.work.request.paintings] == [p.tobytes() for p in request.paintings]
    assert (back.work.request.content_name, back.work.request.painting_names) == (request.content_name,
                                                                                  request.painting_names)

    cell = paper.figure_cells(paper.load_manifest(ROOT / paper.MANIFEST_PATH), "1", 32, 2, rows=[0], columns=[1])[0]
    render = service.job(runs.PaperCell(cell, tmp_path / "cache"))
    assert _round_trip(render) == render and render.seconds == gpu.reservation(cell.settings)

    features = service.job(runs.Features({"content": str(content_path), "style": Image.open(style_path)}, 32))
    back = _round_trip(features)
    assert back.seconds == features.seconds and back.work.size == 32
    [before], [after] = runs.run_on_gpu(features), runs.run_on_gpu(back)
    assert before.keys() == after.keys() == {"content", "style"}
    assert all(torch.equal(before[k][layer], after[k][layer]) for k in before for layer in before[k])


def test_stop_through_the_service_ends_the_run_at_the_current_step_and_frees_the_slot(content_path, style_path,
                                                                                     steps):
    visitors = Visitors()
    service = runs.Runs(SharedModel("auto", "cpu"), visitors)
    job = service.job(runs.Stylization(Request(content_path, style_path, TINY), interval=0.0))
    stream = service.stream(job, "me")
    first = next(stream)
    assert (first.step, first.image is not None, visitors.running()) == (1, True, 1)
    assert visitors.stop("me") == 1
    assert list(stream) == [] and steps == [1] and visitors.running() == 0

    closed = service.stream(job, "me")  # the client left: Gradio closes the generator
    next(closed)
    closed.close()
    assert visitors.running() == 0 and steps == [1, 1]


@pytest.mark.parametrize("why", ["too long for a ZeroGPU loan", "no weights"])
def test_a_job_that_cannot_run_is_refused_before_the_gpu_is_asked(why, content_path, style_path, tmp_path,
                                                                   monkeypatch, gpu_calls):
    if why == "no weights":
        model, settings = SharedModel(tmp_path / "nowhere.safetensors", "cpu"), TINY
        message = "does not exist"
    else:
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")
        model, settings = SharedModel("auto", "cpu"), Settings(method="gaussian", size=2048, steps=300)
        message = f"more than the {gpu.MAX_SECONDS} s ZeroGPU lends at once"
    visitors = Visitors()
    service = runs.Runs(model, visitors)
    job = service.job(runs.Stylization(Request(content_path, style_path, settings)))
    with pytest.raises(NSTError, match=message):
        service.stream(job, "me")
    assert gpu_calls == [] and visitors.running() == 0
