"""Style and content losses as pure tensor functions.

Notation (Li et al., "Demystifying Neural Style Transfer", IJCAI 2017): a layer's
activations are a feature matrix of shape `(N, M)`: N channels, M spatial positions,
one sample (column) per position. `x` is the generated image's matrix, `y` the style
image's; their M may differ. Each style loss of the paper is an MMD² (or, for BN, a
moment distance) between the two empirical distributions of columns, divided by the
normaliser of the paper's official code (linear N, poly N², Gaussian 1, BN N). Two
further distances between the same distributions are not MMDs: the sliced Wasserstein
distance (`sliced_wasserstein`, Heitz et al., CVPR 2021) and the Wasserstein-2 distance
between Gaussian fits (`bures_wasserstein`), divided by N.

Statistics (`channel_mean`, `gram`, `mean_std`, `sorted_projections`, `mean_cov`,
`mean_cov_factor`) are split from the distances on them so that a style target can be
summarised once and compared at every step.

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
    "gram",
    "mean_std",
    "mean_distance",
    "gram_distance",
    "mean_std_distance",
    "linear",
    "poly",
    "gaussian",
    "gaussian_samples",
    "gaussian_standard_error",
    "fourier_features",
    "gaussian_fourier",
    "bn",
    "unit_directions",
    "sorted_projections",
    "sorted_weighted_projections",
    "quantiles",
    "sliced_distance",
    "sliced_wasserstein",
    "mean_cov",
    "mean_cov_factor",
    "bures_distance",
    "bures_wasserstein",
    "content",
    "total_variation",
    "gatys_gram_loss",
    "mean_sq_distance",
    "mmd2",
    "linear_kernel",
    "poly_kernel",
    "gaussian_kernel",
]

Kernel = Callable[[Tensor, Tensor], Tensor]

# Keeps sqrt differentiable where a channel is constant (a dead ReLU gives std 0). The floor
# is relative to the layer's mean square so that σ(s·x) = s·σ(x) still holds exactly.
_STD_EPS = 1e-8
# Eigenvalues below this fraction of the largest get a linear stand-in for √ (in
# `bures_distance`) or are dropped (a target covariance's, in `mean_cov_factor`): rounding
# leaves such eigenvalues at ±1e-16 of the largest in float64, where √ has an unbounded
# slope. Relative, so the same ones are affected at every activation scale.
_BURES_EPS = 1e-12


def channel_mean(x: Tensor, *, weights: Tensor | None = None) -> Tensor:
    """μ = (1/M) Σ_i x_i, or μ = Σ_i p_i x_i for column `weights` p `(M,)`. `x` is `(N, M)`; returns `(N,)`."""
    if weights is None:
        return x.mean(dim=1)
    return x @ weights


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


def mean_distance(mu_x: Tensor, mu_y: Tensor) -> Tensor:
    """‖μ_x − μ_y‖² / N for channel means of shape `(N,)`."""
    return (mu_x - mu_y).square().sum() / mu_x.shape[0]


def gram_distance(g_x: Tensor, g_y: Tensor, n: int) -> Tensor:
    """‖Ĝ_x − Ĝ_y‖²_F / N² for normalised Gram matrices `(N, N)` (or `(N+1, N+1)`) of N channels."""
    return (g_x - g_y).square().sum() / n**2


def mean_std_distance(stats_x: tuple[Tensor, Tensor], stats_y: tuple[Tensor, Tensor]) -> Tensor:
    """(‖μ_x − μ_y‖² + ‖σ_x − σ_y‖²) / N for `(mean, std)` pairs of shape `(N,)`."""
    (mu_x, sd_x), (mu_y, sd_y) = stats_x, stats_y
    return ((mu_x - mu_y).square().sum() + (sd_x - sd_y).square().sum()) / mu_x.shape[0]


def linear(x: Tensor, y: Tensor) -> Tensor:
    """Linear-kernel MMD²: k(a, b) = aᵀb gives MMD² = ‖μ_x − μ_y‖²; returned / N.

    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return mean_distance(channel_mean(x), channel_mean(y))


def poly(x: Tensor, y: Tensor, c: float = 0.0) -> Tensor:
    """Polynomial-kernel MMD² with k(a, b) = (aᵀb + c)², in closed form; returned / N².

    Σ_ij (x_iᵀx_j)² = ‖X Xᵀ‖²_F, so MMD² = ‖Ĝ_x − Ĝ_y‖²_F with Ĝ = X Xᵀ / M: Gram
    matching, in O(N² M) and without an M×M kernel matrix. With c = 0 and Mx = My,
    Gatys' loss ‖G_x − G_y‖²/(4N²M²) on unnormalised G is this value / 4 (see
    `gatys_gram_loss`). Only degree 2 has a Gram-size closed form;
    degree d would need (N+1)^d moment tensors, so other degrees are left to `mmd2`.

    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return gram_distance(gram(x, c), gram(y, c), x.shape[0])


def bn(x: Tensor, y: Tensor) -> Tensor:
    """Batch-normalisation statistics: (‖μ_x − μ_y‖² + ‖σ_x − σ_y‖²) / N.

    The paper shows this equals a linear MMD on the per-channel distributions
    (each channel treated as a 1-D distribution matched in mean and spread).
    `x` `(N, Mx)`, `y` `(N, My)`; returns a 0-d tensor.
    """
    return mean_std_distance(mean_std(x), mean_std(y))


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


def mean_sq_distance(x: Tensor, y: Tensor, *, y_weights: Tensor | None = None) -> Tensor:
    """Mean of ‖x_i − y_j‖² over all Mx·My pairs, in O((Mx + My) N).

    Equals mean‖x_i‖² + mean‖y_j‖² − 2 μ_xᵀμ_y. Used as the Gaussian bandwidth σ². With
    `y_weights` q `(My,)` the pair (i, j) counts q_j/Mx: mean‖x_i‖² + Σ_j q_j‖y_j‖² − 2 μ_xᵀμ_y(q).
    """
    if y_weights is None:
        return x.square().sum(0).mean() + y.square().sum(0).mean() - 2 * channel_mean(x) @ channel_mean(y)
    y_moment = y.square().sum(0) @ y_weights
    return x.square().sum(0).mean() + y_moment - 2 * channel_mean(x) @ channel_mean(y, weights=y_weights)


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
    i.e. E = `poly(x, y)` / 4. Kept as a reference for that identity.
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
