"""nst.runtime: device description, the speed model and its calibration against the real loop."""

from __future__ import annotations

import re
import time

import pytest

from nst import runtime
from nst.config import Settings
from nst.budget import scale_layouts
from nst.tiles import core_length
from nst.runtime import CONTENT_PASS_SHARE, SpeedModel, describe_device, measure_speed, step_times


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


def test_step_times_gives_one_positive_time_per_step_of_the_real_loop(extractor):
    """The instrument behind the estimates: one stamp per streamed step, none lost or invented."""
    settings = Settings(size=32, steps=5)
    before = time.perf_counter()
    times = step_times(extractor, runtime._noise_image(32, 3), runtime._noise_image(32, 4), settings)
    wall = time.perf_counter() - before
    assert len(times) == settings.steps
    assert all(t > 0 for t in times)
    assert sum(times) <= wall


def test_a_tiled_scale_costs_its_crops_and_their_photo_patches():
    model = SpeedModel(overhead=0.1, per_pixel=1e-5)
    settings = Settings(size=4096, steps=4, scales=4)
    whole = model.run_seconds(settings)
    tiled = model.run_seconds(settings, device="cpu")
    layouts = scale_layouts(settings, (1000, 1000), [], "cpu")
    assert [l.tiled for l in layouts] == [False, False, True, True]
    expected = 0.0
    for (size, steps), layout in zip(settings.scale_plan(), layouts):
        if not layout.tiled:
            expected += steps * (0.1 + 1e-5 * size * size)
            continue
        cuts = size / core_length(size, layout.tile)  # a cut every core length, from a uniform offset
        grown = (size + 2 * layout.halo * cuts) ** 2  # halos on both sides of each cut
        expected += steps * (1 + CONTENT_PASS_SHARE) * ((cuts + 1) ** 2 * 0.1 + 1e-5 * grown)
    assert tiled == pytest.approx(expected)
    assert tiled > 1.4 * whole
