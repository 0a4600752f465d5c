"""Linear MMD: the kernel k(a, b) = aᵀb matches the channel means.

    MMD² = ‖μ_x − μ_y‖²,   μ = (1/M) Σ_i x_i;   loss = MMD² / N (the paper's normaliser)

Scale-free term: divided by its value for an all-zero map, ‖μ_S‖² / N.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..losses import channel_mean
from .base import MIN_SCALE, Method, ToySchedule, method_options, support

__all__ = ["LinearOptions", "mean_distance", "linear", "LinearTerm", "METHOD"]


@method_options("linear")
class LinearOptions:
    """Linear MMD has no options."""


def mean_distance(mu_x: Tensor, mu_y: Tensor) -> Tensor:
    """‖μ_x − μ_y‖² / N for channel means of shape `(N,)`."""
    return (mu_x - mu_y).square().sum() / mu_x.shape[0]


def linear(x: Tensor, y: Tensor) -> Tensor:
    """Linear-kernel MMD²: k(a, b) = aᵀb gives MMD² = ‖μ_x − μ_y‖²; returned / N.

    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return mean_distance(channel_mean(x), channel_mean(y))


class LinearTerm:
    """`linear` against the style features `y` `(N, M)` (column `weights`: the weighted mean), / ‖μ_S‖²/N."""

    def __init__(self, y: Tensor, options: LinearOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        self.mu = channel_mean(y, weights=weights)
        self.scale = mean_distance(torch.zeros_like(self.mu), self.mu).clamp_min(MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return mean_distance(channel_mean(x), self.mu) / self.scale


# In the playground, linear moves every point by one vector; its gap shrinks by (1 − lr) per step
# (13 % left after 50 steps, 0.2 % after 150).
METHOD = Method("linear", "Linear MMD", r"k(x,y)=x^\top y", "channel means", 5.0, LinearTerm, linear,
                LinearOptions, toy=ToySchedule(0.04, 150))
