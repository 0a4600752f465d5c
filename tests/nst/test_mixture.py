"""Style targets that mix several paintings: per-column weights in every method's `build`."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from nst import NSTError, losses
from nst.methods import METHOD_NAMES, METHODS, mixture_weights, pool
from nst.methods import gaussian as gaussian_module
from nst.methods.bn import mean_std
from nst.methods.gaussian import fourier_features, gaussian
from nst.methods.meancov import mean_cov, mean_cov_factor
from nst.methods.poly import gram
from nst.methods.swd import quantiles, sorted_projections, sorted_weighted_projections, unit_directions

N = 5


def features(seed: int, m: int, shift: float = 0.0) -> torch.Tensor:
    """A seeded `(N, m)` float64 feature matrix, uniform on [shift, shift + 1)."""
    return torch.rand(N, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def term_value(name: str, y: torch.Tensor, x: torch.Tensor, weights: torch.Tensor | None = None, **options) -> float:
    """The term of `name` built on `y` (with `weights`) from generator seed 5, at `x`: every
    build draws the same random directions or frequencies."""
    method = METHODS[name]
    term = method.build(y, method.options(**options), generator=torch.Generator().manual_seed(5), weights=weights)
    return term(x, torch.Generator().manual_seed(1)).item()


def replicate(paintings: list[torch.Tensor], copies: list[int]) -> torch.Tensor:
    """The paintings side by side with every column of painting k repeated copies[k] times: the
    unweighted matrix whose empirical distribution is the mixture when copies[k] ∝ w_k / M_k."""
    y = torch.cat(paintings, dim=1)
    repeats = torch.cat([torch.full((p.shape[1],), c) for p, c in zip(paintings, copies)])
    return y.repeat_interleave(repeats, dim=1)


# Weights 1/3, 2/3 over paintings of 6 and 3 positions: columns of 1/18 and 4/18, so painting 1
# once and painting 2 four times make 18 equally likely columns.
Y1, Y2 = features(10, 6), features(11, 3, shift=0.7)
RATIONAL = ([Y1, Y2], (1 / 3, 2 / 3), [1, 4])


# 1. Consistency: duplicates, a zero weight, explicit uniform weights.
# x has the painting's 12 positions: for swd, the quantile line through two copies of a
# painting passes through its own points, (j + 0.5)/12, but is flat around them where the
# single painting's slopes, so only at these levels do the two agree.

@pytest.mark.parametrize("name", METHOD_NAMES)
def test_two_copies_of_a_painting_are_that_painting(name):
    y, x = features(0, 12), features(1, 12) * 1.3
    doubled, p = pool([y, y], (0.5, 0.5))
    assert term_value(name, doubled, x, p) == pytest.approx(term_value(name, y, x), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_a_zero_weight_leaves_the_first_painting_alone(name):
    y, other, x = features(0, 12), features(2, 7, shift=3.0), features(1, 12) * 1.3
    both, p = pool([y, other], (1.0, 0.0))
    alone = term_value(name, y, x)
    assert term_value(name, both, x, p) == pytest.approx(alone, rel=1e-6, abs=1e-12)
    assert term_value(name, both, x) != pytest.approx(alone, rel=1e-3)  # the second painting does differ


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("mx", [12, 17])
def test_uniform_weights_equal_no_weights(name, mx):
    y, x = features(0, 12), features(1, mx) * 1.3
    uniform = torch.full((12,), 1 / 12, dtype=torch.float64)
    assert term_value(name, y, x, uniform) == pytest.approx(term_value(name, y, x), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("m", [1, 5, 23, 24, 61])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_weighted_quantiles_are_the_unweighted_ones(m, dtype):
    values = torch.randn(4, 24, generator=torch.Generator().manual_seed(3), dtype=torch.float64).sort(dim=1).values
    values = values.to(dtype)
    weights = torch.full((4, 24), 1 / 24, dtype=dtype)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-6
    assert_close(quantiles(values, m, weights=weights), quantiles(values, m),
                 rtol=tolerance, atol=tolerance)


# 2. Against the replicated, unweighted target.

@pytest.mark.parametrize("statistic", [
    lambda y, w: losses.channel_mean(y, weights=w),
    lambda y, w: gram(y, weights=w),
    lambda y, w: gram(y, 0.5, weights=w),
    lambda y, w: mean_std(y, weights=w),
    lambda y, w: fourier_features(y, torch.randn(8, N, generator=torch.Generator().manual_seed(0),
                                                 dtype=torch.float64), 0.7, weights=w),
    lambda y, w: losses.mean_sq_distance(features(4, 9), y, y_weights=w),
], ids=["mean", "gram", "gram_c", "mean_std", "fourier", "mean_sq_distance"])
def test_weighted_statistics_are_those_of_the_replicated_columns(statistic):
    paintings, w, copies = RATIONAL
    y, p = pool(paintings, w)
    assert_close(statistic(y, p), statistic(replicate(paintings, copies), None))


@pytest.mark.parametrize("n", [3, N + 1])  # the M ≤ N factor and the one from eigh
def test_weighted_covariance_factor_is_that_of_the_replicated_columns(n):
    paintings = [torch.rand(n, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64),
                 torch.rand(n, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float64) + 0.5]
    y, p = pool(paintings, (0.25, 0.75))
    mu, factor = mean_cov_factor(y, weights=p)
    assert factor.shape[1] <= n
    assert (factor.shape[1] == 3) == (3 <= n)  # no eigh when there are no more positions than channels
    ref_mu, ref_cov = mean_cov(replicate(paintings, [1, 6]))  # columns 1/8 and 6/8
    assert_close(mu, ref_mu)
    assert_close(factor @ factor.T, ref_cov)


@pytest.mark.parametrize("name, options", [("linear", {}), ("poly", {}), ("poly", {"c": 0.5}), ("bn", {}),
                                           ("meancov", {}), ("gaussian", {})])
@pytest.mark.parametrize("mx", [7, 18])
def test_mixture_term_is_the_term_of_the_replicated_target(name, options, mx):
    paintings, w, copies = RATIONAL
    y, p = pool(paintings, w)
    x = features(3, mx) * 1.5
    assert term_value(name, y, x, p, **options) == pytest.approx(
        term_value(name, replicate(paintings, copies), x, **options), rel=1e-9)


def test_swd_quantile_points_are_centred_on_the_replicated_copies():
    """The weighted quantile line joins (p_j, v_j): v_j the sorted projections and p_j the middle
    of v_j's cumulative weight, which is the mean level of v_j's copies in the replicated sorted
    row; there the replicated quantile line has the value v_j too."""
    paintings, w, copies = RATIONAL
    y, p = pool(paintings, w)
    directions = unit_directions(6, N, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    values, sorted_w = sorted_weighted_projections(y, directions, p)
    rep = sorted_projections(replicate(paintings, copies), directions)  # (6, 18)
    rep_levels = (np.arange(18) + 0.5) / 18
    points = (sorted_w.cumsum(1) - sorted_w / 2).numpy()
    for k in range(6):
        # The two projections are separate matrix products: equal up to the last bits, not always bit for bit.
        copy_levels = [rep_levels[np.isclose(rep[k].numpy(), v, rtol=1e-12, atol=1e-15)].mean()
                       for v in values[k].numpy()]
        np.testing.assert_allclose(points[k], copy_levels, rtol=1e-12)
        np.testing.assert_allclose(np.interp(points[k], rep_levels, rep[k].numpy()), values[k].numpy(), rtol=1e-12)
    for m in (4, 18, 50):
        levels = (np.arange(m) + 0.5) / m
        expected = np.stack([np.interp(levels, points[k], values[k].numpy()) for k in range(6)])
        np.testing.assert_allclose(quantiles(values, m, weights=sorted_w).numpy(), expected, rtol=1e-12)


def test_swd_mixture_term_approaches_the_replicated_target():
    """The two quantile lines differ only within one gap between neighbouring values, so with
    many positions the terms agree closely; a different mixture is far off."""
    big1, big2 = features(20, 600), features(21, 300, shift=0.7)
    y, p = pool([big1, big2], (1 / 3, 2 / 3))
    x = features(3, 900) * 1.5
    mixed = term_value("swd", y, x, p)
    assert mixed == pytest.approx(term_value("swd", replicate([big1, big2], [1, 4]), x), rel=2e-3)
    swapped, q = pool([big1, big2], (2 / 3, 1 / 3))
    assert abs(term_value("swd", swapped, x, q) / mixed - 1) > 0.05


def test_fourier_keeps_a_sample_of_the_mixture_above_its_position_cap(monkeypatch):
    """Above the cap, positions are drawn with the mixture's probabilities, so their plain mean
    feature estimates the mixture's: the term stays near the exact weighted one."""
    big1, big2 = features(20, 1500), features(21, 1500, shift=0.7)
    y, p = pool([big1, big2], (0.2, 0.8))
    x = features(3, 200)
    exact = term_value("gaussian", y, x, p)  # 3000 positions, under the default cap
    monkeypatch.setattr(gaussian_module, "_FOURIER_STYLE_POSITIONS", 1000)
    sampled = term_value("gaussian", y, x, p)
    assert sampled == pytest.approx(exact, rel=0.05)
    assert abs(term_value("gaussian", y, x, torch.flip(p, (0,))) / exact - 1) > 0.3


