"""Per-request caps that protect a shared Space: the page's largest output on its device
(`page_max_size`), and caps read once from the environment:

| variable | default | what |
| --- | --- | --- |
| `NST_MAX_RUN_SECONDS` | 300 | wall time of one run; one that reaches it ends with its last image and a notice |
| `NST_MAX_PIXEL_STEPS` | 2048² × 300 | long edge² × steps of one run; more is refused before it starts |
| `NST_RUNS_PER_VISITOR` | 1 | runs one visitor (browser tab or API client) may have going at once |

The queue's own limits (one GPU slot, 16 waiting) are in `webui.gpu`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nst.config import LIMITS, Settings
from nst.errors import NSTError

__all__ = ["CPU_MAX_SIZE", "page_max_size", "RunLimits"]

# The page's largest output on a CPU. A 4096 px print takes about 20 minutes on two cores
# (README "Print size"), all of it in the one worker every visitor's run queues for; the
# command line makes it on one's own machine instead.
CPU_MAX_SIZE = 2048


def page_max_size(device_type: str) -> int:
    """The page's largest output (long edge, px) on this device: the library's
    (`nst.config.LIMITS.max_size`, 4096 px) where a GPU runs it, in tiles when it must
    (on ZeroGPU the reservation, `webui.gpu`, then decides the steps it may have);
    `CPU_MAX_SIZE` on a CPU."""
    return LIMITS.max_size if device_type != "cpu" else CPU_MAX_SIZE


@dataclass(frozen=True)
class RunLimits:
    """The caps of one run; `check` refuses a run beyond them before it starts."""

    max_seconds: float = 300.0
    max_pixel_steps: int = 2048 * 2048 * 300
    per_visitor: int = 1

    @classmethod
    def from_env(cls) -> RunLimits:
        """The defaults, each replaced by its `NST_*` variable when set (`NSTError` for a bad value)."""
        default = cls()
        return cls(max_seconds=_positive("NST_MAX_RUN_SECONDS", default.max_seconds),
                   max_pixel_steps=int(_positive("NST_MAX_PIXEL_STEPS", default.max_pixel_steps)),
                   per_visitor=int(_positive("NST_RUNS_PER_VISITOR", default.per_visitor)))

    def check(self, settings: Settings) -> None:
        """Raise `NSTError` when `settings` ask for more than `max_pixel_steps`."""
        work = settings.size * settings.size * settings.steps
        if work > self.max_pixel_steps:
            most = self.max_pixel_steps // (settings.size * settings.size)
            raise NSTError(f"{settings.size} px × {settings.steps} steps is more than one run may do here: "
                           f"at {settings.size} px, at most {most} steps; or lower the size")


def _positive(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise NSTError(f"${name} must be a positive number, got {text!r}")
    return value
