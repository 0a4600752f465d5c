"""The registry of distribution-alignment methods: name → style term and default γ.

A style term is built once from the style image's features of one layer (its target
statistics are computed here, once per request) and then called on the generated
image's features at every step. Each term is the pure loss of `nst.losses` divided by
a constant taken from the target itself, detached: the same loss evaluated against an
all-zero activation map (‖μ_S‖²/N for linear, ‖Ĝ_S‖²/N² for poly, Σ(μ_S² + σ_S²)/N for
BN, the Gaussian MMD² between one blank position and the style's, the mean squared
projection of the style's quantiles for sliced Wasserstein, (‖μ_S‖² + tr Σ_S)/N for the
Gaussian W2). So every term is 1 for a blank image and 0 at the painting's distribution,
whatever the method, and multiplying all activations by s (a different weight file, 0–255
instead of 0–1 inputs) leaves it unchanged: γ means the same for every method and every
weight file.

A style target can be a mixture of paintings: `build(y, weights=p)` with their feature
matrices side by side in y and p `(M,)` the probability of each column (`pool` makes both
from the paintings' matrices and their weights). The target statistics are then those of
the mixture distribution; weights=None (1/M each) runs exactly the unweighted code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

import torch
from torch import Tensor

from . import losses
from .errors import NSTError

__all__ = ["GAUSSIAN_ESTIMATORS", "FOURIER_FEATURES", "GAUSSIAN_PAIRS", "StyleTerm", "Method", "METHODS", "METHOD_NAMES", "get_method",
           "fusion_weights", "balance_factor", "mixture_weights", "pool"]

# Keeps a term finite when a target layer is entirely zero (a black style image).
_MIN_SCALE = 1e-12
# Seeded pairs that estimate the blank-image value of the paper's Gaussian estimator once.
_SCALE_PAIRS = 16384
GAUSSIAN_ESTIMATORS: tuple[str, ...] = ("fourier", "pairs")
# Random Fourier frequencies per layer: 64 left visible pixel noise in reconstructions from
# noise (the optimiser fits the few features), 128 did not and costs a third less than 256.
FOURIER_FEATURES = 128
# Pairs per layer and step of the paper's sampled estimator: a fixed number rather than one per
# position keeps its cost flat in the image size (a 512 px relu1_1 has 174 592 positions). On HED's
# edge-detection VGG-16 (benchmarks/gaussian_pairs.py, 256 px) 4096 pairs estimate the MMD² between the photo and
# the painting to 1.4-3 % (relative standard error) at every layer, and near the end of a run, where
# the MMD² is small, to 7-46 %; one pair per position gives 0.5-13 % and 3-45 %.
GAUSSIAN_PAIRS = 4096
# Style positions the Fourier estimator keeps per layer (all of them up to this many).
_FOURIER_STYLE_POSITIONS = 4096
# Directions of the two-argument sliced Wasserstein loss (`Method.loss`): at least this many,
# so that a 2-D cloud is compared along more than its two axes.
_LOSS_DIRECTIONS = 16


class StyleTerm(Protocol):
    """A style loss against a fixed target: `(N, M)` features → 0-d tensor."""

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor: ...


def _support(y: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The style columns that carry weight, `(N, M')`, and their probabilities `(M',)`, summing to 1.

    `weights` `(M,)` must be non-negative with a positive sum; they are cast to y's dtype
    and device and divided by their sum. Columns of weight 0 are not part of the target
    distribution: dropping them keeps them out of the sliced Wasserstein quantile line
    (where they would still be points) and out of every cost. None: `(y, None)`, unchanged.
    """
    if weights is None:
        return y, None
    if weights.shape != (y.shape[1],):
        raise NSTError(f"style weights must have shape ({y.shape[1]},), one per position, "
                       f"got {tuple(weights.shape)}")
    weights = weights.to(y)
    if bool((weights < 0).any()):
        raise NSTError("style weights must not be negative")
    total = weights.sum()
    if not bool(total > 0) or not bool(total.isfinite()):
        raise NSTError(f"style weights must have a positive finite sum, got {float(total)}")
    keep = weights > 0
    return y[:, keep], weights[keep] / total


