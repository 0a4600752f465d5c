"""webui.gpu and the page's defaults: ZeroGPU detection, GPU reservations, the wording of durations."""

from __future__ import annotations

import pytest
import torch

from nst.config import Settings
from nst.runtime import SpeedModel
from nst.errors import NSTError
from webui import gpu
from webui.model import page_defaults
from webui.text import format_seconds


def test_zero_gpu_is_named_without_touching_cuda(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert gpu.on_zero_gpu() and "ZeroGPU" in gpu.device_name(torch.device("cuda"))
    monkeypatch.setenv("SPACES_ZERO_GPU", "false")
    assert not gpu.on_zero_gpu() and gpu.device_name(torch.device("cpu")).startswith("CPU (")


def test_the_page_starts_cheaper_on_a_cpu_and_from_the_library_s_defaults_on_a_gpu():
    cpu, cuda = page_defaults("cpu"), page_defaults("cuda")
    assert cuda == {"size": Settings().size, "steps": Settings().steps}
    assert cpu["size"] == cuda["size"]  # a CPU run still ends at the full size, coarse to fine
    cpu_step = SpeedModel(overhead=0.05, per_pixel=5e-6)  # two cores: the VGG pass grows with the pixels
    on_cpu = Settings(**cpu).on_device("cpu")
    assert on_cpu.scales_used() > 1  # coarse to fine
    assert cpu_step.run_seconds(on_cpu) < cpu_step.run_seconds(Settings(**cuda)) / 5


def test_the_zero_gpu_slice_is_never_assumed_faster_than_the_whole_h200_measured():
    # Seconds per step measured on one whole H200 with the loop of nst.stylize.
    for size, methods, seconds in ((256, ["poly"], 0.0074), (2048, ["poly"], 0.047), (2048, ["gaussian"], 0.359)):
        assert gpu.ZERO_GPU_SPEED.step_seconds(size * size, methods) >= seconds


def run(size: int, steps: int, methods: list[str], scales: int | None = None) -> Settings:
    return Settings(method=methods[0], fusion=tuple((m, 1.0) for m in methods) if len(methods) > 1 else (),
                    size=size, steps=steps, scales=scales)


def test_reservations_grow_with_the_work_and_are_capped():
    small, large, huge = (gpu.reservation(run(s, n, ["poly"])) for s, n in ((256, 100), (1024, 300), (2048, 5000)))
    assert 0 < small < large <= gpu.MAX_SECONDS and huge == gpu.MAX_SECONDS
    poly, gaussian = (gpu.reservation(run(1024, 100, [m])) for m in ("poly", "gaussian"))
    assert gaussian > poly
    assert gpu.reservation(run(1024, 100, ["poly", "gaussian"])) == gaussian


def test_the_estimate_follows_the_scale_plan():
    single, three = (gpu.ZERO_GPU_SPEED.run_seconds(run(1024, 90, ["poly"], scales)) for scales in (1, 3))
    by_hand = sum(gpu.ZERO_GPU_SPEED.estimate(size, 30, ["poly"]) for size in (256, 512, 1024))
    assert three == pytest.approx(by_hand) and three < single


@pytest.mark.parametrize("size, steps, methods", [(256, 100, ["poly"]), (512, 300, ["gaussian"]),
                                                  (1024, 300, ["poly"]), (2048, 300, ["gaussian"]),
                                                  (2048, 5000, ["poly"])])
def test_on_zero_gpu_exactly_the_work_a_reservation_would_cut_short_is_refused(monkeypatch, size, steps, methods):
    settings = run(size, steps, methods)
    cut_short = gpu.reservation(settings) < gpu.needed_seconds(settings)
    monkeypatch.setenv("SPACES_ZERO_GPU", "false")
    gpu.refuse_if_too_long(settings)  # never off ZeroGPU
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    if cut_short:
        with pytest.raises(NSTError, match=f"more than the {gpu.MAX_SECONDS} s ZeroGPU lends at once"):
            gpu.refuse_if_too_long(settings)
    else:
        gpu.refuse_if_too_long(settings)


@pytest.mark.parametrize("seconds, text", [(0.2, "under a second"), (42.4, "about 42 s"), (89, "about 89 s"),
                                           (600, "about 10 min"), (9000, "about 2.5 h")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
