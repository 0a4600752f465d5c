"""The closed forms of nst.losses against brute-force kernel sums and hand values."""

import pytest
import torch
from torch.testing import assert_close

from nst import losses
from nst.methods.bn import bn
from nst.methods.gaussian import gaussian, gaussian_fourier, gaussian_samples, gaussian_standard_error
from nst.methods.linear import linear
from nst.methods.poly import poly


def features(n=6, m=40, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g, dtype=torch.float64) + shift


def test_gram_matching_is_mmd_with_squared_dot_kernel():
    x, y = features(m=30, seed=1), features(m=45, seed=2, shift=0.3)
    n = x.shape[0]
    brute = losses.mmd2(x, y, losses.poly_kernel(c=0.0, degree=2))
    assert_close(poly(x, y) * n**2, brute, rtol=1e-10, atol=0)


def test_poly_with_constant_matches_brute_force():
    x, y = features(m=25, seed=3), features(m=33, seed=4, shift=-0.5)
    n = x.shape[0]
    brute = losses.mmd2(x, y, losses.poly_kernel(c=1.5, degree=2))
    assert_close(poly(x, y, c=1.5) * n**2, brute, rtol=1e-10, atol=0)


def test_gatys_loss_is_mmd_over_four_n_squared():
    x, y = features(m=36, seed=5), features(m=36, seed=6, shift=0.2)
    n = x.shape[0]
    brute = losses.mmd2(x, y, losses.poly_kernel(c=0.0, degree=2))
    assert_close(losses.gatys_gram_loss(x, y), brute / (4 * n**2), rtol=1e-10, atol=0)
    assert_close(losses.gatys_gram_loss(x, y), poly(x, y) / 4, rtol=1e-10, atol=0)


def test_linear_is_mmd_with_dot_kernel():
    x, y = features(m=20, seed=7), features(m=50, seed=8, shift=1.0)
    brute = losses.mmd2(x, y, losses.linear_kernel())
    assert_close(linear(x, y) * x.shape[0], brute, rtol=1e-10, atol=1e-12)


def test_linear_hand_value():
    x = torch.tensor([[1.0, 3.0], [0.0, 2.0]])  # means (2, 1)
    y = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 4.0]])  # means (0, 2)
    assert linear(x, y).item() == pytest.approx((4 + 1) / 2)


def test_mean_sq_distance_matches_all_pairs():
    x, y = features(m=17, seed=9), features(m=23, seed=10, shift=0.4)
    brute = torch.cdist(x.T, y.T).square().mean()
    assert_close(losses.mean_sq_distance(x, y), brute, rtol=1e-10, atol=0)


def test_gaussian_estimator_is_unbiased():
    x, y = features(n=3, m=30, seed=11), features(n=3, m=40, seed=12, shift=0.7)
    sigma2 = losses.mean_sq_distance(x, y)
    exact = losses.mmd2(x, y, losses.gaussian_kernel(sigma2))
    estimates = torch.stack([
        gaussian(x, y, num_pairs=64, generator=torch.Generator().manual_seed(s)) for s in range(2000)])
    standard_error = estimates.std() / len(estimates) ** 0.5
    assert estimates.std() > 0.01  # single estimates are noisy, so the check below is not trivial
    assert abs(estimates.mean() - exact) < 4 * standard_error
    assert abs(estimates.mean() - exact) / exact < 0.05


def test_gaussian_standard_error_is_the_spread_of_independent_estimates():
    """One draw's sd(h)/√n against the standard deviation of 2000 estimates from other seeds."""
    x, y = features(n=3, m=30, seed=11), features(n=3, m=40, seed=12, shift=0.7)
    seeds = [torch.Generator().manual_seed(s) for s in range(2000)]
    estimates = torch.stack([gaussian(x, y, num_pairs=64, generator=g) for g in seeds])
    reported = torch.stack([gaussian_standard_error(
        gaussian_samples(x, y, num_pairs=64, generator=torch.Generator().manual_seed(s))) for s in range(200)])
    assert abs(reported.mean() / estimates.std() - 1) < 0.1
    same = gaussian_samples(x, y, num_pairs=64, generator=torch.Generator().manual_seed(0))
    assert same.shape == (64,) and float(same.mean()) == float(estimates[0])


def test_gaussian_default_bandwidth_is_mean_squared_distance():
    x, y = features(n=3, m=20, seed=13), features(n=3, m=20, seed=14, shift=0.5)
    a = gaussian(x, y, generator=torch.Generator().manual_seed(0))
    b = gaussian(x, y, sigma2=losses.mean_sq_distance(x, y), generator=torch.Generator().manual_seed(0))
    assert_close(a, b)


