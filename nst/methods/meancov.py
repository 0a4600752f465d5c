"""Mean and covariance: the Wasserstein-2 distance between the Gaussians fitted to the two distributions.

    W2² = ‖μx − μy‖² + tr Σx + tr Σy − 2 tr (Σy^½ Σx Σy^½)^½;   loss = W2² / N

Not an MMD, and not CORAL's ‖Σx − Σy‖²_F: a true distance between the fitted distributions,
means included, in squared activations like the sliced W2². For diagonal covariances it
equals the BN distance. Scale-free term: divided by its value for an all-zero map (μ = 0,
Σ = 0), (‖μy‖² + tr Σy) / N.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MIN_SCALE, Method, ToySchedule, method_options, support

__all__ = ["MeanCovOptions", "mean_cov", "mean_cov_factor", "bures_distance", "bures_wasserstein", "MeanCovTerm",
           "METHOD"]

# Eigenvalues below this fraction of the largest get a linear stand-in for √ (in
# `bures_distance`) or are dropped (a target covariance's, in `mean_cov_factor`): rounding
# leaves such eigenvalues at ±1e-16 of the largest in float64, where √ has an unbounded
# slope. Relative, so the same ones are affected at every activation scale.
_BURES_EPS = 1e-12


@method_options("meancov")
class MeanCovOptions:
    """The Gaussian W2 has no options."""


def mean_cov(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean μ `(N,)` and biased covariance Σ = (1/M) Σ_i (x_i − μ)(x_i − μ)ᵀ `(N, N)` of `x` `(N, M)`."""
    mu = x.mean(dim=1)
    centred = x - mu[:, None]  # (N, M)
    return mu, centred @ centred.T / x.shape[1]


