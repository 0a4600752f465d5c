"""VGG-19 as a frozen feature extractor returning named activations.

The network is built from torchvision's configuration table ("E"), so its parameter
names are torchvision's `features.<i>.weight` / `.bias`, the names that both the
`timm/vgg19.tv_in1k` safetensors file and torchvision's checkpoint use.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from .config import POOLINGS
from .errors import NSTError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LAYER_NAMES", "VGG19Features", "random_extractor"]

# The statistics the torchvision / timm VGG-19 weights were trained with (inputs in 0–1).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _relu_names() -> dict[int, str]:
    """Index in `features` of every ReLU → `relu{block}_{index}`."""
    names, block, index = {}, 1, 0
    for i, module in enumerate(make_layers(cfgs["E"])):
        if isinstance(module, nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(module, nn.ReLU):
            index += 1
            names[i] = f"relu{block}_{index}"
    return names


_RELU_AT = _relu_names()
LAYER_NAMES: tuple[str, ...] = tuple(_RELU_AT.values())
_INDEX_OF = {name: i for i, name in _RELU_AT.items()}


class VGG19Features(nn.Module):
    """Frozen VGG-19 convolutional stack, cut after `last_layer`.

    `forward(image, layers)` takes images `(B, 3, H, W)` in [0, 1], applies the
    ImageNet normalisation, and returns `{layer: (B, C, H', W')}` for the requested
    `relu{block}_{index}` layers, stopping at the deepest one.
    `weights_name` says where the weights came from, for run records.
    """

    def __init__(self, state_dict: Mapping[str, Tensor] | None, *, pooling: str = "avg",
                 last_layer: str = "relu5_1", weights_name: str = "") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise NSTError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        _check_layers([last_layer])
        stack = make_layers(cfgs["E"])[: _INDEX_OF[last_layer] + 1]
        if pooling == "avg":
            stack = nn.Sequential(*(nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in stack))
        if state_dict is not None:
            _load_conv_weights(stack, state_dict)
        self.features = stack
        self.pooling = pooling
        self.weights_name = weights_name
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def forward(self, image: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        wanted = set(layers)
        _check_layers(wanted)
        last = max(_INDEX_OF[name] for name in wanted)
        if last >= len(self.features):
            raise NSTError(f"this extractor stops before {_RELU_AT[last]}")
        x = (image - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for i, module in enumerate(self.features[: last + 1]):
            x = module(x)
            if _RELU_AT.get(i) in wanted:
                out[_RELU_AT[i]] = x
        return out


def _check_layers(layers: Iterable[str]) -> None:
    for name in layers:
        if name not in _INDEX_OF:
            raise NSTError(f"unknown VGG-19 layer {name!r}; valid: {', '.join(LAYER_NAMES)}")


def _load_conv_weights(stack: nn.Sequential, state_dict: Mapping[str, Tensor]) -> None:
    """Copy `features.<i>.weight/bias` (or bare `<i>.weight/bias`) into the convolutions of `stack`."""
    bare = {k.removeprefix("features."): v for k, v in state_dict.items()}
    wanted = stack.state_dict()
    missing = [k for k in wanted if k not in bare]
    if missing:
        raise NSTError(f"weights file is not a VGG-19 checkpoint: no 'features.{missing[0]}'")
    for key, tensor in wanted.items():
        if bare[key].shape != tensor.shape:
            raise NSTError(f"weights file has features.{key} of shape {tuple(bare[key].shape)}, "
                           f"expected {tuple(tensor.shape)}: not a VGG-19 checkpoint")
    stack.load_state_dict({k: bare[k].float() for k in wanted})


def random_extractor(seed: int = 0, *, pooling: str = "avg", last_layer: str = "relu5_1") -> VGG19Features:
    """A VGG-19 with seeded random weights. For tests and timing only: never for results.

    He-normal weights keep activations of a similar size through the 16 layers, and
    small non-zero biases make a scaling test (all biases × s) meaningful.
    """
    gen = torch.Generator().manual_seed(seed)
    model = VGG19Features(None, pooling=pooling, last_layer=last_layer,
                          weights_name=f"random (seed {seed}): test weights, not a stylization model")
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * 9
            module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
            module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.05)
    return model
