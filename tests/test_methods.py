"""The method registry, fusion weights, and the scale-free style terms."""

import copy

import pytest
import torch
from torch.testing import assert_close

from nst import NSTError, Settings, iter_stylize
from nst.methods import METHOD_NAMES, METHODS, fusion_weights, get_method
from nst.objective import Objective
from nst.stylize import prepare_images


def test_unknown_method_lists_valid_names():
    with pytest.raises(NSTError, match="linear, poly, gaussian, bn"):
        get_method("gram")


def test_fusion_is_a_convex_combination():
    assert fusion_weights("poly", ()) == {"poly": 1.0}
    assert fusion_weights("poly", (("bn", 0.5), ("poly", 0.5))) == {"bn": 0.5, "poly": 0.5}
    assert fusion_weights("poly", (("linear", 1.0), ("gaussian", 3.0))) == {"linear": 0.25, "gaussian": 0.75}


# Every method, and the Gaussian MMD with each of its estimators.
TERMS = [(name, {}) for name in METHOD_NAMES] + [("gaussian", {"gaussian_estimator": "pairs", "gaussian_pairs": 20000})]


def build(name, y, options):
    return METHODS[name].build(y, generator=torch.Generator().manual_seed(5), **options)


@pytest.mark.parametrize("name, options", TERMS)
def test_terms_do_not_change_when_all_activations_are_scaled(name, options):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 50, generator=g, dtype=torch.float64)
    y = torch.rand(8, 70, generator=g, dtype=torch.float64) * 2
    term, scaled_term = build(name, y, options), build(name, y * 300.0, options)
    a = term(x, torch.Generator().manual_seed(1))
    b = scaled_term(x * 300.0, torch.Generator().manual_seed(1))
    assert a > 0
    assert_close(a, b, rtol=1e-9, atol=0)


@pytest.mark.parametrize("name, options", TERMS)
def test_term_is_zero_at_the_target_distribution(name, options):
    y = torch.rand(8, 60, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    value = build(name, y, options)(y[:, torch.randperm(60)], torch.Generator().manual_seed(0))
    assert abs(value.item()) < (0.2 if options else 1e-9)  # the paper's sampled estimate is only unbiased


@pytest.mark.parametrize("name, options", TERMS)
def test_term_is_one_for_a_blank_activation_map(name, options):
    """The scale-free division: every term measures distance in units of "as far as an all-zero map"."""
    y = torch.rand(16, 3000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    value = build(name, y, options)(torch.zeros(16, 40, dtype=torch.float64), torch.Generator().manual_seed(0))
    assert value.item() == pytest.approx(1.0, rel=0.05 if options else 1e-9)


def test_auto_picks_lbfgs_unless_a_term_is_sampled():
    assert Settings(method="poly").optimizer_used() == "lbfgs"
    assert Settings(method="gaussian").optimizer_used() == "lbfgs"  # the Fourier estimator has no sampling noise
    assert Settings(method="gaussian", gaussian_estimator="pairs").optimizer_used() == "adam"
    assert Settings(mix=(("bn", 0.5), ("gaussian", 0.5)), gaussian_estimator="pairs").optimizer_used() == "adam"
    assert Settings(method="gaussian", gaussian_estimator="pairs", optimizer="lbfgs").optimizer_used() == "lbfgs"


def scaled_copy(extractor, s):
    """Every activation × s: first conv weight × s and every bias × s (ReLU and pooling are homogeneous)."""
    model = copy.deepcopy(extractor)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    convs[0].weight.mul_(s)
    for conv in convs:
        conv.bias.mul_(s)
    return model


def test_scaled_copy_scales_every_activation(extractor):
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    a, b = extractor(image, layers), scaled_copy(extractor, 50.0)(image, layers)
    for layer in layers:
        assert a[layer].abs().max() > 0
        assert_close(b[layer] / 50.0, a[layer], rtol=1e-4, atol=1e-5 * a[layer].abs().max().item())


@pytest.mark.parametrize("mix", [((name, 1.0),) for name in METHOD_NAMES] + [(("bn", 0.5), ("poly", 0.5))])
def test_a_run_does_not_change_when_activations_are_scaled(extractor, content_path, style_path, mix):
    # 256 = 2⁸ scales floats exactly, so a scale-free run must be the same to rounding.
    # (255, as for 0–255 inputs, matches too, but L-BFGS amplifies its rounding over steps.)
    settings = Settings(mix=mix, size=32, steps=4, content_weight=1.0)
    runs = [list(iter_stylize(content_path, style_path, settings, extractor=model))
            for model in (extractor, scaled_copy(extractor, 256.0))]
    for a, b in zip(*runs):
        assert a.losses["total"] == pytest.approx(b.losses["total"], rel=1e-5)
    assert_close(runs[0][-1].image, runs[1][-1].image, rtol=0, atol=1e-5)
    assert (runs[0][-1].image - runs[0][0].image).abs().max() > 1e-2  # the run did move the image
    first = next(iter_stylize(content_path, style_path, settings, extractor=scaled_copy(extractor, 255.0)))
    assert first.losses["total"] == pytest.approx(runs[0][0].losses["total"], rel=1e-4)


def test_fusion_objective_weighs_each_method_by_its_stated_weight(extractor, content_path, style_path):
    content, style = prepare_images(content_path, style_path, 32, extractor.device)
    image = torch.rand(content.shape, generator=torch.Generator().manual_seed(3))
    base = Settings(size=32, gamma=2.0)
    fused = Objective(extractor, content, style, base.replace(mix=(("bn", 0.5), ("poly", 0.5))))(image)[0]
    bn = Objective(extractor, content, style, base.replace(method="bn"))(image)[1]
    poly = Objective(extractor, content, style, base.replace(method="poly"))(image)[1]
    assert_close(fused, bn["content"] + 2.0 * (0.5 * bn["bn"] + 0.5 * poly["poly"]) + base.tv_weight * bn["tv"])