def test_bn_is_zero_for_identical_distributions_and_positive_otherwise():
    x = features(m=30, seed=15)
    shuffled = x[:, torch.randperm(30, generator=torch.Generator().manual_seed(0))]
    repeated = torch.cat([x, x], dim=1)
    assert bn(x, shuffled).item() == pytest.approx(0.0, abs=1e-12)
    assert bn(x, repeated).item() == pytest.approx(0.0, abs=1e-12)
    assert bn(x, x * 2).item() > 0.1


def test_bn_hand_value():
    x = torch.tensor([[0.0, 2.0]], dtype=torch.float64)  # mean 1, std 1
    y = torch.tensor([[3.0, 3.0]], dtype=torch.float64)  # mean 3, std 0
    assert bn(x, y).item() == pytest.approx(4 + 1, rel=1e-3)  # σ has a relative 1e-8 variance floor


@pytest.mark.parametrize("kernel", [losses.linear_kernel(), losses.poly_kernel(0.5, 2),
                                    losses.gaussian_kernel(2.0)])
def test_mmd2_is_symmetric_non_negative_and_zero_on_itself(kernel):
    x, y = features(m=12, seed=16), features(m=15, seed=17, shift=0.3)
    assert_close(losses.mmd2(x, y, kernel), losses.mmd2(y, x, kernel))
    assert losses.mmd2(x, y, kernel) > 0
    assert losses.mmd2(x, x, kernel).abs() < 1e-9


def test_content_is_squared_error():
    x, p = features(m=5, seed=18), features(m=5, seed=19)
    assert_close(losses.content(x, p), ((x - p) ** 2).sum())


@pytest.mark.parametrize("loss", [linear, poly, bn, gaussian, gaussian_fourier])
def test_gradients_flow_to_the_first_argument(loss):
    x = features(m=20, seed=20).requires_grad_(True)
    y = features(m=20, seed=21, shift=0.5)
    if loss is gaussian:
        value = loss(x, y, generator=torch.Generator().manual_seed(0))
    elif loss is gaussian_fourier:
        value = loss(x, y, omega=omega(x.shape[0], 16, 0))
    else:
        value = loss(x, y)
    value.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def omega(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(d, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_fourier_kernel_is_the_gaussian_kernel_on_average():
    """φ(a)ᵀφ(b) averaged over frequency draws → exp(−‖a − b‖²/2σ²), checked pair by pair."""
    a, b = features(n=4, m=3, seed=30), features(n=4, m=3, seed=31, shift=0.4)
    sigma2 = 2.5
    feature = lambda p, w: torch.cat([(w @ p / sigma2**0.5).cos(), (w @ p / sigma2**0.5).sin()]) / w.shape[0] ** 0.5
    draws = [omega(4, 64, s) for s in range(600)]
    average = torch.stack([feature(a, w).T @ feature(b, w) for w in draws]).mean(0)  # (3, 3)
    assert_close(average, losses.gaussian_kernel(sigma2)(a, b), rtol=0, atol=0.01)


def test_fourier_mmd_is_non_negative_and_averages_to_the_exact_mmd():
    x, y = features(n=3, m=30, seed=32), features(n=3, m=40, seed=33, shift=0.7)
    sigma2 = losses.mean_sq_distance(x, y)
    exact = losses.mmd2(x, y, losses.gaussian_kernel(sigma2))
    estimates = torch.stack([gaussian_fourier(x, y, omega=omega(3, 16, s)) for s in range(3000)])
    assert (estimates >= 0).all() and estimates.std() > 0.01
    assert abs(estimates.mean() - exact) < 4 * estimates.std() / len(estimates) ** 0.5
    one = gaussian_fourier(x, y, omega=omega(3, 20000, 0))  # many frequencies: one draw is close
    assert_close(one, exact, rtol=0.05, atol=0)


def test_fourier_mmd_is_a_fixed_function_of_x():
    x, y, w = features(m=25, seed=34), features(m=30, seed=35, shift=0.2), omega(6, 32, 1)
    assert gaussian_fourier(x, y, omega=w) == gaussian_fourier(x.clone(), y, omega=w)
    assert gaussian_fourier(y, y, omega=w) == 0


def test_total_variation_by_hand():
    image = torch.rand(2, 3, 5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    down = sum((image[b, :, i + 1, j] - image[b, :, i, j]).square().sum()
               for b in range(2) for i in range(4) for j in range(4)) / (2 * 4 * 4)
    right = sum((image[b, :, i, j + 1] - image[b, :, i, j]).square().sum()
                for b in range(2) for i in range(5) for j in range(3)) / (2 * 5 * 3)
    assert_close(losses.total_variation(image), down + right, rtol=1e-12, atol=0)
    assert losses.total_variation(torch.ones(1, 3, 4, 4)) == 0
