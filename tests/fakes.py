"""The fake VGG-19 checkpoint the suite runs on: seeded random weights written in the
Hugging Face hub's own layout, so the real loading code is exercised offline.

tests/conftest.py writes one into the session's temporary HF_HOME; tests that need other
seeds (parametrized at collection time) import `fake_state_dict` from here.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from nst.features import random_extractor
from nst.weights import SOURCES

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