# 3. Errors.

@pytest.mark.parametrize("call, match", [
    (lambda: mixture_weights([6, 3], [1.0]), "1 mixture weights for 2 paintings"),
    (lambda: mixture_weights([6, 3], [1.0, -0.5]), "non-negative"),
    (lambda: mixture_weights([6, 3], [1.0, float("nan")]), "non-negative"),
    (lambda: mixture_weights([6, 3], [0.0, 0.0]), "positive sum"),
    (lambda: mixture_weights([6, 0], [1.0, 1.0]), "at least one position"),
    (lambda: pool([Y1, Y2], (1.0, 2.0, 3.0)), "3 mixture weights for 2 paintings"),
    (lambda: pool([Y1, torch.zeros(N + 1, 4)], (1.0, 1.0)), "same channels"),
    (lambda: METHODS["linear"].build(Y1, weights=torch.ones(5)), r"shape \(6,\)"),
    (lambda: METHODS["bn"].build(Y1, weights=torch.tensor([1.0, -1, 0, 0, 0, 1])), "negative"),
    (lambda: METHODS["swd"].build(Y1, weights=torch.zeros(6)), "positive finite sum"),
])
def test_bad_mixtures_raise_one_line_errors(call, match):
    with pytest.raises(NSTError, match=match) as error:
        call()
    assert "\n" not in str(error.value)


