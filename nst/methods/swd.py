"""Sliced Wasserstein distance (Heitz et al., CVPR 2021): the 1-D marginals along K directions.

    SW² = (1/K) Σ_k W2²(d_kᵀx, d_kᵀy) = (1/K) Σ_k mean_i (sorted(d_kᵀx)_i − Q_k(q_i))²

for unit directions d_k, Q_k the quantile function of the projected painting and
q_i = (i + 0.5)/Mx. Not an MMD: in one dimension, matching the i-th smallest to the i-th
quantile is the optimal transport plan. Scale-free term: divided by its value for an
all-zero map of the image's size, (1/K) Σ_k mean_i Q_k(q_i)².
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import NSTError
from .base import MIN_SCALE, Method, ToySchedule, method_options, setting, support

__all__ = ["SWDOptions", "unit_directions", "sorted_projections", "sorted_weighted_projections", "quantiles",
           "sliced_distance", "sliced_wasserstein", "sliced_loss", "SlicedTerm", "METHOD"]

# Directions of the two-argument loss (`sliced_loss`): at least this many, so that a 2-D cloud
# is compared along more than its two axes.
_LOSS_DIRECTIONS = 16


@method_options("swd")
class SWDOptions:
    """directions: random directions per layer (None: as many as the layer has channels, as Heitz et al.)."""

    directions: int | None = setting(None, "swd_directions")

    def __post_init__(self) -> None:
        if self.directions is not None and self.directions < 1:
            raise NSTError(f"swd_directions must be at least 1, got {self.directions}")


def unit_directions(k: int, n: int, *, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """K random unit vectors in N dimensions, `(K, N)`: standard normal draws divided by their norms.

    A normalised Gaussian vector is uniform on the sphere, so no direction is favoured.
    Drawn on the CPU from `generator`; move the result to the features' device.
    """
    d = torch.randn(k, n, generator=generator, dtype=dtype)
    return d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)


def sorted_projections(x: Tensor, directions: Tensor) -> Tensor:
    """Every column of `x` `(N, M)` projected on each unit direction of `directions` `(K, N)`,
    each row sorted ascending: the K one-dimensional empirical distributions, `(K, M)`."""
    return (directions @ x).sort(dim=1).values


def sorted_weighted_projections(x: Tensor, directions: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """`sorted_projections` of `x` `(N, M)` on `directions` `(K, N)`, with each column's weight
    from `weights` `(M,)` carried along: sorted values `(K, M)` and their weights in the same order `(K, M)`.

    Each direction orders the columns differently, hence one row of weights per direction.
    """
    values, order = (directions @ x).sort(dim=1)
    return values, weights[order]


def quantiles(sorted_values: Tensor, m: int, *, weights: Tensor | None = None) -> Tensor:
    """Each row's quantile function Q at the levels q_i = (i + 0.5)/m, i = 0 … m−1: `(K, My)` → `(K, m)`.

    Row k's values v_0 ≤ … ≤ v_{My−1} are the quantiles at the levels p_j = (j + 0.5)/My;
    Q joins them linearly and is constant below p_0 and above p_{My−1}. For m = My the
    levels coincide and the rows come back unchanged, so equal sizes involve no interpolation.

    With `weights` `(K, My)` (row k: the weights w_kj of its sorted values, as
    `sorted_weighted_projections` gives them; normalised here to sum 1), v_kj sits at the
    middle of its share of the cumulative weight, p_kj = Σ_{l<j} w_kl + w_kj/2, and Q joins
    these points the same way: for w = 1/My this is the unweighted Q. A value of weight 0
    would still be a point of the line, so drop such columns beforehand.
    """
    my = sorted_values.shape[1]
    if weights is not None:
        return _weighted_quantiles(sorted_values, m, weights)
    if m == my:
        return sorted_values
    # Positions in float64: float32 would round (i + 0.5)·My/m by about 1e-7·My, 1 % of a step at My ~ 10⁵.
    levels = torch.arange(m, dtype=torch.float64, device=sorted_values.device) + 0.5
    position = (levels * (my / m) - 0.5).clamp(0, my - 1)  # (m,): fractional index into each row
    lower = position.floor().long()  # (m,)
    upper = (lower + 1).clamp_max(my - 1)
    weight = (position - lower).to(sorted_values.dtype)  # (m,)
    return torch.lerp(sorted_values[:, lower], sorted_values[:, upper], weight)  # (K, m)


def _weighted_quantiles(sorted_values: Tensor, m: int, weights: Tensor) -> Tensor:
    """`quantiles` with weights `(K, My)`: Q interpolated through (p_kj, v_kj) at q_i = (i + 0.5)/m."""
    k, my = sorted_values.shape
    # Levels in float64, as in the unweighted case: a float32 cumulative sum of ~10⁵ weights can be off by
    # more than one weight.
    w = weights.to(torch.float64)
    cumulative = w.cumsum(dim=1)  # (K, My)
    points = (cumulative - w / 2) / cumulative[:, -1:]  # (K, My): p_kj, non-decreasing along each row
    levels = (torch.arange(m, dtype=torch.float64, device=sorted_values.device) + 0.5) / m
    levels = levels.expand(k, m).contiguous()  # (K, m): searchsorted wants one row of queries per row of points
    above = torch.searchsorted(points, levels, right=True)  # (K, m): how many points lie at or below each level
    lower = (above - 1).clamp_min(0)
    upper = above.clamp_max(my - 1)
    p_lower, p_upper = points.gather(1, lower), points.gather(1, upper)
    # Below the first point and above the last, lower = upper and any t in [0, 1] gives that value; the
    # clamps keep t finite there, where the gap is 0.
    t = ((levels - p_lower) / (p_upper - p_lower).clamp_min(torch.finfo(torch.float64).tiny)).clamp(0, 1)
    return torch.lerp(sorted_values.gather(1, lower), sorted_values.gather(1, upper), t.to(sorted_values.dtype))


def sliced_distance(sorted_x: Tensor, sorted_y: Tensor) -> Tensor:
    """SW² = (1/K) Σ_k mean_i (sorted_x[k, i] − Q_k(q_i))² for sorted projections `(K, Mx)`, `(K, My)`.

    Q_k is row k of `sorted_y` as a quantile function, evaluated at x's levels
    q_i = (i + 0.5)/Mx (`quantiles`). In one dimension, matching the i-th smallest to
    the i-th quantile is the optimal transport plan, so each row's term is W2² of the two
    1-D distributions when Mx = My (with linear interpolation of y's quantiles otherwise).
    """
    return (sorted_x - quantiles(sorted_y, sorted_x.shape[1])).square().mean()


def sliced_wasserstein(x: Tensor, y: Tensor, directions: Tensor) -> Tensor:
    """Sliced Wasserstein distance SW² = (1/K) Σ_k W2²(d_kᵀx, d_kᵀy) along unit `directions` `(K, N)`.

    Both clouds, `x` `(N, Mx)` and `y` `(N, My)`, are projected on each direction and
    sorted; their quantiles are compared (`sliced_distance`). When Mx ≠ My, y's quantile
    function is evaluated at x's levels q_i = (i + 0.5)/Mx by linear interpolation of
    y's sorted projections. Heitz et al. (CVPR 2021) draw new directions at every step;
    with fixed directions the loss is a fixed function of x. Cost O(K·N·M + K·M log M);
    returns a 0-d tensor.
    """
    return sliced_distance(sorted_projections(x, directions), sorted_projections(y, directions))


def sliced_loss(x: Tensor, y: Tensor) -> Tensor:
    """`sliced_wasserstein` of `x` `(N, Mx)` and `y` `(N, My)` along max(16, N) unit directions drawn
    from seed 0: a fixed two-argument loss; returns a 0-d tensor."""
    n = x.shape[0]
    directions = unit_directions(max(_LOSS_DIRECTIONS, n), n, generator=torch.Generator().manual_seed(0),
                                 dtype=x.dtype)
    return sliced_wasserstein(x, y, directions.to(x.device))


class SlicedTerm:
    """Sliced Wasserstein SW² (`sliced_distance`) against the style features `y` `(N, My)`.

    K = `options.directions` unit directions (None: N, one per channel, as Heitz et al.) are
    drawn once from `generator`, so the term is a fixed function of x that L-BFGS can
    minimise (Heitz et al. draw new ones every step). The style's sorted projections are
    computed here, once, and its quantiles at the image's Mx levels once per Mx. The
    divisor is the SW² of an all-zero map with the image's Mx positions,
    (1/K) Σ_k mean_i Q_k(q_i)², which is (1/K) Σ_k mean_j (d_kᵀy_j)² when Mx = My: so a
    blank map gives exactly 1 whatever its size.

    With column `weights` (a mixture), the quantiles are the weighted ones
    (`quantiles` with the weights of the sorted projections): each projected value
    sits at the middle of its share of the cumulative weight.
    """

    def __init__(self, y: Tensor, options: SWDOptions, *, weights: Tensor | None = None,
                 generator: torch.Generator | None = None) -> None:
        y, weights = support(y, weights)
        k = y.shape[0] if options.directions is None else options.directions
        self.directions = unit_directions(k, y.shape[0], generator=generator, dtype=y.dtype).to(y.device)
        self.sorted_weights: Tensor | None = None  # (K, My) when weighted
        if weights is None:
            self.sorted_y = sorted_projections(y, self.directions)  # (K, My)
        else:
            self.sorted_y, self.sorted_weights = sorted_weighted_projections(y, self.directions, weights)
        self._targets: dict[int, tuple[Tensor, Tensor]] = {}

    def _target(self, m: int) -> tuple[Tensor, Tensor]:
        """The style's quantiles at m levels `(K, m)` and the divisor for images of m positions."""
        if m not in self._targets:
            q = quantiles(self.sorted_y, m, weights=self.sorted_weights)
            self._targets[m] = q, sliced_distance(torch.zeros_like(q), q).clamp_min(MIN_SCALE)
        return self._targets[m]

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        q, scale = self._target(x.shape[1])
        return sliced_distance(sorted_projections(x, self.directions), q) / scale


# In the playground (along 16 evenly spaced directions, `nst.explain.toy_loss`) every point moves
# towards its quantile match along each direction: at lr 0.05 its loss falls below 1 % of the start
# within 65 steps and below 0.1 % by 150 on every pair (at 0.5 it is done in 5 steps, too fast to watch).
# Peak memory of a step on two CPU cores, per pixel, beyond Gram matching's (benchmarks/memory.py: 4.2 KB against
# 2.4 KB): the projections on N directions at every position, sorted, with their sort order.
_EXTRA_BYTES_PER_PIXEL = 1800
METHOD = Method("swd", "Sliced Wasserstein",
                r"\mathrm{SW}_2^2=\frac{1}{K}\sum_{k=1}^{K} W_2^2\left(\theta_k^\top x,\ \theta_k^\top y\right)",
                "1-D marginals along random directions", 10.0, SlicedTerm, sliced_loss, SWDOptions,
                extra_bytes_per_pixel=_EXTRA_BYTES_PER_PIXEL, toy=ToySchedule(0.05, 150))
