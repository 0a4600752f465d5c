"""Shared fixtures. Everything runs offline: the Hugging Face cache and torch hub folder
point at a temporary directory holding a fake VGG-19 checkpoint with seeded random
weights, written in the hub's own layout, so the real loading code is exercised."""

from __future__ import annotations

import os
import runpy
import shutil
import tempfile
from pathlib import Path

# Set before anything imports huggingface_hub or gradio, which read them at import time.
_HOME = Path(tempfile.mkdtemp(prefix="nst-tests-"))
os.environ["HF_HOME"] = str(_HOME / "hf")
os.environ["TORCH_HOME"] = str(_HOME / "torch")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.pop("NST_WEIGHTS", None)

import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from nst.features import random_extractor  # noqa: E402
from nst.methods import isolated_registry  # noqa: E402
from nst.weights import SOURCES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["figures"]  # tests/figures.py: figures printed in the run's terminal summary
FAKE_REVISION = "0123456789abcdef0123456789abcdef01234567"
FAKE_SEED = 1234
HUB_REPO = SOURCES["vgg19"].hub_repo


def fake_state_dict(seed: int = FAKE_SEED) -> dict[str, torch.Tensor]:
    """`features.<i>.weight/bias` of a seeded random VGG-19, as the hub file names them."""
    model = random_extractor(seed, last_layer="relu5_4")  # every convolution, like the real file
    return {f"features.{k}": v.contiguous() for k, v in model.features.state_dict().items()}


def write_fake_hub_checkpoint(hf_home: Path, seed: int = FAKE_SEED) -> Path:
    """Write `model.safetensors` into `hf_home` in the layout `hf_hub_download` reads offline."""
    repo_dir = Path(hf_home) / "hub" / f"models--{HUB_REPO.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / FAKE_REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(FAKE_REVISION)
    path = snapshot / "model.safetensors"
    save_file(fake_state_dict(seed), str(path))
    return path


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
    return ROOT / "examples" / "content" / "chelsea_cat.jpg"


@pytest.fixture
def style_path() -> Path:
    return ROOT / "examples" / "style" / "starry_night.jpg"


CUSTOM_DISTANCE = ROOT / "examples" / "custom_distance.py"


@pytest.fixture
def energy() -> dict:
    """examples/custom_distance.py run as a user would (`runpy`): "energy" is registered for this
    test only. Returns the file's namespace (its `energy` loss, `POSITIONS`)."""
    with isolated_registry():
        yield runpy.run_path(str(CUSTOM_DISTANCE))


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


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright, shared by the browser tests."""
    from app_server import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MISSING, REQUIRE_BROWSER

    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        (pytest.fail if REQUIRE_BROWSER else pytest.skip)(CHROMIUM_MISSING)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
