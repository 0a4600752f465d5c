"""A method-independent yardstick: how far a result moved from the photo towards the painting.

Each method minimises its own distance, so comparing methods (and choosing their γ) needs
measures that favour none of them:

- `gram_gap_closed`: the share of the Gram-matrix distance to the painting that the result
  closed, averaged over the style layers: 1 − ‖Ĝ_R − Ĝ_S‖² / ‖Ĝ_C − Ĝ_S‖² per layer
  (1 = the result's second moments are the painting's, 0 = no closer than the photo).
- `colour_gap_closed`: the same share for the image's mean colour, in RGB:
  1 − ‖μ_R − μ_S‖ / ‖μ_C − μ_S‖.
- `content_change`: how much the content features moved, ‖F_R − F_C‖² / ‖F_C‖² at relu4_2
  (the content term itself, whatever α was).

Images are `(1, 3, H, W)` tensors in [0, 1]; the painting may have another size.

`measure` takes the network to measure on. Measured on the network a result was optimised
on, a method could score by exploiting that network's particular features; measured on
another one (`nst.weights.JUDGE_NETWORK`, Oxford's VGG-16, for results made on the paper's
VGG-19) it cannot. `benchmarks.calibrate` reports both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import losses
from .methods.poly import gram, gram_distance
from .config import CONTENT_LAYER, STYLE_LAYERS
from .features import VGGFeatures
from .objective import feature_matrix

__all__ = ["Yardstick", "measure", "colour_gap_closed"]


@dataclass(frozen=True)
class Yardstick:
    """The three measures of one result, and the Gram share closed per style layer."""

    gram_gap_closed: float
    colour_gap_closed: float
    content_change: float
    gram_gap_closed_by_layer: dict[str, float]


def colour_gap_closed(content: Tensor, style: Tensor, result: Tensor) -> float:
    """1 − ‖μ_R − μ_S‖ / ‖μ_C − μ_S‖ for the mean RGB colours μ of the three images."""
    mean = [t.float().mean(dim=(0, 2, 3)) for t in (content, style, result)]  # each (3,)
    gap = (mean[0] - mean[1]).norm().clamp_min(1e-12)
    return float(1 - (mean[2] - mean[1]).norm() / gap)


def measure(extractor: VGGFeatures, content: Tensor, style: Tensor, result: Tensor,
            layers: tuple[str, ...] = STYLE_LAYERS) -> Yardstick:
    """The yardstick of `result` made from `content` with the style of `style`."""
    with torch.no_grad():
        c, s, r = (extractor(t, (*layers, CONTENT_LAYER)) for t in (content, style, result))
    closed = {}
    for layer in layers:
        g_s = gram(feature_matrix(s[layer]))
        gap = gram_distance(gram(feature_matrix(c[layer])), g_s, 1).clamp_min(1e-30)
        closed[layer] = float(1 - gram_distance(gram(feature_matrix(r[layer])), g_s, 1) / gap)
    p = c[CONTENT_LAYER].float()
    change = float(losses.content(r[CONTENT_LAYER].float(), p) / losses.content(torch.zeros_like(p), p))
    return Yardstick(sum(closed.values()) / len(closed), colour_gap_closed(content, style, result), change, closed)
