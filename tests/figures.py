"""A pytest plugin: tests record figures (latencies, memory, counts) that the run prints
in its terminal summary, under "figures", so they reach the CI log also when every test
passes. Speed figures are printed, never asserted.

Registered once, in tests/conftest.py: `pytest_plugins = ["tests.figures"]` (or
`-p tests.figures` from the repository root). A test in any folder takes the `figures`
fixture and calls `figures.add("load: 16 clients at once", "p50 1.2 s")`.
"""

from __future__ import annotations

import pytest

__all__ = ["Figures", "figures"]


class Figures:
    """Lines of figures grouped by section, in the order the tests added them."""

    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def add(self, section: str, line: str) -> None:
        """Add `line` under `section` (a section appears once, at its first line)."""
        self.sections.setdefault(section, []).append(line)

    def lines(self) -> list[str]:
        """What the summary prints: each section's name, then its lines indented."""
        out: list[str] = []
        for section, lines in self.sections.items():
            out.append(f"{section}:")
            out.extend(f"  {line}" for line in lines)
        return out


_KEY = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = Figures()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """The run's figures: `figures.add(section, line)`; printed in the terminal summary."""
    return pytestconfig.stash[_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(_KEY, None)
    if figures is None or not figures.sections:
        return  # no test recorded any: no empty section in the log
    terminalreporter.section("figures")
    for line in figures.lines():
        terminalreporter.write_line(line)
