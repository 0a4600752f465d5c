"""What the style distances share, and the content and smoothness losses, as pure tensor functions.

Notation (Li et al., "Demystifying Neural Style Transfer", IJCAI 2017): a layer's
activations are a feature matrix of shape `(N, M)`: N channels, M spatial positions,
one sample (column) per position. `x` is the generated image's matrix, `y` the style
image's; their M may differ. Each distance between the two empirical distributions of
columns lives in its own module of `nst.methods` with the paper's normaliser; here are the
pieces several of them use (`channel_mean`, the Gaussian bandwidth `mean_sq_distance`), the
brute-force `mmd2` with its kernels (the reference the tests and the teaching view compare
with), Gatys et al.'s Gram loss, and the content and total-variation losses.

Weighted columns. A style target may be a mixture of several paintings' distributions:
their feature matrices side by side, column i with probability p_i (p `(M,)`, p ≥ 0,
Σ p_i = 1) instead of 1/M. The style-side statistics take these as `weights` (in the
two-sample functions `y_weights`, which weigh y's columns only); None means 1/M each and
runs exactly the unweighted code.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = [
    "channel_mean",
    "mean_sq_distance",
    "content",
    "total_variation",
    "gatys_gram_loss",
    "mmd2",
    "linear_kernel",
    "poly_kernel",
    "gaussian_kernel",
]

Kernel = Callable[[Tensor, Tensor], Tensor]


def channel_mean(x: Tensor, *, weights: Tensor | None = None) -> Tensor:
    """μ = (1/M) Σ_i x_i, or μ = Σ_i p_i x_i for column `weights` p `(M,)`. `x` is `(N, M)`; returns `(N,)`."""
    if weights is None:
        return x.mean(dim=1)
    return x @ weights


def mean_sq_distance(x: Tensor, y: Tensor, *, y_weights: Tensor | None = None) -> Tensor:
    """Mean of ‖x_i − y_j‖² over all Mx·My pairs, in O((Mx + My) N).

    Equals mean‖x_i‖² + mean‖y_j‖² − 2 μ_xᵀμ_y. Used as the Gaussian bandwidth σ². With
    `y_weights` q `(My,)` the pair (i, j) counts q_j/Mx: mean‖x_i‖² + Σ_j q_j‖y_j‖² − 2 μ_xᵀμ_y(q).
    """
    if y_weights is None:
        return x.square().sum(0).mean() + y.square().sum(0).mean() - 2 * channel_mean(x) @ channel_mean(y)
    y_moment = y.square().sum(0) @ y_weights
    return x.square().sum(0).mean() + y_moment - 2 * channel_mean(x) @ channel_mean(y, weights=y_weights)


def content(x: Tensor, p: Tensor) -> Tensor:
    """Content loss ‖F − P‖²_F for feature maps of equal shape.

    Gatys et al. use ½‖F − P‖²; the factor is dropped because the loop divides the
    term by ‖P‖² anyway (see `nst.objective`).
    """
    return (x - p).square().sum()


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels, both directions: a smoothness penalty.

    TV = mean_ij (x_{i+1,j} − x_ij)² + mean_ij (x_{i,j+1} − x_ij)², summed over channels
    and averaged over positions, for `image` `(B, C, H, W)`; returns a 0-d tensor. The
    paper's official code adds a TV term (weight 1e-2 in its units).
    """
    down = (image[..., 1:, :] - image[..., :-1, :]).square().sum(-3).mean()
    right = (image[..., :, 1:] - image[..., :, :-1]).square().sum(-3).mean()
    return down + right


def gatys_gram_loss(x: Tensor, y: Tensor) -> Tensor:
    """Gatys et al.'s style loss E = ‖G_x − G_y‖²_F / (4 N² M²), G = X Xᵀ unnormalised.

    Defined for equal M. Li et al. show E = MMD²_k / (4 N²) with k(a, b) = (aᵀb)²,
    i.e. E = `nst.methods.poly.poly(x, y)` / 4. Kept as a reference for that identity.
    """
    n, m = x.shape
    return ((x @ x.T) - (y @ y.T)).square().sum() / (4 * n**2 * m**2)


def mmd2(x: Tensor, y: Tensor, kernel: Kernel) -> Tensor:
    """Brute-force (quadratic, biased) MMD² from explicit kernel matrices.

    MMD² = mean_ij k(x_i, x_j) + mean_ij k(y_i, y_j) − 2 mean_ij k(x_i, y_j).
    `kernel(a, b)` maps `(N, P)`, `(N, Q)` to a `(P, Q)` matrix. O(M²): a reference
    for tests and the teaching view, never used in the optimisation loop.
    """
    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


def linear_kernel() -> Kernel:
    """k(a, b) = aᵀb."""
    return lambda a, b: a.T @ b


def poly_kernel(c: float = 0.0, degree: int = 2) -> Kernel:
    """k(a, b) = (aᵀb + c)^d."""
    return lambda a, b: (a.T @ b + c) ** degree


def gaussian_kernel(sigma2: float | Tensor) -> Kernel:
    """k(a, b) = exp(−‖a − b‖² / (2σ²))."""
    return lambda a, b: torch.exp(-torch.cdist(a.T, b.T).square() / (2 * sigma2))
