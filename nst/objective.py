"""The total loss of one request: content term plus γ times the style terms.

    L(x) = α · ‖F(x) − P‖² / ‖P‖²  +  γ · Σ_l w_l Σ_m β_m S_{m,l}(x) / Σ_l w_l  +  λ · TV(x) / TV(s)

F and P are the relu4_2 features of the image and of the content photo; S_{m,l} is
method m's scale-free style term at layer l (see `nst.methods`); β_m are the fusion
weights (summing to 1) and w_l the layer weights. Dividing by Σ w_l keeps γ's meaning
when the number of style layers changes. The total-variation term (weight λ, 0 turns it
off) is measured against the painting's own, s, so λ = 1 weighs "as rough as the painting".
Targets are computed once, here.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from . import losses
from .config import CONTENT_LAYER, Settings
from .features import VGGFeatures
from .methods import StyleTerm, fusion_weights, get_method

__all__ = ["Objective", "feature_matrix"]


def feature_matrix(activation: Tensor) -> Tensor:
    """`(1, C, H, W)` activation → `(C, H·W)` float32 feature matrix, one column per position."""
    return activation[0].flatten(1).float()  # (C, M)


class Objective:
    """Callable `image (1, 3, H, W) → (total, {term: value})` for one content/style pair.

    Term names: "content", then one per style method (the layer-weighted mean of its
    scale-free terms), "tv" when its weight is positive, then "total". `gamma` is the
    balance factor in use.
    """

    def __init__(self, extractor: VGGFeatures, content: Tensor, style: Tensor, settings: Settings) -> None:
        self.extractor = extractor
        self.settings = settings
        self.alpha = settings.content_weight
        self.betas = fusion_weights(settings.method, settings.mix)
        self.gamma = settings.gamma_used()
        weights = settings.layer_weights or (1.0,) * len(settings.style_layers)
        self.layer_weights = {l: w / sum(weights) for l, w in zip(settings.style_layers, weights) if w > 0}
        self.layers = set(self.layer_weights) | ({CONTENT_LAYER} if self.alpha > 0 else set())
        options = settings.method_options()
        # One seeded generator draws every term's fixed random parts (Fourier frequencies).
        generator = torch.Generator().manual_seed(settings.seed)
        with torch.no_grad():
            style_feats = self.features(style)
            self.terms: dict[str, dict[str, StyleTerm]] = {
                m: {l: get_method(m).build(feature_matrix(style_feats[l]), generator=generator, **options)
                    for l in self.layer_weights}
                for m in self.betas
            }
            self.target = self.features(content)[CONTENT_LAYER].float() if self.alpha > 0 else None
        self.content_scale = losses.content(torch.zeros_like(self.target), self.target).clamp_min(1e-12) \
            if self.target is not None else None
        self.tv_weight = settings.tv_weight
        self.tv_scale = losses.total_variation(style).clamp_min(1e-12)

    def features(self, image: Tensor) -> dict[str, Tensor]:
        """The activations this objective needs, under bf16 autocast when asked for."""
        device_type = image.device.type
        autocast = (torch.autocast(device_type, dtype=torch.bfloat16) if self.settings.precision == "bf16"
                    else contextlib.nullcontext())
        with autocast:
            return self.extractor(image, self.layers)

    def __call__(self, image: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self.features(image)
        terms: dict[str, Tensor] = {}
        total = image.new_zeros(())
        if self.target is not None:
            terms["content"] = losses.content(feats[CONTENT_LAYER].float(), self.target) / self.content_scale
            total = total + self.alpha * terms["content"]
        for method, beta in self.betas.items():
            terms[method] = sum(w * self.terms[method][l](feature_matrix(feats[l]), generator)
                                for l, w in self.layer_weights.items())
            total = total + self.gamma * beta * terms[method]
        if self.tv_weight > 0:
            terms["tv"] = losses.total_variation(image) / self.tv_scale
            total = total + self.tv_weight * terms["tv"]
        terms["total"] = total
        return total, terms
