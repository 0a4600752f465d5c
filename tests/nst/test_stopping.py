"""Early stopping (`Settings.early_stop`, `nst.stopping`): the rule as a pure function on synthetic
loss sequences, the wrapper on synthetic steps, and short runs of the random test network."""

from __future__ import annotations

import pytest
import torch

from nst import Settings, iter_stylize, stylize
from nst.config import EARLY_STOP_WINDOW
from nst.step import Step
from nst.stopping import converged, until_converged


def test_the_rule_compares_the_loss_with_its_value_a_window_before():
    totals = [1.0, 0.9, 0.8, 0.796]
    assert converged(totals, tol=0.21, window=3) is not None  # |1 − 0.796| / 1 = 20.4 %
    assert converged(totals, tol=0.20, window=3) is None
    assert converged(totals, tol=0.12, window=2) is not None  # |0.9 − 0.796| / 0.9 = 11.6 %
    assert converged(totals, tol=0.11, window=2) is None
    assert converged(totals[:3], tol=0.5, window=3) is None  # fewer than window + 1 values
    reason = converged([2.0] + [1.995] * 10, tol=0.005)  # the default window of 10: 0.25 %
    assert reason is not None and "0.25%" in reason and "10 steps" in reason


def test_the_rule_is_strict_and_never_holds_at_zero():
    assert converged([1.0, 0.995], tol=0.005, window=1) is None  # exactly at the threshold: not below it
    assert converged([1.0, 1.0, 1.0], tol=0.0, window=1) is None  # tol 0: a flat loss does not stop a run
    assert converged([0.0, 0.0], tol=0.5, window=1) is None  # a zero loss has no relative change


def _steps(totals: list[float], steps: int | None = None, tiles: int = 1):
    """Steps 1… with these totals; with `tiles`, each step reported after each of its tiles."""
    closed = []

    def gen():
        try:
            for i, total in enumerate(totals, start=1):
                for tile in range(1, tiles + 1):
                    yield Step(i, steps or len(totals), {"total": total}, torch.zeros(1, 3, 2, 2), 0.0,
                               tile=tile, tiles=tiles)
        finally:
            closed.append(True)
    return gen(), closed


def test_the_wrapper_stops_at_the_first_step_the_rule_holds_and_closes_its_source():
    source, closed = _steps([4.0, 2.0, 1.0, 0.99, 0.985, 0.98], steps=10)
    out = list(until_converged(source, tol=0.05, window=2))  # holds first at step 5: |1 − 0.985| = 1.5 %
    assert [s.step for s in out] == [1, 2, 3, 4, 5] and closed == [True]
    assert all(s.stopped is None for s in out[:-1]) and out[-1].stopped.startswith("early stop")
    assert out[-1].last and not out[-2].last


def test_the_wrapper_counts_complete_steps_only_and_leaves_the_last_step_alone():
    source, _ = _steps([1.0, 1.0, 1.0], tiles=3)
    out = list(until_converged(source, tol=0.5, window=1))
    assert [(s.step, s.tile) for s in out][-1] == (2, 3)  # after the complete step 2, not inside it
    source, _ = _steps([1.0, 1.0], steps=2)
    out = list(until_converged(source, tol=0.5, window=1))  # holds first at the run's last step: nothing stopped
    assert [s.step for s in out] == [1, 2] and out[-1].stopped is None


def test_a_run_stops_early_with_a_loose_tolerance_and_says_why(extractor, content_path, style_path):
    settings = Settings(size=32, steps=40, early_stop=0.5)
    result = stylize(content_path, style_path, settings, extractor=extractor, progress=False)
    record, totals = result.record, result.history["total"]
    assert EARLY_STOP_WINDOW < record.steps_done < 40 and len(totals) == record.steps_done
    assert record.stopped is not None and record.stopped.startswith("early stop")
    assert converged(totals, 0.5) is not None  # the rule holds where it stopped, and at no step before
    assert all(converged(totals[:t], 0.5) is None for t in range(1, record.steps_done))


def test_a_run_with_tolerance_zero_takes_every_step(extractor, content_path, style_path):
    result = stylize(content_path, style_path, Settings(size=32, steps=14), extractor=extractor, progress=False)
    assert result.record.steps_done == 14 and result.record.stopped is None


def test_only_the_finest_scale_stops(extractor, content_path, style_path):
    """64 px in two scales of 13 steps: the rule is looked at from the 32 px scale's end on."""
    settings = Settings(size=64, steps=26, scales=2, early_stop=0.9)
    steps = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    assert steps[-1].step == 13 + EARLY_STOP_WINDOW + 1 and steps[-1].stopped is not None
    assert steps[-1].scale == 2 and all(s.stopped is None for s in steps[:-1])