class _LinearTerm:
    def __init__(self, y: Tensor, *, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        self.mu = losses.channel_mean(y, weights=weights)
        self.scale = losses.mean_distance(torch.zeros_like(self.mu), self.mu).clamp_min(_MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return losses.mean_distance(losses.channel_mean(x), self.mu) / self.scale


class _PolyTerm:
    def __init__(self, y: Tensor, *, poly_c: float = 0.0, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        self.c = poly_c
        self.n = y.shape[0]
        self.g = losses.gram(y, poly_c, weights=weights)
        self.scale = losses.gram_distance(torch.zeros_like(self.g), self.g, self.n).clamp_min(_MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return losses.gram_distance(losses.gram(x, self.c), self.g, self.n) / self.scale


class _BNTerm:
    def __init__(self, y: Tensor, *, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        self.stats = losses.mean_std(y, weights=weights)
        zero = tuple(torch.zeros_like(s) for s in self.stats)
        self.scale = losses.mean_std_distance(zero, self.stats).clamp_min(_MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return losses.mean_std_distance(losses.mean_std(x), self.stats) / self.scale


class _GaussianTerm:
    """Gaussian-kernel MMD² against the style features `y`, by one of two estimators.

    "fourier" (default): `losses.gaussian_fourier` with D = `gaussian_features` random
    frequencies drawn once from `generator`, so that no sampling noise enters a step.
    "pairs": the paper's linear-time estimator, `losses.gaussian`, with `gaussian_pairs` new
    pairs at every step (a stochastic objective; None: one per image position, as the paper). Both use the paper's bandwidth, σ² = the mean squared
    distance between image and style feature vectors, recomputed at every step and
    detached: the kernel narrows as the image approaches the painting. Both are divided
    by their value for an all-zero activation map, as every other term (for "pairs"
    estimated once from `_SCALE_PAIRS` seeded pairs).

    With column `weights` (a mixture), "fourier" uses φ̄ = Σ_i p_i φ(y_i) and the weighted
    σ², and "pairs" draws the style's indices with probabilities p. Above
    `_FOURIER_STYLE_POSITIONS` positions, "fourier" keeps that many drawn with replacement
    with probabilities p, each then weighing the same: a sample of the mixture itself.
    """

    def __init__(self, y: Tensor, *, gaussian_estimator: str = "fourier",
                 gaussian_features: int = FOURIER_FEATURES, gaussian_pairs: int | None = GAUSSIAN_PAIRS,
                 generator: torch.Generator | None = None, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        self.y = y
        self.weights = weights
        self.estimator = gaussian_estimator
        self.num_pairs = gaussian_pairs
        zero = torch.zeros_like(y[:, :1])  # (N, 1): one blank position
        if gaussian_estimator == "fourier":
            omega = torch.randn(gaussian_features, y.shape[0], generator=generator, dtype=y.dtype)
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
            scale = losses.gaussian_fourier(zero, self.y, omega=self.omega, y_weights=self.weights)
        else:
            scale = losses.gaussian(zero, y, num_pairs=max(_SCALE_PAIRS, y.shape[1]),
                                    generator=torch.Generator().manual_seed(0), y_weights=weights)
        self.scale = scale.clamp_min(_MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.estimator == "fourier":
            return losses.gaussian_fourier(x, self.y, omega=self.omega, y_weights=self.weights) / self.scale
        return losses.gaussian(x, self.y, num_pairs=self.num_pairs, generator=generator,
                               y_weights=self.weights) / self.scale


class _SlicedTerm:
    """Sliced Wasserstein SW² (`losses.sliced_distance`) against the style features `y` `(N, My)`.

    K = `swd_directions` unit directions (None: N, one per channel, as Heitz et al.) are
    drawn once from `generator`, so the term is a fixed function of x that L-BFGS can
    minimise (Heitz et al. draw new ones every step). The style's sorted projections are
    computed here, once, and its quantiles at the image's Mx levels once per Mx. The
    divisor is the SW² of an all-zero map with the image's Mx positions,
    (1/K) Σ_k mean_i Q_k(q_i)², which is (1/K) Σ_k mean_j (d_kᵀy_j)² when Mx = My: so a
    blank map gives exactly 1 whatever its size.

    With column `weights` (a mixture), the quantiles are the weighted ones
    (`losses.quantiles` with the weights of the sorted projections): each projected value
    sits at the middle of its share of the cumulative weight.
    """

    def __init__(self, y: Tensor, *, swd_directions: int | None = None,
                 generator: torch.Generator | None = None, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        k = y.shape[0] if swd_directions is None else swd_directions
        if k < 1:
            raise NSTError(f"swd_directions must be at least 1, got {k}")
        self.directions = losses.unit_directions(k, y.shape[0], generator=generator, dtype=y.dtype).to(y.device)
        self.sorted_weights: Tensor | None = None  # (K, My) when weighted
        if weights is None:
            self.sorted_y = losses.sorted_projections(y, self.directions)  # (K, My)
        else:
            self.sorted_y, self.sorted_weights = losses.sorted_weighted_projections(y, self.directions, weights)
        self._targets: dict[int, tuple[Tensor, Tensor]] = {}

    def _target(self, m: int) -> tuple[Tensor, Tensor]:
        """The style's quantiles at m levels `(K, m)` and the divisor for images of m positions."""
        if m not in self._targets:
            q = losses.quantiles(self.sorted_y, m, weights=self.sorted_weights)
            self._targets[m] = q, losses.sliced_distance(torch.zeros_like(q), q).clamp_min(_MIN_SCALE)
        return self._targets[m]

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        q, scale = self._target(x.shape[1])
        return losses.sliced_distance(losses.sorted_projections(x, self.directions), q) / scale


class _MeanCovTerm:
    """W2² between Gaussian fits (`losses.bures_distance`) against the style features `y`.

    The style's mean and covariance factor (`losses.mean_cov_factor`, in the place of
    Σy^½: same eigenvalues, a smaller matrix) are computed here, once, in float64; each
    call returns x's dtype. Divisor: the value for an all-zero map (μ = 0, Σ = 0),
    (‖μy‖² + tr Σy)/N. With column `weights`, the weighted mean and covariance.
    """

    def __init__(self, y: Tensor, *, weights: Tensor | None = None, **_: object) -> None:
        y, weights = _support(y, weights)
        self.target = losses.mean_cov_factor(y.double(), weights=None if weights is None else weights.double())
        n = y.shape[0]
        zero = (torch.zeros(n, dtype=torch.float64, device=y.device),
                torch.zeros(n, n, dtype=torch.float64, device=y.device))
        self.scale = losses.bures_distance(zero, self.target).clamp_min(_MIN_SCALE)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        value = losses.bures_distance(losses.mean_cov(x.double()), self.target) / self.scale
        return value.to(x.dtype)


def _sliced_loss(x: Tensor, y: Tensor) -> Tensor:
    """`losses.sliced_wasserstein` along max(16, N) unit directions drawn from seed 0: a fixed two-argument loss."""
    n = x.shape[0]
    directions = losses.unit_directions(max(_LOSS_DIRECTIONS, n), n, generator=torch.Generator().manual_seed(0),
                                        dtype=x.dtype)
    return losses.sliced_wasserstein(x, y, directions.to(x.device))


@dataclass(frozen=True)
class Method:
    """One way of aligning feature distributions.

    `build(y, **options)` summarises the style features `y` `(N, M)` into a `StyleTerm`;
    the option `weights` `(M,)` (None: 1/M each) gives each column a probability, for a
    target that mixes several paintings (see `pool`).
    `kernel` is the MMD kernel in LaTeX, for the teaching view (for the two methods that
    are not MMDs, sliced Wasserstein and the Gaussian W2, the distance itself).
    `stochastic_when` is the (option, value) under which the term is a sampled estimate
    that changes at every step, which L-BFGS must not be given (its curvature pairs would
    mix different objectives).
    """

    name: str
    title: str
    kernel: str
    matches: str
    default_gamma: float
    build: Callable[..., StyleTerm]
    loss: Callable[[Tensor, Tensor], Tensor]
    stochastic_when: tuple[str, str] | None = None

    def is_stochastic(self, options: Mapping[str, object]) -> bool:
        """Whether the term built with these options (as `build` takes them) is a sampled estimate."""
        return self.stochastic_when is not None and options.get(self.stochastic_when[0]) == self.stochastic_when[1]


# Calibrated on the paper's network, Oxford's VGG-19 (six example pairs, 256 px, 100 steps;
# benchmarks/calibrate.py, table in the README): at these values every method closes 0.86-0.92
# of the Gram gap to the painting while moving the content features by 0.33-0.39, and the
# independent VGG-16 judge sees 0.84-0.88 of the gap closed. These are the values first chosen
# on HED's edge-detection VGG-16 (where the band was 0.89-0.92 and 0.35-0.40): on the paper's
# network every method still lands in the others' band, so none moved.

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("linear", "Linear MMD", r"k(x,y)=x^\top y", "channel means", 5.0,
               _LinearTerm, losses.linear),
        Method("poly", "Polynomial MMD (Gram)", r"k(x,y)=(x^\top y + c)^2", "second moments (Gram matrix)",
               3.0, _PolyTerm, losses.poly),
        Method("gaussian", "Gaussian MMD", r"k(x,y)=\exp\left(-\frac{\|x-y\|^2}{2\sigma^2}\right)",
               "the whole distribution", 10.0, _GaussianTerm, losses.gaussian,
               stochastic_when=("gaussian_estimator", "pairs")),
        Method("bn", "BN statistics", r"\mu_c,\ \sigma_c \text{ per channel}", "per-channel mean and std",
               5.0, _BNTerm, losses.bn),
        Method("swd", "Sliced Wasserstein",
               r"\mathrm{SW}_2^2=\frac{1}{K}\sum_{k=1}^{K} W_2^2\left(\theta_k^\top x,\ \theta_k^\top y\right)",
               "1-D marginals along random directions", 10.0, _SlicedTerm, _sliced_loss),
        Method("meancov", "Mean and covariance (Gaussian W2)",
               r"W_2^2=\|\mu_x-\mu_y\|^2+\operatorname{tr}\left(\Sigma_x+\Sigma_y"
               r"-2\left(\Sigma_y^{1/2}\Sigma_x\Sigma_y^{1/2}\right)^{1/2}\right)",
               "mean and covariance (Gaussian fit)", 3.0, _MeanCovTerm, losses.bures_wasserstein),
    )
}
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def get_method(name: str) -> Method:
    """The registered method called `name`; an unknown name lists the valid ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise NSTError(f"unknown method {name!r}; choose one of {', '.join(METHOD_NAMES)}") from None


def fusion_weights(method: str, mix: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """Method → weight of the style term, summing to 1.

    `mix=()` means `method` alone. A mix is a convex combination: the weights are
    divided by their sum, so `bn=0.5, poly=0.5` weighs the two equally. This is what
    the paper describes; its official code applies the weights so that 0.5/0.5 comes
    out as 0.25 : 1.
    """
    if not mix:
        get_method(method)
        return {method: 1.0}
    weights: dict[str, float] = {}
    for name, w in mix:
        get_method(name)
        weights[name] = weights.get(name, 0.0) + float(w)
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items() if w > 0}


def mixture_weights(counts: Sequence[int], weights: Sequence[float]) -> Tensor:
    """Per-column probabilities `(Σ_k M_k,)` of a mixture of K paintings, float64.

    Painting k has M_k = `counts[k]` positions and weight w_k = `weights[k]` ≥ 0: each of
    its columns gets w_k / (Σ_l w_l · M_k), so painting k holds w_k / Σ w of the
    probability whatever its size. Columns are in painting order, as `pool` concatenates them.
    """
    if len(counts) != len(weights):
        raise NSTError(f"{len(weights)} mixture weights for {len(counts)} paintings; give one weight per painting")
    if any(m < 1 for m in counts):
        raise NSTError(f"every painting needs at least one position, got counts {list(counts)}")
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise NSTError(f"mixture weights must be finite and non-negative, got {list(weights)}")
    total = math.fsum(weights)
    if not total > 0:
        raise NSTError(f"mixture weights must have a positive sum, got {list(weights)}")
    return torch.cat([torch.full((m,), w / (total * m), dtype=torch.float64) for m, w in zip(counts, weights)])


def pool(features: Sequence[Tensor], weights: Sequence[float]) -> tuple[Tensor, Tensor]:
    """The paintings' feature matrices `(N, M_k)` side by side, `(N, Σ M_k)`, and their column
    probabilities `(Σ M_k,)` (`mixture_weights`, in the features' dtype and device): `build`'s
    `y` and `weights`."""
    channels = {f.shape[0] for f in features}
    if len(channels) > 1:
        raise NSTError(f"the paintings' features must have the same channels, got {sorted(channels)}")
    p = mixture_weights([f.shape[1] for f in features], weights)
    y = torch.cat(list(features), dim=1)
    return y, p.to(y)


def balance_factor(gamma: float | None, method: str, mix: tuple[tuple[str, float], ...] = ()) -> float:
    """The γ a run uses: `gamma` when given, else the fusion-weighted mean of the methods' defaults."""
    if gamma is not None:
        return gamma
    return sum(w * get_method(m).default_gamma for m, w in fusion_weights(method, mix).items())
