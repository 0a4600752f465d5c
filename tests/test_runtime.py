"""nst.runtime: device description, CPU defaults, the speed model and its calibration."""

from __future__ import annotations

import math
import re

import pytest

from nst import runtime
from nst.config import Settings
from nst.runtime import (CPU_SIZE, CPU_STEPS, ZERO_GPU_SPEED, SpeedModel, describe_device, format_seconds,
                         measure_speed, run_defaults)


def test_cpu_is_described_with_its_cores(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert re.fullmatch(r"CPU \(\d+ cores?\)", describe_device("cpu"))
    monkeypatch.setattr(runtime, "_cpu_cores", lambda: 1)
    assert describe_device("cpu") == "CPU (1 core)"


def test_zero_gpu_is_named_without_touching_cuda(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert runtime.on_zero_gpu()
    assert "ZeroGPU" in describe_device("cuda")
    monkeypatch.setenv("SPACES_ZERO_GPU", "false")
    assert not runtime.on_zero_gpu()


def test_defaults_are_smaller_on_cpu():
    assert run_defaults("cpu") == {"size": CPU_SIZE, "steps": CPU_STEPS}
    assert run_defaults("cuda") == {"size": Settings().size, "steps": Settings().steps}
    assert CPU_SIZE < Settings().size and CPU_STEPS < Settings().steps


def test_estimate_is_steps_times_an_affine_step_cost():
    model = SpeedModel(overhead=0.1, per_pixel=1e-5, extra_per_pixel=(("gaussian", 3e-5),))
    assert model.estimate(100, 10) == pytest.approx(10 * (0.1 + 1e-5 * 100 * 100))
    assert model.estimate(100, 20) == pytest.approx(2 * model.estimate(100, 10))
    # A 2:1 image has half the pixels of the square with the same long edge.
    assert model.estimate(100, 10, aspect=0.5) == pytest.approx(10 * (0.1 + 1e-5 * 5000))
    # The Gaussian MMD's extra cost counts once it is among the methods, alone or in a fusion.
    assert model.estimate(100, 10, ["gaussian"]) == pytest.approx(10 * (0.1 + 4e-5 * 100 * 100))
    assert model.estimate(100, 10, ("bn", "gaussian")) == model.estimate(100, 10, ["gaussian"])
    assert model.estimate(100, 10, ["poly", "bn"]) == model.estimate(100, 10)


def test_zero_gpu_speed_is_slower_than_a_whole_h200_and_prices_gaussian_higher():
    h200 = runtime._H200_SPEED
    assert ZERO_GPU_SPEED.per_pixel == pytest.approx(h200.per_pixel * 7 / 3)
    assert ZERO_GPU_SPEED.estimate(512, 300, ["gaussian"]) > 4 * ZERO_GPU_SPEED.estimate(512, 300, ["poly"])


def test_measure_speed_fits_the_line_through_two_timings(monkeypatch):
    def fake(extractor, size, method, steps=2):
        return 0.05 + 2e-6 * size * size + (1e-6 * size * size if method == "gaussian" else 0.0)

    monkeypatch.setattr(runtime, "_time_step", fake)
    model = measure_speed(extractor=None, sizes=(10, 30))
    assert model.overhead == pytest.approx(0.05)
    assert model.per_pixel == pytest.approx(2e-6)
    assert dict(model.extra_per_pixel)["gaussian"] == pytest.approx(1e-6)


def test_measure_speed_times_the_real_loop(extractor):
    model = measure_speed(extractor, sizes=(16, 32))
    assert math.isfinite(model.overhead) and model.overhead >= 0
    assert math.isfinite(model.per_pixel) and model.per_pixel >= 0
    assert dict(model.extra_per_pixel)["gaussian"] >= 0
    assert model.step_seconds(32 * 32) > 0


@pytest.mark.parametrize("seconds, text", [(0.2, "under a second"), (42.4, "about 42 s"), (89, "about 89 s"),
                                           (600, "about 10 min"), (9000, "about 2.5 h")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
