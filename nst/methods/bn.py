"""Batch-normalisation statistics: each channel's mean and standard deviation.

    loss = (‖μ_x − μ_y‖² + ‖σ_x − σ_y‖²) / N (the paper's normaliser)

The paper shows this equals a linear MMD on the per-channel distributions (each channel a
1-D distribution matched in mean and spread). Scale-free term: divided by its value for an
all-zero map, Σ(μ_S² + σ_S²) / N.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MIN_SCALE, Method, ToySchedule, method_options, support

__all__ = ["BNOptions", "mean_std", "mean_std_distance", "bn", "BNTerm", "METHOD"]

# Keeps sqrt differentiable where a channel is constant (a dead ReLU gives std 0). The floor
# is relative to the layer's mean square so that σ(s·x) = s·σ(x) still holds exactly.
_STD_EPS = 1e-8


@method_options("bn")
class BNOptions:
    """BN statistics have no options."""


def mean_std(x: Tensor, *, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-channel mean and (biased) standard deviation of `x` `(N, M)`; each `(N,)`.

    σ = sqrt(var + ε·mean(x²)), ε = 1e-8, with the floor detached. With column `weights`
    p `(M,)`: μ = Σ_i p_i x_i, var = Σ_i p_i (x_i − μ)² (= Σ_i p_i x_i² − μ², the
    variance of a mixture, computed centred to avoid the cancellation and stay ≥ 0) and
    the floor's mean square is Σ_i p_i mean_c x_ci², so σ(s·x) = s·σ(x) still holds.
    """
    if weights is None:
        mean = x.mean(dim=1)
        var = x.var(dim=1, unbiased=False)
        floor = _STD_EPS * x.detach().square().mean().clamp_min(1e-30)
    else:
        mean = x @ weights
        var = (x - mean[:, None]).square() @ weights
        floor = _STD_EPS * (x.detach().square().mean(dim=0) @ weights).clamp_min(1e-30)
    return mean, (var + floor).sqrt()


def mean_std_distance(stats_x: tuple[Tensor, Tensor], stats_y: tuple[Tensor, Tensor]) -> Tensor:
    """(‖μ_x − μ_y‖² + ‖σ_x − σ_y‖²) / N for `(mean, std)` pairs of shape `(N,)`."""
    (mu_x, sd_x), (mu_y, sd_y) = stats_x, stats_y
    return ((mu_x - mu_y).square().sum() + (sd_x - sd_y).square().sum()) / mu_x.shape[0]


def bn(x: Tensor, y: Tensor) -> Tensor:
    """Batch-normalisation statistics: (‖μ_x − μ_y‖² + ‖σ_x − σ_y‖²) / N.

    The paper shows this equals a linear MMD on the per-channel distributions
    (each channel treated as a 1-D distribution matched in mean and spread).
    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return mean_std_distance(mean_std(x), mean_std(y))


class BNTerm:
    """`bn` against the style features `y` `(N, M)` (column `weights`: the weighted statistics),
    divided by Σ(μ_S² + σ_S²)/N."""

    def __init__(self, y: Tensor, options: BNOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        self.stats = mean_std(y, weights=weights)
        zero = tuple(torch.zeros_like(s) for s in self.stats)
        self.scale = mean_std_distance(zero, self.stats).clamp_min(MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return mean_std_distance(mean_std(x), self.stats) / self.scale


# In the playground, BN shifts and stretches each axis; its gap shrinks by (1 − lr) per step.
METHOD = Method("bn", "BN statistics", r"\mu_c,\ \sigma_c \text{ per channel}", "per-channel mean and std", 5.0,
                BNTerm, bn, BNOptions, toy=ToySchedule(0.04, 150))
