"""Fixtures every folder of tests/ shares. Everything runs offline: the Hugging Face cache and
torch hub folder point at a temporary directory holding a fake VGG-19 checkpoint with seeded
random weights (tests/fakes.py), written in the hub's own layout, so the real loading code is
exercised. The running app and the browser are in tests/e2e/conftest.py."""

from __future__ import annotations

import os
import runpy
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

# Set before anything imports huggingface_hub or gradio, which read them at import time.
_HOME = Path(tempfile.mkdtemp(prefix="nst-tests-"))
os.environ["HF_HOME"] = str(_HOME / "hf")
os.environ["TORCH_HOME"] = str(_HOME / "torch")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.pop("NST_NETWORK", None)

import pytest  # noqa: E402

from nst.features import random_extractor  # noqa: E402
from nst.methods import isolated_registry  # noqa: E402
from tests.fakes import write_fake_hub_checkpoint  # noqa: E402
from tests.paths import EXAMPLES  # noqa: E402

pytest_plugins = ["tests.figures"]  # the `figures` fixture: figures printed in the run's terminal summary
FAKE_CHECKPOINT = write_fake_hub_checkpoint(_HOME / "hf")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def extractor():
    """Seeded random-weights VGG-19 on the CPU (test weights, never a stylization model)."""
    return random_extractor(0)


@pytest.fixture(scope="session")
def hf_home() -> Path:
    """The temporary HF_HOME holding the fake hub checkpoint."""
    return _HOME / "hf"


@pytest.fixture
def content_path() -> Path:
    return EXAMPLES / "content" / "chelsea_cat.jpg"


@pytest.fixture
def style_path() -> Path:
    return EXAMPLES / "style" / "starry_night.jpg"


@pytest.fixture
def other_style_path() -> Path:
    """A second painting (The Scream): for two paintings blended, or a painting that differs."""
    return EXAMPLES / "style" / "the_scream.jpg"


@pytest.fixture(scope="session")
def examples() -> Path:
    """The repository's examples/ folder (photos, paintings, masks, the paper's manifest)."""
    return EXAMPLES


@pytest.fixture(scope="session")
def custom_distance() -> Path:
    """examples/custom_distance.py: a distance of one's own, as a plugin file (`--plugin`)."""
    return EXAMPLES / "custom_distance.py"


@pytest.fixture
def energy(custom_distance: Path) -> dict:
    """examples/custom_distance.py run as a user would (`runpy`): "energy" is registered for this
    test only. Returns the file's namespace (its `energy` loss, `POSITIONS`)."""
    with isolated_registry():
        yield runpy.run_path(str(custom_distance))


@pytest.fixture
def render_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the optimisation runs the figure runner starts (one per rendered cell)."""
    from nst.paper import cells

    calls = [0]
    real = cells.iter_stylize

    def counting(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "iter_stylize", counting)
    return calls


@pytest.fixture(autouse=True)
def cpu_without_bf16_units() -> Iterator[None]:
    """`precision="auto"` (the default) resolves to fp32 on the CPU in every test, as on the AVX2-only
    machine whose runs set the suite's thresholds, also on a CPU with AMX; the tests of "auto" itself
    (tests/nst/test_precision.py) simulate other CPUs by patching `nst.precision.cpu_info` again.

    A patch of its own, not the `monkeypatch` fixture: that one would then be set up before every
    module's own autouse fixtures and undone after them, so their teardown would see the test's patches."""
    from nst import precision

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "cpu_info", lambda: ("a CPU without bf16 units", frozenset({"avx2", "fma"})))
        yield
