"""Per-request caps that protect a shared Space: read once from the environment.

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

from nst.config import Settings
from nst.errors import NSTError

__all__ = ["MAX_SIZE", "RunLimits"]

# The page's largest output: the library goes to `nst.config.LIMITS.max_size` (4096 px, in tiles on a
# CPU), the page stays at 2048 px until it has its print-size controls (issue 22).
MAX_SIZE = 2048


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
