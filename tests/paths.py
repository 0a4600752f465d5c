"""Paths the tests share, whatever folder a test file is in: `from tests.paths import ROOT`."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored: screenshots the browser tests leave for a reader
