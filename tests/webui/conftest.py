"""Fixtures of the app's in-process tests."""

from __future__ import annotations

import pytest

from webui import runs


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The optimizer steps every stylization of the run service takes from now on."""
    taken: list[int] = []
    real = runs.iter_stylize

    def counting(*args, **kwargs):
        for step in real(*args, **kwargs):
            taken.append(step.step)
            yield step

    monkeypatch.setattr(runs, "iter_stylize", counting)
    return taken
