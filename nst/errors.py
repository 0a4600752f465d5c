"""The one exception type the library raises for bad input or missing weights."""

__all__ = ["NSTError"]


class NSTError(ValueError):
    """A user-facing problem, described in one line (bad image, parameter out of range, no weights)."""
