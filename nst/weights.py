"""Finding VGG-19 weights: a local file, the Hugging Face hub, or torchvision's checkpoint.

Order for `source="auto"`: the file named by `$NST_WEIGHTS`; the hub file if it is
already in the Hugging Face cache; torchvision's file if it is already in
`$TORCH_HOME/hub/checkpoints`; then a download from the hub; then from torchvision.
Loaded extractors are cached per process (`load_extractor`), so a server loads once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch import Tensor

from .errors import NSTError
from .features import VGG19Features

__all__ = [
    "HUB_REPO",
    "HUB_FILENAME",
    "TORCHVISION_FILENAME",
    "WEIGHTS_ENV",
    "HOW_TO_PROVIDE",
    "load_state_dict",
    "load_extractor",
    "default_device",
]

HUB_REPO = "timm/vgg19.tv_in1k"
HUB_FILENAME = "model.safetensors"
TORCHVISION_FILENAME = "vgg19-dcbb9e9d.pth"
WEIGHTS_ENV = "NST_WEIGHTS"
HOW_TO_PROVIDE = (
    f"download {HUB_FILENAME} from https://huggingface.co/{HUB_REPO} (or torchvision's "
    f"{TORCHVISION_FILENAME}) and pass it with --weights PATH or {WEIGHTS_ENV}=PATH, "
    f"or allow the app to download it from the Hugging Face hub"
)


def load_state_dict(source: str | os.PathLike = "auto") -> tuple[dict[str, Tensor], str]:
    """VGG-19 parameters and a description of where they came from.

    `source` is "auto", "hub", "torchvision", or a path to a `.safetensors`, `.pth` or
    `.pt` file. Raises `NSTError` saying how to provide weights when none can be had.
    """
    if source == "hub":
        return _from_file(_hub_file(download=True)), f"hub:{HUB_REPO}"
    if source == "torchvision":
        return _torchvision_state(download=True), f"torchvision:{TORCHVISION_FILENAME}"
    if source != "auto":
        return _from_file(Path(source)), f"file:{Path(source).name}"
    if os.environ.get(WEIGHTS_ENV):
        return load_state_dict(os.environ[WEIGHTS_ENV])
    reasons = []
    for name, attempt in (
        (f"hub:{HUB_REPO}", lambda: _from_file(_hub_file(download=False))),
        (f"torchvision:{TORCHVISION_FILENAME}", lambda: _torchvision_state(download=False)),
        (f"hub:{HUB_REPO}", lambda: _from_file(_hub_file(download=True))),
        (f"torchvision:{TORCHVISION_FILENAME}", lambda: _torchvision_state(download=True)),
    ):
        try:
            return attempt(), name
        except _NotHere as exc:
            reasons.append(str(exc))
    raise NSTError(f"no VGG-19 weights found ({'; '.join(dict.fromkeys(reasons))}). To fix: {HOW_TO_PROVIDE}")


class _NotHere(Exception):
    """One source could not provide the weights; `auto` tries the next."""


def _hub_file(*, download: bool) -> Path:
    import huggingface_hub

    if not download:
        cached = huggingface_hub.try_to_load_from_cache(HUB_REPO, HUB_FILENAME)
        if isinstance(cached, str):
            return Path(cached)
        raise _NotHere("not in the Hugging Face cache")
    try:
        return Path(huggingface_hub.hf_hub_download(HUB_REPO, HUB_FILENAME))
    except Exception as exc:  # network, auth and offline errors all mean "not from here"
        raise _NotHere(f"hub download failed: {type(exc).__name__}") from exc


def _torchvision_state(*, download: bool) -> dict[str, Tensor]:
    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILENAME
    if path.is_file():
        return _from_file(path)
    if not download:
        raise _NotHere(f"not in {path.parent}")
    from torchvision.models import VGG19_Weights

    try:
        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
    except Exception as exc:
        raise _NotHere(f"torchvision download failed: {type(exc).__name__}") from exc


def _from_file(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise NSTError(f"weights file {str(path)!r} does not exist. To fix: {HOW_TO_PROVIDE}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NSTError(f"cannot read weights file {path.name!r}: {type(exc).__name__}") from exc
    if not isinstance(state, dict):
        raise NSTError(f"weights file {path.name!r} holds no state dict")
    return state.get("state_dict", state)


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=4)
def _cached_extractor(source: str, pooling: str, device: str) -> VGG19Features:
    state, name = load_state_dict(source)
    return VGG19Features(state, pooling=pooling, weights_name=name).to(device)


def load_extractor(weights: str | os.PathLike = "auto", *, pooling: str = "avg",
                   device: str | torch.device | None = None) -> VGG19Features:
    """The VGG-19 extractor for `weights` (see `load_state_dict`), loaded once per process."""
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NSTError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return _cached_extractor(str(weights), pooling, str(dev))
