"""Gaussian MMD: the kernel k(a, b) = exp(−‖a − b‖² / 2σ²) matches the whole distribution.

    MMD² = mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) − 2 mean_ij k(x_i, y_j);   loss = MMD² (normaliser 1)

σ² is the paper's bandwidth: the mean squared distance between the two images' feature
vectors (`nst.losses.mean_sq_distance`), detached. Two estimators: the paper's linear-time
sampled pairs (`gaussian`) and random Fourier features (`gaussian_fourier`, the default: a
fixed function that L-BFGS can minimise). Scale-free term: divided by its value for one
blank position against the style's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import NSTError
from ..losses import mean_sq_distance
from .base import MIN_SCALE, Method, ToySchedule, method_options, setting, support

__all__ = ["ESTIMATORS", "FOURIER_FEATURES", "PAIRS", "GaussianOptions", "gaussian", "gaussian_samples",
           "gaussian_standard_error", "fourier_features", "gaussian_fourier", "GaussianTerm", "METHOD"]

ESTIMATORS: tuple[str, ...] = ("fourier", "pairs")
# Random Fourier frequencies per layer: 64 left visible pixel noise in reconstructions from
# noise (the optimiser fits the few features), 128 did not and costs a third less than 256.
FOURIER_FEATURES = 128
# Pairs per layer and step of the paper's sampled estimator: a fixed number rather than one per
# position keeps its cost flat in the image size (a 512 px relu1_1 has 174 592 positions). On the
# paper's VGG-19 (benchmarks/gaussian_pairs.py, 256 px) 4096 pairs estimate the MMD² between the
# photo and the painting to 1.0-2.2 % (relative standard error) at every layer, and near the end of
# a run, where the MMD² is small, to 5-34 %; one pair per position gives 0.4-11 % and 6-55 %.
PAIRS = 4096
# Seeded pairs that estimate the blank-image value of the paper's Gaussian estimator once.
_SCALE_PAIRS = 16384
# Style positions the Fourier estimator keeps per layer (all of them up to this many).
_FOURIER_STYLE_POSITIONS = 4096


@method_options("gaussian")
class GaussianOptions:
    """estimator: "fourier" or "pairs"; features: Fourier frequencies per layer; pairs: sampled
    pairs per layer and step (None: one per image position, as the paper)."""

    estimator: str = setting("fourier", "gaussian_estimator")
    features: int = setting(FOURIER_FEATURES, "gaussian_features")
    pairs: int | None = setting(PAIRS, "gaussian_pairs")

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise NSTError(f"gaussian estimator {self.estimator!r} is not one of {', '.join(ESTIMATORS)}")


def gaussian(
    x: Tensor,
    y: Tensor,
    *,
    num_pairs: int | None = None,
    sigma2: float | Tensor | None = None,
    generator: torch.Generator | None = None,
    y_weights: Tensor | None = None,
) -> Tensor:
    """Linear-time estimate of the Gaussian-kernel MMD², k(a, b) = exp(−‖a − b‖² / (2σ²)):
    the mean of `gaussian_samples`' n values h (the arguments are the same).

    Its variance is Var(h) / n; `gaussian_standard_error` estimates the square root from the
    same draw. `x` `(N, Mx)`, `y` `(N, My)`; returns 0-d.
    """
    return gaussian_samples(x, y, num_pairs=num_pairs, sigma2=sigma2, generator=generator, y_weights=y_weights).mean()


def gaussian_standard_error(samples: Tensor) -> Tensor:
    """sd(h) / √n for the n values h `(n,)` of `gaussian_samples`: the standard error of their mean,
    the linear-time estimate (h are i.i.d., the pairs being drawn independently)."""
    return samples.std() / samples.numel() ** 0.5


def gaussian_samples(
    x: Tensor,
    y: Tensor,
    *,
    num_pairs: int | None = None,
    sigma2: float | Tensor | None = None,
    generator: torch.Generator | None = None,
    y_weights: Tensor | None = None,
) -> Tensor:
    """The n = `num_pairs` (default Mx) terms of the linear-time Gaussian MMD² estimate, `(n,)`.

    Draws n index pairs (i, i') from x and (j, j') from y, uniformly and independently, and
    returns for each
        h = k(x_i, x_i') + k(y_j, y_j') − k(x_i, y_j') − k(x_i', y_j)
    (Gretton et al. 2012, as used by the paper). Because the indices are drawn with
    replacement, E[h] is exactly the quadratic MMD² of the two empirical distributions
    that `mmd2(x, y, gaussian_kernel(σ²))` computes; single estimates can be negative.

    σ² defaults to `mean_sq_distance(x, y)`, detached: the kernel then does not change
    when every activation is scaled, so the loss needs no normaliser (the paper's is 1).
    The paper takes σ² from the sampled pairs; the closed form over all pairs is the
    same quantity without sampling noise. `x` `(N, Mx)`, `y` `(N, My)`.

    With `y_weights` q `(My,)`, j and j' are drawn with probabilities q
    (`torch.multinomial`, never a column of weight 0) and σ² is the weighted
    `mean_sq_distance`: E[h] is then the quadratic MMD² against the weighted distribution
    (for rational q, that of y with column j repeated in proportion to q_j).
    """
    n = num_pairs or x.shape[1]
    if sigma2 is None:
        sigma2 = mean_sq_distance(x, y, y_weights=y_weights).detach().clamp_min(1e-12)
    i, i2 = torch.randint(x.shape[1], (2, n), generator=generator).to(x.device)
    if y_weights is None:
        j, j2 = torch.randint(y.shape[1], (2, n), generator=generator).to(x.device)
    else:
        # Drawn on the CPU, where the generator lives, as randint's indices are.
        j, j2 = torch.multinomial(y_weights.cpu(), 2 * n, replacement=True, generator=generator).view(2, n)
        j, j2 = j.to(x.device), j2.to(x.device)
    xi, xi2, yj, yj2 = x[:, i], x[:, i2], y[:, j], y[:, j2]  # each (N, n)

    def k(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-(a - b).square().sum(0) / (2 * sigma2))  # (n,)

    return k(xi, xi2) + k(yj, yj2) - k(xi, yj2) - k(xi2, yj)


def fourier_features(x: Tensor, omega: Tensor, sigma: float | Tensor, *, weights: Tensor | None = None) -> Tensor:
    """Mean random Fourier feature φ̄ = (1/M) Σ_i φ(x_i) of the columns of `x` `(N, M)`.

    φ(a) = [cos(Ωa/σ); sin(Ωa/σ)] / √D for `omega` Ω `(D, N)` with standard normal
    entries; returns `(2D,)`. φ(a)ᵀφ(b) = (1/D) Σ_d cos(ω_dᵀ(a − b)/σ), whose mean over
    ω ~ N(0, I) is exp(−‖a − b‖² / 2σ²) (Rahimi and Recht, NIPS 2007). With column
    `weights` p `(M,)`: φ̄ = Σ_i p_i φ(x_i), the mean embedding of the weighted distribution.
    """
    proj = omega @ x / sigma  # (D, M)
    if weights is None:
        return torch.cat([proj.cos(), proj.sin()]).mean(dim=1) / omega.shape[0] ** 0.5  # (2D,)
    return torch.cat([proj.cos(), proj.sin()]) @ weights / omega.shape[0] ** 0.5  # (2D,)


def gaussian_fourier(x: Tensor, y: Tensor, *, omega: Tensor, sigma2: float | Tensor | None = None,
                     y_weights: Tensor | None = None) -> Tensor:
    """Gaussian-kernel MMD² through D random Fourier features: ‖φ̄_x − φ̄_y‖² (see `fourier_features`).

    This is the MMD² of the kernel k̃(a, b) = φ(a)ᵀφ(b): linear MMD after a random
    non-linear feature map. Its mean over Ω is exactly the quadratic MMD² that
    `mmd2(x, y, gaussian_kernel(σ²))` computes and it is never negative; for a fixed Ω
    it has no sampling noise, so L-BFGS can minimise it, where the paper's linear-time
    estimator (`gaussian`) changes at every draw. Cost O(D·N·(Mx + My)).

    σ² defaults to `mean_sq_distance(x, y)`, detached, as in `gaussian`: the kernel then
    does not change when every activation is scaled. `x` `(N, Mx)`, `y` `(N, My)`,
    `omega` `(D, N)`; returns a 0-d tensor. `y_weights` `(My,)` weigh y's columns in
    φ̄_y and in σ² (see `fourier_features`, `mean_sq_distance`).
    """
    if sigma2 is None:
        sigma2 = mean_sq_distance(x, y, y_weights=y_weights).detach().clamp_min(1e-12)
    sigma = sigma2**0.5
    phi_y = fourier_features(y, omega, sigma, weights=y_weights)
    return (fourier_features(x, omega, sigma) - phi_y).square().sum()


class GaussianTerm:
    """Gaussian-kernel MMD² against the style features `y`, by one of two estimators.

    "fourier" (default): `gaussian_fourier` with D = `options.features` random
    frequencies drawn once from `generator`, so that no sampling noise enters a step.
    "pairs": the paper's linear-time estimator, `gaussian`, with `options.pairs` new
    pairs at every step (a stochastic objective; None: one per image position, as the
    paper). Both use the paper's bandwidth, σ² = the mean squared distance between image
    and style feature vectors, recomputed at every step and
    detached: the kernel narrows as the image approaches the painting. Both are divided
    by their value for an all-zero activation map, as every other term (for "pairs"
    estimated once from `_SCALE_PAIRS` seeded pairs).

    With column `weights` (a mixture), "fourier" uses φ̄ = Σ_i p_i φ(y_i) and the weighted
    σ², and "pairs" draws the style's indices with probabilities p. Above
    `_FOURIER_STYLE_POSITIONS` positions, "fourier" keeps that many drawn with replacement
    with probabilities p, each then weighing the same: a sample of the mixture itself.
    """

    def __init__(self, y: Tensor, options: GaussianOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        self.y = y
        self.weights = weights
        self.estimator = options.estimator
        self.num_pairs = options.pairs
        zero = torch.zeros_like(y[:, :1])  # (N, 1): one blank position
        if options.estimator == "fourier":
            omega = torch.randn(options.features, y.shape[0], generator=generator, dtype=y.dtype)
            self.omega = omega.to(y.device)  # (D, N)
            if y.shape[1] > _FOURIER_STYLE_POSITIONS:
                # The painting's side is recomputed each step (σ moves); a fixed random subset of
                # its positions estimates its mean feature to about 1 % at a fraction of the cost.
                if weights is None:
                    keep = torch.randperm(y.shape[1], generator=generator)[:_FOURIER_STYLE_POSITIONS]
                else:
                    keep = torch.multinomial(weights.cpu(), _FOURIER_STYLE_POSITIONS, replacement=True,
                                             generator=generator)
                    self.weights = None
                self.y = y[:, keep.to(y.device)]  # (N, _FOURIER_STYLE_POSITIONS)
            scale = gaussian_fourier(zero, self.y, omega=self.omega, y_weights=self.weights)
        else:
            scale = gaussian(zero, y, num_pairs=max(_SCALE_PAIRS, y.shape[1]),
                             generator=torch.Generator().manual_seed(0), y_weights=weights)
        self.scale = scale.clamp_min(MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.estimator == "fourier":
            return gaussian_fourier(x, self.y, omega=self.omega, y_weights=self.weights) / self.scale
        return gaussian(x, self.y, num_pairs=self.num_pairs, generator=generator, y_weights=self.weights) / self.scale


# Measured on one NVIDIA H200 with the loop of `nst.stylize`: 359 ms a step at 2048 px against
# Gram matching's 47 ms, the pair sums' cost per pixel beyond it.
_H200_EXTRA_PER_PIXEL = 1.15e-7
# Peak memory of a step on two CPU cores, per pixel, beyond Gram matching's (benchmarks/memory.py: 5.6 KB against
# 2.4 KB): the D = 128 projections at every position of relu1_1, their cosines and sines, kept for the backward pass.
_EXTRA_BYTES_PER_PIXEL = 3200

# In the playground the exact quadratic MMD² stands in for the estimators (`nst.explain.toy_loss`):
# it removes most of the shape difference in its first 10 steps and refines it after (a smaller
# lr leaves more points stranded where the kernel no longer reaches them).
METHOD = Method("gaussian", "Gaussian MMD", r"k(x,y)=\exp\left(-\frac{\|x-y\|^2}{2\sigma^2}\right)",
                "the whole distribution", 10.0, GaussianTerm, gaussian, GaussianOptions,
                stochastic_when=("estimator", "pairs"), extra_per_pixel=_H200_EXTRA_PER_PIXEL,
                extra_bytes_per_pixel=_EXTRA_BYTES_PER_PIXEL, toy=ToySchedule(0.8, 200))
