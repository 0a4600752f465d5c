"""VGG-16 and VGG-19 as frozen feature extractors returning named activations.

Both networks are built from torchvision's configuration tables ("D" and "E"), so their
parameter names are torchvision's `features.<i>.weight` / `.bias`: the names of the
`timm/vgg1{6,9}.tv_in1k` safetensors files and of torchvision's checkpoints. Layers are
named `relu{block}_{index}` in both; every layer this project uses (relu1_1 … relu5_1
for style, relu4_2 for content) exists in both.

A weight file was trained on inputs prepared one way, its `InputConvention`:
torchvision's (RGB in 0–1, ImageNet mean and std) or Caffe's (BGR in 0–255 minus a mean
pixel, no std), which the paper's official code and Oxford's own files use. The extractor
takes RGB images in [0, 1] and applies its weights' convention itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

import torch
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from .config import POOLINGS
from .errors import NSTError

__all__ = [
    "BACKBONES",
    "InputConvention",
    "TORCHVISION_INPUT",
    "CAFFE_INPUT",
    "layer_names",
    "conv_keys",
    "VGGFeatures",
    "random_extractor",
]

# Backbone name → torchvision configuration table and the name shown to people.
BACKBONES: dict[str, tuple[str, str]] = {"vgg16": ("D", "VGG-16"), "vgg19": ("E", "VGG-19")}


@dataclass(frozen=True)
class InputConvention:
    """How a weight file wants its input: net = (rgb[order] · scale − mean) / std, per channel.

    `rgb` is an image in [0, 1]; `bgr` reverses the channels first; `mean` and `std` are
    in the network's channel order and in units of `scale`.
    """

    name: str
    bgr: bool
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def mean_rgb(self) -> tuple[float, float, float]:
        """The image in [0, 1] that the network sees as all zeros: its training set's mean colour, RGB."""
        mean = tuple(m / self.scale for m in self.mean)
        return mean[::-1] if self.bgr else mean  # type: ignore[return-value]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> InputConvention:
        """Inverse of `to_json`; a malformed text raises `NSTError`."""
        try:
            data = json.loads(text)
            return cls(str(data["name"]), bool(data["bgr"]), float(data["scale"]),
                       tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise NSTError(f"weights file has an unreadable input convention ({type(exc).__name__})") from None


# torchvision's and timm's ImageNet weights (inputs in 0–1, normalised per channel).
TORCHVISION_INPUT = InputConvention("torchvision", False, 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# The Caffe VGG models of Simonyan and Zisserman, used by the paper's official code and by
# neural-style-pt's converted files: BGR in 0–255 minus the ILSVRC mean pixel.
CAFFE_INPUT = InputConvention("caffe", True, 255.0, (103.939, 116.779, 123.68))


def _relu_names(backbone: str) -> dict[int, str]:
    """Index in `features` of every ReLU → `relu{block}_{index}`."""
    names, block, index = {}, 1, 0
    for i, module in enumerate(make_layers(cfgs[BACKBONES[backbone][0]])):
        if isinstance(module, nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(module, nn.ReLU):
            index += 1
            names[i] = f"relu{block}_{index}"
    return names


_RELU_AT = {name: _relu_names(name) for name in BACKBONES}
_INDEX_OF = {name: {layer: i for i, layer in relus.items()} for name, relus in _RELU_AT.items()}


def _check_backbone(backbone: str) -> None:
    if backbone not in BACKBONES:
        raise NSTError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")


def layer_names(backbone: str = "vgg19") -> tuple[str, ...]:
    """Every `relu{block}_{index}` layer of `backbone`, in order."""
    _check_backbone(backbone)
    return tuple(_RELU_AT[backbone].values())


def conv_keys(backbone: str) -> list[str]:
    """The `features.<i>.weight` key of each convolution of `backbone`, in order."""
    _check_backbone(backbone)
    return [f"features.{i}.weight" for i, m in enumerate(make_layers(cfgs[BACKBONES[backbone][0]]))
            if isinstance(m, nn.Conv2d)]


class VGGFeatures(nn.Module):
    """Frozen VGG convolutional stack, cut after `last_layer`.

    `forward(image, layers)` takes RGB images `(B, 3, H, W)` in [0, 1], applies the
    weights' `convention`, and returns `{layer: (B, C, H', W')}` for the requested
    `relu{block}_{index}` layers, stopping at the deepest one. `source` says where
    the weights came from and `label` names backbone and weights for captions.
    """

    def __init__(self, state_dict: Mapping[str, Tensor] | None, *, backbone: str = "vgg19",
                 convention: InputConvention = TORCHVISION_INPUT, pooling: str = "avg",
                 last_layer: str = "relu5_1", source: str = "", label: str = "") -> None:
        super().__init__()
        _check_backbone(backbone)
        if pooling not in POOLINGS:
            raise NSTError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.backbone = backbone
        _check_layers(backbone, [last_layer])
        stack = make_layers(cfgs[BACKBONES[backbone][0]])[: _INDEX_OF[backbone][last_layer] + 1]
        if pooling == "avg":
            stack = nn.Sequential(*(nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in stack))
        if state_dict is not None:
            _load_conv_weights(stack, state_dict, BACKBONES[backbone][1])
        self.features = stack
        self.pooling = pooling
        self.convention = convention
        self.source = source
        self.label = label or f"{BACKBONES[backbone][1]} ({source or 'unnamed weights'})"
        order = [2, 1, 0] if convention.bgr else [0, 1, 2]
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("mean", torch.tensor(convention.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(convention.std).view(1, 3, 1, 1), persistent=False)
        # The weights' and the input's layout (`nst.precision.memory_format`); changed by `use_memory_format`.
        self.memory_format = torch.contiguous_format
        self.eval().requires_grad_(False)

    def use_memory_format(self, memory_format: torch.memory_format) -> None:
        """Lay the weights and every input out in `memory_format` from now on; converts the
        weights only when the format changes (once per run, not once per step)."""
        if memory_format != self.memory_format:
            self.features.to(memory_format=memory_format)
            self.memory_format = memory_format

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def prepare(self, image: Tensor) -> Tensor:
        """RGB `(B, 3, H, W)` in [0, 1] → the network's input under its convention."""
        return (image[:, self.order] * self.convention.scale - self.mean) / self.std

    def forward(self, image: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        wanted = set(layers)
        _check_layers(self.backbone, wanted)
        index_of = _INDEX_OF[self.backbone]
        last = max(index_of[name] for name in wanted)
        if last >= len(self.features):
            raise NSTError(f"this extractor stops before {_RELU_AT[self.backbone][last]}")
        x = self.prepare(image).contiguous(memory_format=self.memory_format)  # a no-op for fp32's layout
        out: dict[str, Tensor] = {}
        for i, module in enumerate(self.features[: last + 1]):
            x = module(x)
            if _RELU_AT[self.backbone].get(i) in wanted:
                out[_RELU_AT[self.backbone][i]] = x
        return out


def _check_layers(backbone: str, layers: Iterable[str]) -> None:
    for name in layers:
        if name not in _INDEX_OF[backbone]:
            raise NSTError(f"unknown {BACKBONES[backbone][1]} layer {name!r}; valid: {', '.join(layer_names(backbone))}")


def _load_conv_weights(stack: nn.Sequential, state_dict: Mapping[str, Tensor], title: str) -> None:
    """Copy `features.<i>.weight/bias` (or bare `<i>.weight/bias`) into the convolutions of `stack`."""
    bare = {k.removeprefix("features."): v for k, v in state_dict.items()}
    wanted = stack.state_dict()
    missing = [k for k in wanted if k not in bare]
    if missing:
        raise NSTError(f"weights file is not a {title} checkpoint: no 'features.{missing[0]}'")
    for key, tensor in wanted.items():
        if bare[key].shape != tensor.shape:
            raise NSTError(f"weights file has features.{key} of shape {tuple(bare[key].shape)}, "
                           f"expected {tuple(tensor.shape)}: not a {title} checkpoint")
    stack.load_state_dict({k: bare[k].float() for k in wanted})


def random_extractor(seed: int = 0, *, backbone: str = "vgg19", convention: InputConvention = TORCHVISION_INPUT,
                     pooling: str = "avg", last_layer: str = "relu5_1") -> VGGFeatures:
    """A VGG with seeded random weights. For tests and timing only: never for results.

    He-normal weights keep activations of a similar size through the layers, and
    small non-zero biases make a scaling test (all biases × s) meaningful.
    """
    gen = torch.Generator().manual_seed(seed)
    title = BACKBONES.get(backbone, (None, backbone))[1]
    model = VGGFeatures(None, backbone=backbone, convention=convention, pooling=pooling, last_layer=last_layer,
                        source=f"random (seed {seed})",
                        label=f"{title} with random weights (seed {seed}): test weights, not a stylization model")
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * 9
            module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
            module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.05)
    return model