def mean_cov_factor(y: Tensor, *, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Mean μ `(N,)` of `y` `(N, M)` and a factor F `(N, r)` of its biased covariance, F Fᵀ = Σ.

    M ≤ N: F = (y − μ)/√M, r = M, no decomposition. Otherwise F = U Λ^½ from
    `torch.linalg.eigh(Σ)`, keeping the eigenvalues above 1e-12 of the largest (r ≤ N):
    those that rounding left near zero or negative carry no variance. A narrow F makes
    `bures_distance` decompose an r × r matrix instead of an N × N one.

    With column `weights` p `(M,)`: μ = Σ_i p_i y_i, Σ = Σ_i p_i (y_i − μ)(y_i − μ)ᵀ, and
    for M ≤ N column i of F is √p_i (y_i − μ).
    """
    mu = y.mean(dim=1) if weights is None else y @ weights
    centred = y - mu[:, None]  # (N, M)
    if y.shape[1] <= y.shape[0]:
        return mu, centred / y.shape[1] ** 0.5 if weights is None else centred * weights.sqrt()
    cov = centred @ centred.T / y.shape[1] if weights is None else (centred * weights) @ centred.T
    eigenvalues, vectors = torch.linalg.eigh(cov)
    keep = eigenvalues > _BURES_EPS * eigenvalues[-1].clamp_min(0)
    return mu, vectors[:, keep] * eigenvalues[keep].sqrt()  # (N, r)


def bures_distance(stats_x: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor]) -> Tensor:
    """W2² between N(μx, Σx) and N(μy, Σy), divided by N; `stats_x` = (μx `(N,)`, Σx `(N, N)`),
    `target` = (μy `(N,)`, F `(N, r)` with F Fᵀ = Σy, from `mean_cov_factor`).

        W2² = ‖μx − μy‖² + tr Σx + tr Σy − 2 tr (Σy^½ Σx Σy^½)^½

    Σy^½ Σx Σy^½ is similar to Σx Σy = Σx F Fᵀ, whose non-zero eigenvalues are those of
    the symmetric r × r matrix Fᵀ Σx F: so the last trace is Σ_i √λ_i over the eigenvalues
    of Fᵀ Σx F (`torch.linalg.eigvalsh`), and tr Σy = ‖F‖²_F. The eigenvalues' gradient
    needs no eigenvector differences, so it has no 1/(λ_i − λ_j) terms and stays finite
    where eigenvalues coincide. √λ is taken as λ / √max(λ, f), f = 1e-12 of the largest
    eigenvalue: equal to √λ above f and linear below it, so it keeps a finite slope where
    Σx is singular (a dead ReLU channel) and adds nothing for eigenvalues that are zero
    up to rounding. Compute in float64: in float32 that rounding, after √, is a visible
    share of the trace.
    """
    (mu_x, cov_x), (mu_y, factor) = stats_x, target
    inner = factor.T @ cov_x @ factor  # (r, r)
    eigenvalues = torch.linalg.eigvalsh(inner)  # (r,), ascending
    floor = (_BURES_EPS * eigenvalues[-1].detach()).clamp_min(torch.finfo(eigenvalues.dtype).tiny)
    cross = (eigenvalues / eigenvalues.clamp_min(floor).sqrt()).sum()
    w2 = (mu_x - mu_y).square().sum() + cov_x.trace() + factor.square().sum() - 2 * cross
    return w2 / mu_x.shape[0]


def bures_wasserstein(x: Tensor, y: Tensor) -> Tensor:
    """W2² between the Gaussians fitted to `x` `(N, Mx)` and `y` `(N, My)` (mean, biased covariance), / N.

    See `bures_distance`; computed in float64, returned in x's dtype. This is the
    Wasserstein-2 distance between the fitted Gaussians, not CORAL's simplification
    ‖Σx − Σy‖²_F: it is a true distance between the two fitted distributions (means
    included) and is in the same units as the sliced W2², squared activations, where
    CORAL's is quartic. For diagonal covariances it equals the BN distance
    (‖μx − μy‖² + ‖σx − σy‖²)/N. Returns a 0-d tensor.
    """
    return bures_distance(mean_cov(x.double()), mean_cov_factor(y.double())).to(x.dtype)


class MeanCovTerm:
    """W2² between Gaussian fits (`bures_distance`) against the style features `y`.

    The style's mean and covariance factor (`mean_cov_factor`, in the place of
    Σy^½: same eigenvalues, a smaller matrix) are computed here, once, in float64; each
    call returns x's dtype. Divisor: the value for an all-zero map (μ = 0, Σ = 0),
    (‖μy‖² + tr Σy)/N. With column `weights`, the weighted mean and covariance.
    """

    def __init__(self, y: Tensor, options: MeanCovOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        self.target = mean_cov_factor(y.double(), weights=None if weights is None else weights.double())
        n = y.shape[0]
        zero = (torch.zeros(n, dtype=torch.float64, device=y.device),
                torch.zeros(n, n, dtype=torch.float64, device=y.device))
        self.scale = bures_distance(zero, self.target).clamp_min(MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        value = bures_distance(mean_cov(x.double()), self.target) / self.scale
        return value.to(x.dtype)


# Peak memory of a step on two CPU cores, per pixel, beyond Gram matching's (benchmarks/memory.py: 3.3 KB against
# 2.4 KB): the centred features in float64 for the covariance.
_EXTRA_BYTES_PER_PIXEL = 1000
# In the playground meancov moves every point the share lr of the way to its image under the
# optimal affine map, so its gap shrinks by (1 − lr) per step.
METHOD = Method("meancov", "Mean and covariance (Gaussian W2)",
                r"W_2^2=\|\mu_x-\mu_y\|^2+\operatorname{tr}\left(\Sigma_x+\Sigma_y"
                r"-2\left(\Sigma_y^{1/2}\Sigma_x\Sigma_y^{1/2}\right)^{1/2}\right)",
                "mean and covariance (Gaussian fit)", 3.0, MeanCovTerm, bures_wasserstein, MeanCovOptions,
                extra_bytes_per_pixel=_EXTRA_BYTES_PER_PIXEL, toy=ToySchedule(0.04, 150))
