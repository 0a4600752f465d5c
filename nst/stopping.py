"""Early stopping: ending a run once its loss has settled (`Settings.early_stop`).

The rule, at the finest scale only (the coarse scales' steps draw the painting's strokes
and their image is not the result): after complete step t of that scale, with k =
`EARLY_STOP_WINDOW` and L_t the total loss reported at step t (`Step.losses["total"]`),

    |L_{t−k} − L_t| / |L_{t−k}|  <  tol,

once the scale has had k + 1 complete steps. tol = 0 never holds, so the run takes every
step. A tiled scale's inner tiles (`Step.complete` false) do not count.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

from .config import EARLY_STOP_WINDOW
from .step import Step

__all__ = ["converged", "until_converged"]


def converged(totals: Sequence[float], tol: float, window: int = EARLY_STOP_WINDOW) -> str | None:
    """Why the run may stop after the last of `totals` (a scale's total losses, one per complete
    step, oldest first), or None while the rule above does not hold."""
    if len(totals) <= window:
        return None
    before, now = totals[-1 - window], totals[-1]
    change = abs(before - now) / abs(before) if before != 0 else float("inf")
    if not change < tol:
        return None
    return (f"early stop: the total loss changed by {change:.2%} over the last {window} steps "
            f"(less than {tol:.2%})")


def until_converged(steps: Iterator[Step], tol: float, window: int = EARLY_STOP_WINDOW) -> Iterator[Step]:
    """`steps` (the finest scale's) until `converged` holds: that step is yielded with its reason in
    `Step.stopped` and `steps` is closed. A rule that first holds at the run's last step stops nothing."""
    totals: list[float] = []
    for step in steps:
        reason = None
        if step.complete:
            totals.append(step.losses["total"])
            reason = converged(totals, tol, window) if step.step < step.steps else None
        if reason is not None:
            yield dataclasses.replace(step, stopped=reason)
            steps.close()  # type: ignore[attr-defined]  # frees the scale's optimizer and targets now
            return
        yield step
