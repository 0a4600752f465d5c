"""The benchmark's baseline: Gram-matrix style transfer written the plain way.

This is how the PyTorch tutorial teaches neural style transfer, and what the speed of
`nst` is measured against: the network's layers are copied into a new `nn.Sequential`
with a normalisation module in front and loss modules spliced in after the content and
style layers (each stores its loss as an attribute on every forward pass); the Gram
matrix is G = F Fᵀ / (N·M) for N channels and M positions, compared by mean squared
error; float32 throughout; `torch.optim.LBFGS` with its defaults, whose `step` runs up
to 20 evaluations of the closure; the image is clamped to [0, 1] in every evaluation.

Its style loss per layer is MSE(G_x, G_s) = ‖Ĝ_x − Ĝ_s‖²_F / N⁴ with Ĝ = F Fᵀ / M, that
is `nst.methods.poly.poly(x, s) / N²` (poly divides by N² once).
"""

from __future__ import annotations

import copy
import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nst.features import VGGFeatures, layer_names
from nst.images import ImageSource, load_tensor

__all__ = ["tutorial_gram", "Baseline"]

STYLE_WEIGHT = 1e6  # the tutorial's balance: style ×10⁶, content ×1
CONTENT_WEIGHT = 1.0


def tutorial_gram(x: Tensor) -> Tensor:
    """G = F Fᵀ / (N·M) of a feature map `(1, N, H, W)`, with F its `(N, M)` matrix, M = H·W."""
    _, n, h, w = x.shape
    f = x.reshape(n, h * w)
    return f @ f.T / (n * h * w)


class _Normalise(nn.Module):
    def __init__(self, extractor: VGGFeatures) -> None:
        super().__init__()
        self.extractor = [extractor]  # a list: not a submodule, so its layers are not copied twice

    def forward(self, image: Tensor) -> Tensor:
        return self.extractor[0].prepare(image)


class _ContentLoss(nn.Module):
    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.loss = torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        self.loss = F.mse_loss(x, self.target)
        return x


class _StyleLoss(nn.Module):
    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.target = tutorial_gram(target).detach()
        self.loss = torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        self.loss = F.mse_loss(tutorial_gram(x), self.target)
        return x


class Baseline:
    """The tutorial's model for `content` in the style of `style` at long edge `size`, on
    `extractor`'s layers and weights (copied): `step()` is one `LBFGS.step`, `evaluations`
    counts the forward and backward passes made so far."""

    def __init__(self, extractor: VGGFeatures, content: ImageSource, style: ImageSource, size: int,
                 content_layers: Sequence[str] = ("relu4_2",),
                 style_layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")) -> None:
        device = extractor.device
        content_image = load_tensor(content, size, device, name="content image")
        style_image = load_tensor(style, size, device, name="style image")
        # The tutorial's loss modules need the two images at one size: the style takes the content's.
        style_image = F.interpolate(style_image, size=content_image.shape[-2:], mode="bilinear", antialias=True)
        self.model = nn.Sequential(_Normalise(extractor))
        self.content_losses: list[_ContentLoss] = []
        self.style_losses: list[_StyleLoss] = []
        wanted = set(content_layers) | set(style_layers)
        relus = iter(layer_names(extractor.backbone))
        for module in extractor.features:
            # A copy of each layer, as the tutorial builds its own model from the network's.
            self.model.append(nn.ReLU(inplace=False) if isinstance(module, nn.ReLU) else copy.deepcopy(module))
            if not isinstance(module, nn.ReLU):
                continue
            name = next(relus)
            if name in content_layers:
                self.content_losses.append(self._splice(_ContentLoss(self.model(content_image))))
            if name in style_layers:
                self.style_losses.append(self._splice(_StyleLoss(self.model(style_image))))
            wanted.discard(name)
            if not wanted:
                break
        self.model.requires_grad_(False)
        self.image = content_image.clone().requires_grad_(True)
        self.optimizer = torch.optim.LBFGS([self.image])
        self.evaluations = 0

    def _splice(self, module: nn.Module) -> nn.Module:
        self.model.append(module)
        return module

    def losses(self) -> tuple[Tensor, Tensor]:
        """(content, style) losses of the current image, weights not applied."""
        with torch.no_grad():
            self.model(self.image.clamp(0, 1))
        return sum(c.loss for c in self.content_losses), sum(s.loss for s in self.style_losses)

    def _closure(self) -> Tensor:
        with torch.no_grad():
            self.image.clamp_(0, 1)
        self.optimizer.zero_grad()
        self.model(self.image)
        loss = (STYLE_WEIGHT * sum(s.loss for s in self.style_losses)
                + CONTENT_WEIGHT * sum(c.loss for c in self.content_losses))
        loss.backward()
        self.evaluations += 1
        return loss

    def step(self) -> None:
        self.optimizer.step(self._closure)

    def seconds_per_evaluation(self, evaluations: int, warmup: int = 2) -> float:
        """Mean wall seconds of one forward and backward pass, over `evaluations` after `warmup`."""
        while self.evaluations < warmup:
            self.step()
        _sync(self.image.device)
        start, done = time.perf_counter(), self.evaluations
        while self.evaluations - done < evaluations:
            self.step()
        _sync(self.image.device)
        return (time.perf_counter() - start) / (self.evaluations - done)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
