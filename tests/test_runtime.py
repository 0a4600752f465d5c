"""nst.runtime: device description, the speed model and its calibration against the real loop."""

from __future__ import annotations

import re
import statistics

import pytest

from nst import runtime
from nst.config import Settings
from nst.runtime import SpeedModel, describe_device, measure_speed, step_times


def test_cpu_is_described_with_its_cores(monkeypatch):
    assert re.fullmatch(r"CPU \(\d+ cores?\)", describe_device("cpu"))
    monkeypatch.setattr(runtime, "_cpu_cores", lambda: 1)
    assert describe_device("cpu") == "CPU (1 core)"


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


def test_measure_speed_fits_the_line_through_two_timings(monkeypatch):
    def fake(extractor, size, method, steps=2):
        return 0.05 + 2e-6 * size * size + (1e-6 * size * size if method == "gaussian" else 0.0)

    monkeypatch.setattr(runtime, "_time_step", fake)
    model = measure_speed(extractor=None, sizes=(10, 30))
    assert model.overhead == pytest.approx(0.05)
    assert model.per_pixel == pytest.approx(2e-6)
    assert dict(model.extra_per_pixel)["gaussian"] == pytest.approx(1e-6)


def test_the_measured_speed_predicts_a_real_run_within_a_factor_of_two(extractor):
    """Fit at 32 and 64 px, then time 48 px: the line's prediction must hold between its points."""
    model = measure_speed(extractor, sizes=(32, 64))
    image = runtime._noise_image(48, 3)
    times = step_times(extractor, image, runtime._noise_image(48, 4), Settings(size=48, steps=7))
    real = statistics.median(times[1:])  # the first step also loads the images and builds the targets
    predicted = model.step_seconds(48 * 48, ["poly"])
    assert real / 2 < predicted < real * 2
