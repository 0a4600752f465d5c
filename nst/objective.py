"""The total loss of one request: content term plus γ times the style terms.

    L(x) = α · ‖F(x) − P‖² / ‖P‖²  +  γ · Σ_l w_l Σ_m β_m S_{m,l}(x) / Σ_l w_l  +  λ · TV(x) / TV(s)

F and P are the relu4_2 features of the image and of the content photo; S_{m,l} is
method m's scale-free style term at layer l (see `nst.methods`); β_m are the fusion
weights (summing to 1) and w_l the layer weights. Dividing by Σ w_l keeps γ's meaning
when the number of style layers changes. The total-variation term (weight λ, 0 turns it
off) is measured against the painting's own, s, so λ = 1 weighs "as rough as the painting".
With several paintings S_{m,l} is the term against the mixture of their distributions, or
the weighted sum of one term per painting (`Settings.style_blend`, `painting_weights`).
With regions (a label map, `nst.regions`) it is instead Σ_r (M_r / M) S_{m,l}^{k(r)}(x_r):
the feature vectors x_r at the M_r positions of region r (of M at that layer) matched to
its painting k(r)'s distribution; positions of no painting have no style term.
The paintings' targets are computed once per scale (`StyleTargets`); a tile of a tiled
scale (`nst.tiled`) is its own `Objective`: its photo patch, its part of the regions, the
scale's targets.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
from torch import Tensor

from . import losses
from .config import CONTENT_LAYER, Settings
from .features import VGGFeatures
from .errors import NSTError
from .methods import Method, StyleTerm, fusion_weights, get_method, pool
from .precision import memory_format, precision_used
from .regions import layer_regions

__all__ = ["Objective", "StyleTargets", "feature_matrix", "layer_weights", "network_features", "painting_shares"]


def feature_matrix(activation: Tensor) -> Tensor:
    """`(1, C, H, W)` activation → `(C, H·W)` float32 feature matrix, one column per position."""
    return activation[0].flatten(1).float()  # (C, M)


def network_features(extractor: VGGFeatures, image: Tensor, layers: set[str], precision: str) -> dict[str, Tensor]:
    """`extractor`'s activations `{layer: (1, C, H', W')}` of `image` `(1, 3, H, W)` at `layers`; when
    `precision` (resolved: `nst.precision.precision_used`) is "bf16", under bf16 autocast with the
    network and its activations in channels_last, else in float32 as they are."""
    extractor.use_memory_format(memory_format(precision))
    autocast = (torch.autocast(image.device.type, dtype=torch.bfloat16) if precision == "bf16"
                else contextlib.nullcontext())
    with autocast:
        return extractor(image, layers)


class StyleTargets:
    """The paintings' side of the style terms at one scale, built once: for each method and
    style layer, one term against the paintings blended (`blended`, no regions) or one term
    per painting (`each`, with regions: a region is matched to its own painting's term).

    A tiled scale builds them once for all its tiles, from the whole paintings. `tv_scale` is
    the paintings' own total variation, weighted as the paintings are.
    """

    def __init__(self, extractor: VGGFeatures, styles: Sequence[Tensor], settings: Settings, *,
                 masked: bool) -> None:
        betas = fusion_weights(settings.method, settings.fusion)
        layers = layer_weights(settings)
        # One seeded generator draws every term's fixed random parts (Fourier frequencies).
        generator = torch.Generator().manual_seed(settings.seed)
        paintings = painting_shares(settings, len(styles), masked=masked)
        precision = precision_used(settings.precision, extractor.device)
        self.masked = masked
        self.blended: dict[str, dict[str, StyleTerm]] = {}
        self.each: dict[str, dict[str, list[StyleTerm]]] = {}
        with torch.no_grad():
            feats = [network_features(extractor, s, set(layers), precision) for s in styles]
            for method in betas:
                m = get_method(method)
                options = m.options_for(settings)
                for layer in layers:
                    features = [feature_matrix(f[layer]) for f in feats]
                    if masked:
                        self.each.setdefault(method, {})[layer] = [m.build(f, options, generator=generator)
                                                                   for f in features]
                    else:
                        self.blended.setdefault(method, {})[layer] = _style_term(m, options, features, paintings,
                                                                                 settings, generator)
        self.tv_scale = sum(w * losses.total_variation(s) for s, w in zip(styles, paintings)).clamp_min(1e-12)


def layer_weights(settings: Settings) -> dict[str, float]:
    """Style layer → its weight w_l / Σ w (layers of weight 0 left out)."""
    weights = settings.layer_weights or (1.0,) * len(settings.style_layers)
    return {l: w / sum(weights) for l, w in zip(settings.style_layers, weights) if w > 0}


class Objective:
    """Callable `image (1, 3, H, W) → (total, {term: value})` for one content/style pair.

    Term names: "content", then one per style method (the layer-weighted mean of its
    scale-free terms), "tv" when its weight is positive, then "total". `gamma` is the
    style weight γ in use. `style` is the paintings `(1, 3, H_k, W_k)`, or their
    `StyleTargets` already built (the tiles of a scale share them). `regions` `(H, W)`
    int64, at the content's size: 0 where no painting governs, k where painting k does
    (`nst.regions`); None: every painting everywhere, blended.
    """

    def __init__(self, extractor: VGGFeatures, content: Tensor, style: Tensor | Sequence[Tensor] | StyleTargets,
                 settings: Settings, regions: Tensor | None = None) -> None:
        if isinstance(style, StyleTargets):
            targets = style
        else:
            targets = StyleTargets(extractor, [style] if isinstance(style, Tensor) else list(style), settings,
                                   masked=regions is not None)
        if targets.masked != (regions is not None):
            raise NSTError("these style targets were built " + ("for" if targets.masked else "without") + " regions")
        self.extractor = extractor
        self.settings = settings
        self.precision = precision_used(settings.precision, extractor.device)  # "fp32" or "bf16"
        self.alpha = settings.content_weight
        self.betas = fusion_weights(settings.method, settings.fusion)
        self.gamma = settings.gamma_used()
        self.layer_weights = layer_weights(settings)
        self.layers = set(self.layer_weights) | ({CONTENT_LAYER} if self.alpha > 0 else set())
        # Without regions the photo's side is relu4_2 alone, and its pass stops there, three
        # convolutions short of relu5_1: a quarter of it, paid by every tile of every tiled step.
        photo_layers = self.layers if regions is not None else {CONTENT_LAYER}
        with torch.no_grad():
            photo = network_features(extractor, content, photo_layers, self.precision) \
                if self.alpha > 0 or regions is not None else {}
            self.target = photo[CONTENT_LAYER].float() if self.alpha > 0 else None
        if regions is None:
            self.terms: dict[str, dict[str, StyleTerm]] = targets.blended
        else:
            self.terms = {m: {l: _Regions(terms, layer_regions(regions.to(content.device), photo[l].shape[-2:],
                                                               len(terms)), photo[l][0, 0].numel())
                              for l, terms in by_layer.items()}
                          for m, by_layer in targets.each.items()}
        self.content_scale = losses.content(torch.zeros_like(self.target), self.target).clamp_min(1e-12) \
            if self.target is not None else None
        self.tv_weight = settings.tv_weight
        self.tv_scale = targets.tv_scale

    def features(self, image: Tensor) -> dict[str, Tensor]:
        """The activations this objective needs, in its precision (`network_features`)."""
        return network_features(self.extractor, image, self.layers, self.precision)

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


def painting_shares(settings: Settings, count: int, *, masked: bool = False) -> list[float]:
    """`settings.painting_weights` for `count` paintings, normalised to sum to 1 (default: equal).

    Several paintings blended as a mixture (`masked` False: no regions, which give each
    painting its own term) need methods that take column weights: a plain two-argument
    loss (`nst.methods.register_method`) is refused here, before any work.
    """
    weights = settings.painting_weights or (1.0,) * count
    if len(weights) != count:
        raise NSTError(f"painting_weights has {len(weights)} entries; give one per painting ({count})")
    if count > 1 and settings.style_blend == "mixture" and not masked:
        for method in fusion_weights(settings.method, settings.fusion):
            get_method(method).check_mixture()
    return [w / sum(weights) for w in weights]


class _WeightedSum:
    """Σ_k w_k S_k(x): one style term per painting, weighted (the "sum" blend)."""

    def __init__(self, terms: list[StyleTerm], weights: list[float]) -> None:
        self.parts = [(term, w) for term, w in zip(terms, weights) if w > 0]

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sum(w * term(x, generator) for term, w in self.parts)


class _Regions:
    """Σ_r (M_r / M) S_r(x_r): each region's M_r positions of the M at a layer matched to its
    own painting's term S_r.

    Weighing by area keeps the pull on each position what it is without a mask: a term of
    M_r columns moves each by about 1/M_r, times M_r / M. A region holding every position
    is passed x itself, so a one-region mask computes exactly the unmasked term. `terms`
    holds every painting's term; `regions` (painting index → its positions,
    `nst.regions.layer_regions`) says which are used where.
    """

    def __init__(self, terms: list[StyleTerm], regions: dict[int, Tensor], positions: int) -> None:
        self.parts = [(terms[k], where) for k, where in regions.items()]
        self.positions = positions

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        total = x.new_zeros(())
        for term, where in self.parts:
            region = x if where.numel() == self.positions else x[:, where]
            total = total + (where.numel() / self.positions) * term(region, generator)
        return total


def _style_term(m: Method, options: object, features: list[Tensor], weights: list[float], settings: Settings,
                generator: torch.Generator) -> StyleTerm:
    """Method `m`'s term at one layer for the paintings' feature matrices `(N, M_k)`, painting k
    weighing `weights[k]`, with `options`.

    One painting: its own term. Several, "mixture" (`settings.style_blend`): one term whose
    target is the mixture of their distributions, painting k holding weight w_k
    (`nst.methods.pool`); "sum": the weighted sum of one scale-free term per painting.
    """
    if len(features) == 1:
        return m.build(features[0], options, generator=generator)
    if settings.style_blend == "sum":
        return _WeightedSum([m.build(f, options, generator=generator) for f in features], weights)
    y, p = pool(features, weights)
    return m.build(y, options, weights=p, generator=generator)
