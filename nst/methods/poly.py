"""Polynomial MMD: the kernel k(a, b) = (aᵀb + c)² matches the second moments (Gram matching).

    MMD² = ‖Ĝ_x − Ĝ_y‖²_F,   Ĝ = (1/M) X̃ X̃ᵀ,  X̃ = [X; √c·1ᵀ];   loss = MMD² / N² (the paper's)

With c = 0 this is Gatys et al.'s Gram loss times 4 (`nst.losses.gatys_gram_loss`).
Scale-free term: divided by its value for an all-zero map, ‖Ĝ_S‖² / N².
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MIN_SCALE, Method, ToySchedule, method_options, setting, support

__all__ = ["PolyOptions", "gram", "gram_distance", "poly", "PolyTerm", "METHOD"]


@method_options("poly")
class PolyOptions:
    """c: the constant of the kernel (aᵀb + c)²; 0 is Gram matching."""

    c: float = setting(0.0, "poly_c")


def gram(x: Tensor, c: float = 0.0, *, weights: Tensor | None = None) -> Tensor:
    """Normalised Gram matrix Ĝ = (1/M) X̃ X̃ᵀ, with X̃ = [X; √c·1ᵀ] when c > 0.

    `x` is `(N, M)`; returns `(N, N)`, or `(N+1, N+1)` when c > 0. The extra row
    makes (x̃ᵀỹ)² = (xᵀy + c)², so the poly kernel with c > 0 has the same closed form.
    With column `weights` p `(M,)`: Ĝ = Σ_i p_i x̃_i x̃_iᵀ = X̃ diag(p) X̃ᵀ, the second
    moment of the weighted distribution (for a mixture, the mix of the paintings' Ĝ).
    """
    if c > 0:
        ones = torch.full_like(x[:1], c**0.5)  # (1, M)
        x = torch.cat([x, ones], dim=0)  # (N+1, M)
    if weights is None:
        return x @ x.T / x.shape[1]
    return (x * weights) @ x.T


def gram_distance(g_x: Tensor, g_y: Tensor, n: int) -> Tensor:
    """‖Ĝ_x − Ĝ_y‖²_F / N² for normalised Gram matrices `(N, N)` (or `(N+1, N+1)`) of N channels."""
    return (g_x - g_y).square().sum() / n**2


def poly(x: Tensor, y: Tensor, c: float = 0.0) -> Tensor:
    """Polynomial-kernel MMD² with k(a, b) = (aᵀb + c)², in closed form; returned / N².

    Σ_ij (x_iᵀx_j)² = ‖X Xᵀ‖²_F, so MMD² = ‖Ĝ_x − Ĝ_y‖²_F with Ĝ = X Xᵀ / M: Gram
    matching, in O(N² M) and without an M×M kernel matrix. With c = 0 and Mx = My,
    Gatys' loss ‖G_x − G_y‖²/(4N²M²) on unnormalised G is this value / 4 (see
    `nst.losses.gatys_gram_loss`). Only degree 2 has a Gram-size closed form;
    degree d would need (N+1)^d moment tensors, so other degrees are left to `nst.losses.mmd2`.

    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return gram_distance(gram(x, c), gram(y, c), x.shape[0])


class PolyTerm:
    """`poly` against the style features `y` `(N, M)` (column `weights`: the weighted Ĝ), / ‖Ĝ_S‖²/N²."""

    def __init__(self, y: Tensor, options: PolyOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        self.c = options.c
        self.n = y.shape[0]
        self.g = gram(y, options.c, weights=weights)
        self.scale = gram_distance(torch.zeros_like(self.g), self.g, self.n).clamp_min(MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return gram_distance(gram(x, self.c), self.g, self.n) / self.scale


# In the playground, poly applies one 2×2 matrix to every point; it brings every entry of E[xxᵀ]
# within about 5 % in 30 steps and 1 % in 200 (its slow direction is the thin one of the cloud).
METHOD = Method("poly", "Polynomial MMD (Gram)", r"k(x,y)=(x^\top y + c)^2", "second moments (Gram matrix)", 3.0,
                PolyTerm, poly, PolyOptions, toy=ToySchedule(0.5, 200))