def test_mixture_weights_share_each_painting_weight_over_its_columns():
    p = mixture_weights([2, 4], [1.0, 3.0])
    assert_close(p, torch.tensor([1 / 8, 1 / 8, 3 / 16, 3 / 16, 3 / 16, 3 / 16], dtype=torch.float64))
    y, q = pool([Y1.float(), Y2.float()], (1.0, 1.0))
    assert y.shape == (N, 9) and q.dtype == torch.float32
    assert_close(q.sum(), torch.tensor(1.0))


# 4. The paper's sampled pairs.

def test_pairs_never_draw_a_column_of_weight_zero():
    """A NaN painting of weight 0: one drawn index of it would make the estimate NaN."""
    y, p = pool([Y1, torch.full((N, 40), float("nan"), dtype=torch.float64)], (1.0, 0.0))
    x = features(3, 30)
    for seed in range(200):
        generator = torch.Generator().manual_seed(seed)
        assert gaussian(x, y, num_pairs=50, sigma2=1.0, y_weights=p, generator=generator).isfinite()
    term = METHODS["gaussian"].build(y, METHODS["gaussian"].options(estimator="pairs"), weights=p)
    assert term(x, torch.Generator().manual_seed(0)).isfinite()


@pytest.mark.parametrize("paintings, w, copies", [
    ([Y1, features(12, 4, shift=1000.0)], (1.0, 0.0), [1, 0]),  # a hit on the huge painting would pull the mean
    RATIONAL,
], ids=["weights_1_0", "weights_1_2"])
def test_pairs_estimate_the_mixture_mmd(paintings, w, copies):
    """The mean over seeds of the pairs estimate is the quadratic MMD² against the replicated target."""
    y, p = pool(paintings, w)
    x = features(3, 30) * 1.2
    draws = torch.stack([gaussian(x, y, num_pairs=400, y_weights=p, generator=torch.Generator().manual_seed(s))
                         for s in range(400)])
    target = replicate(paintings, copies)
    exact = losses.mmd2(x, target, losses.gaussian_kernel(losses.mean_sq_distance(x, target)))
    error = draws.std() / len(draws) ** 0.5
    assert abs(draws.mean() - exact) < 4 * error
    uniform = losses.mmd2(x, torch.cat(paintings, dim=1), losses.gaussian_kernel(losses.mean_sq_distance(x, target)))
    assert abs(uniform - exact) > 20 * error  # the test tells the mixture from the plain concatenation
