"""Sliced Wasserstein (swd) and the Wasserstein-2 distance between Gaussian fits (meancov):
the losses against brute-force references written another way, their scale-free style
terms, and what each does to a cloud in the 2-D playground."""

import itertools
import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from nst import explain, losses
from nst.errors import NSTError
from nst.methods import METHODS
from nst.methods.bn import bn
from nst.methods.meancov import bures_wasserstein, mean_cov, mean_cov_factor
from nst.methods.swd import sliced_wasserstein, unit_directions


def cloud(n, m, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g, dtype=torch.float64) * scale + shift


def directions(k, n, seed):
    return unit_directions(k, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- sliced Wasserstein ----------------------------------------------------------------

def w2_by_permutations(a, b):
    """min over matchings π of mean_i (a_i − b_π(i))² for two 1-D samples of equal size."""
    return min(sum((p - q) ** 2 for p, q in zip(a, perm)) / len(a) for perm in itertools.permutations(b))


def test_one_direction_in_one_dimension_is_the_exact_w2_of_equal_samples():
    x, y = cloud(1, 6, 0), cloud(1, 6, 1, shift=0.5, scale=2.0)
    brute = w2_by_permutations(x[0].tolist(), y[0].tolist())
    for sign in (1.0, -1.0):  # d and −d: the same 1-D distance
        d = torch.tensor([[sign]], dtype=torch.float64)
        assert sliced_wasserstein(x, y, d).item() == pytest.approx(brute, rel=1e-12)


def test_sw_is_the_mean_over_directions_of_each_projection_s_w2():
    x, y, d = cloud(3, 6, 2), cloud(3, 6, 3, shift=-0.3), directions(4, 3, 0)
    brute = sum(w2_by_permutations((dk @ x).tolist(), (dk @ y).tolist()) for dk in d) / 4
    assert sliced_wasserstein(x, y, d).item() == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("mx, my", [(7, 11), (13, 5), (4, 9)])
def test_unequal_sizes_compare_with_the_target_s_interpolated_quantiles(mx, my):
    x, y, d = cloud(3, mx, 4), cloud(3, my, 5, shift=1.0), directions(5, 3, 1)
    total = 0.0
    for dk in d.numpy():
        px, py = np.sort(dk @ x.numpy()), np.sort(dk @ y.numpy())
        q = np.interp((np.arange(mx) + 0.5) / mx, (np.arange(my) + 0.5) / my, py)  # clamps outside [p_0, p_last]
        total += np.mean((px - q) ** 2)
    assert sliced_wasserstein(x, y, d).item() == pytest.approx(total / len(d), rel=1e-12)


def test_sw_is_zero_only_at_the_same_distribution():
    x, d = cloud(4, 30, 6), directions(8, 4, 2)
    shuffled = x[:, torch.randperm(30, generator=torch.Generator().manual_seed(0))]
    # Not exactly 0: the projection of shuffled columns may round in another order (seen: 2.6e-33).
    assert sliced_wasserstein(x, shuffled, d).item() == pytest.approx(0, abs=1e-24)
    assert sliced_wasserstein(x, torch.cat([x, x], dim=1), d).item() == pytest.approx(0, abs=1e-12)
    assert sliced_wasserstein(x, x * 1.1, d).item() > 1e-3


def test_unit_directions_are_unit_and_seeded():
    d = directions(6, 5, 3)
    assert d.shape == (6, 5)
    assert_close(d.norm(dim=1), torch.ones(6, dtype=torch.float64))
    assert torch.equal(d, directions(6, 5, 3)) and not torch.equal(d, directions(6, 5, 4))


def test_swd_term_divides_by_the_blank_map_s_value():
    """Equal sizes: divisor (1/K) Σ_k mean_j (d_kᵀy_j)²; a blank map of any size gives exactly 1."""
    y, x = cloud(5, 40, 7).relu(), cloud(5, 40, 8, shift=0.2).relu()
    term = METHODS["swd"].build(y, generator=torch.Generator().manual_seed(0))
    assert term.directions.shape == (5, 5)  # K = N by default
    expected = sliced_wasserstein(x, y, term.directions) / (term.directions @ y).square().mean()
    assert_close(term(x), expected, rtol=1e-12, atol=0)
    for m in (1, 17, 40, 300):
        assert term(torch.zeros(5, m, dtype=torch.float64)).item() == pytest.approx(1.0, rel=1e-12)


def test_swd_term_is_a_fixed_function_with_its_own_number_of_directions():
    y, x = cloud(6, 50, 9), cloud(6, 35, 10)
    swd = METHODS["swd"]
    build = lambda **o: swd.build(y, swd.options(**o), generator=torch.Generator().manual_seed(3))  # noqa: E731
    term = build(directions=11)
    assert term.directions.shape == (11, 6)
    assert term(x) == term(x.clone()) == build(directions=11)(x)
    with pytest.raises(NSTError, match="swd_directions must be at least 1"):
        build(directions=0)


def test_swd_registry_loss_is_fixed_and_zero_at_the_target():
    x, y = explain.toy_pair("ring", "moons")
    loss = METHODS["swd"].loss
    assert loss(x, y) == loss(x.clone(), y) and loss(x, y) > 0.01
    assert loss(y, y[:, torch.randperm(y.shape[1])]).item() == 0


# --- the Wasserstein-2 distance between Gaussian fits -----------------------------------

def sqrtm_denman_beavers(a, iterations=60):
    """Principal square root of a positive definite matrix by the Denman–Beavers iteration (no eigenvectors)."""
    y, z = a.copy(), np.eye(len(a))
    for _ in range(iterations):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def np_stats(p):
    p = p.numpy()
    return p.mean(axis=1), np.cov(p, bias=True)


def test_gaussian_w2_matches_a_denman_beavers_square_root():
    x, y = cloud(4, 30, 11, shift=0.5), cloud(4, 25, 12, scale=1.7)
    (mx, sx), (my, sy) = np_stats(x), np_stats(y)
    root = sqrtm_denman_beavers(sy)
    assert np.allclose(root @ root, sy, atol=1e-12)
    w2 = np.sum((mx - my) ** 2) + np.trace(sx + sy - 2 * sqrtm_denman_beavers(root @ sx @ root))
    assert bures_wasserstein(x, y).item() == pytest.approx(w2 / 4, rel=1e-9)
    assert bures_wasserstein(y, x).item() == pytest.approx(w2 / 4, rel=1e-9)  # a distance is symmetric


@pytest.mark.parametrize("my", [3, 6, 40])  # fewer positions than channels: a singular Σy
def test_gaussian_w2_with_a_singular_target_matches_eigenvalues_of_the_product(my):
    """tr (Σy^½ Σx Σy^½)^½ = Σ √λ(Σx Σy), from a general (non-symmetric) eigensolver."""
    x, y = cloud(6, 20, 13), cloud(6, my, 14, shift=-0.4)
    (mx, sx), (ny, sy) = np_stats(x), np_stats(y)
    eigenvalues = np.linalg.eigvals(sx @ sy).real
    # Σy has rank my − 1: the other eigenvalues are zero, which rounding turns into ±1e-16 (√: 1e-8).
    cross = np.sqrt(np.where(eigenvalues > 1e-10 * eigenvalues.max(), eigenvalues, 0)).sum()
    w2 = np.sum((mx - ny) ** 2) + np.trace(sx) + np.trace(sy) - 2 * cross
    assert bures_wasserstein(x, y).item() == pytest.approx(w2 / 6, rel=1e-9)
    mu, factor = mean_cov_factor(y)
    assert factor.shape[1] <= min(6, my)
    assert_close(factor @ factor.T, torch.from_numpy(sy), rtol=0, atol=1e-12)


def test_gaussian_w2_in_one_dimension_is_the_closed_form():
    x, y = cloud(1, 50, 15, shift=2.0, scale=0.5), cloud(1, 70, 16, shift=-1.0, scale=3.0)
    expected = (x.mean() - y.mean()) ** 2 + (x.std(unbiased=False) - y.std(unbiased=False)) ** 2
    assert_close(bures_wasserstein(x, y), expected, rtol=1e-10, atol=0)


def test_gaussian_w2_for_diagonal_covariances_is_the_bn_distance():
    """Rows of a Hadamard matrix are orthogonal and centred: scaled, they give exactly diagonal covariances."""
    h2 = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    h8 = torch.kron(torch.kron(h2, h2), h2)  # (8, 8)
    x = torch.tensor([[0.5], [2.0], [1.0]], dtype=torch.float64) * h8[1:4] + torch.tensor([[1.0], [0.0], [3.0]])
    y = torch.tensor([[1.5], [0.2], [1.0]], dtype=torch.float64) * torch.cat([h8[5:8], h8[5:8]], 1) + 2.0
    mu_x, cov_x = mean_cov(x)
    assert_close(cov_x, torch.diag(torch.tensor([0.25, 4.0, 1.0], dtype=torch.float64)), rtol=0, atol=1e-14)
    expected = ((mu_x - 2.0).square().sum() + torch.tensor([1.0, 1.8, 0.0], dtype=torch.float64).square().sum()) / 3
    assert_close(bures_wasserstein(x, y), expected, rtol=1e-10, atol=0)
    assert_close(bures_wasserstein(x, y), bn(x, y), rtol=1e-6, atol=0)  # BN's σ has a 1e-8 floor


def test_gaussian_w2_is_zero_at_the_same_mean_and_covariance():
    x = cloud(5, 40, 17)
    assert bures_wasserstein(x, torch.cat([x, x.flip(1)], dim=1)).abs().item() < 1e-12
    assert bures_wasserstein(x, x + 0.1).item() == pytest.approx(5 * 0.01 / 5, rel=1e-9)  # a shift: the means


def test_gaussian_w2_returns_the_input_dtype():
    x, y = cloud(3, 20, 18).float(), cloud(3, 20, 19).float()
    assert bures_wasserstein(x, y).dtype == torch.float32
    assert METHODS["meancov"].build(y)(x).dtype == torch.float32


@pytest.mark.parametrize("dead", ["one channel", "every channel"])
def test_meancov_gradient_is_finite_for_dead_channels(dead):
    y = cloud(6, 60, 20).relu()
    x = cloud(6, 50, 21).relu()
    if dead == "one channel":
        x[2] = 0.0
    else:
        x = torch.full_like(x, 0.3)
    x.requires_grad_(True)
    for value in (METHODS["meancov"].build(y)(x), bures_wasserstein(x, y)):
        (grad,) = torch.autograd.grad(value, x)
        assert torch.isfinite(value) and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_meancov_term_divides_by_mean_and_variance_of_the_target():
    y, x = cloud(4, 30, 22, shift=1.0), cloud(4, 30, 23)
    term = METHODS["meancov"].build(y)
    scale = (y.mean(1).square().sum() + y.var(1, unbiased=False).sum()) / 4
    assert_close(term(x), bures_wasserstein(x, y) / scale, rtol=1e-10, atol=0)


# --- the playground ---------------------------------------------------------------------

def run(source, target, method):
    return list(explain.toy_descent(source, target, method))[-1].points


def test_meancov_matches_mean_and_covariance_by_one_affine_map():
    src, tgt = explain.toy_pair("ring", "stretched")
    out = run(src, tgt, "meancov")
    assert_close(out.mean(1), tgt.mean(1), atol=0.01, rtol=0)
    assert_close(torch.cov(out, correction=0), torch.cov(tgt, correction=0), atol=0.01, rtol=0)
    design = torch.cat([src, torch.ones(1, src.shape[1])]).T  # (M, 3): out = A·src + b for every point
    fit = torch.linalg.lstsq(design, out.T).solution
    assert_close(design @ fit, out.T, atol=1e-4, rtol=0)


def test_swd_matches_the_whole_shape_where_meancov_stops_at_the_covariance():
    src, tgt = explain.toy_pair("ring", "clusters")
    kernel = losses.gaussian_kernel(0.5)  # fixed bandwidth, independent of either method
    before = float(losses.mmd2(src, tgt, kernel))
    swd = float(losses.mmd2(run(src, tgt, "swd"), tgt, kernel))
    meancov = float(losses.mmd2(run(src, tgt, "meancov"), tgt, kernel))
    assert swd < 0.02 * before
    assert swd < 0.1 * meancov  # a ring mapped affinely is still a ring


def test_toy_swd_compares_evenly_spaced_directions():
    src, tgt = explain.toy_pair("blob", "moons")
    angles = [k * math.pi / explain.TOY_DIRECTIONS for k in range(explain.TOY_DIRECTIONS)]
    d = torch.tensor([[math.cos(a), math.sin(a)] for a in angles])
    assert_close(explain.toy_loss("swd", src, tgt), sliced_wasserstein(src, tgt, d))
