"""The method registry, fusion weights, and the scale-free style terms."""

import copy
import importlib

import pytest
import torch
from torch.testing import assert_close

from nst import NSTError, Settings, iter_stylize
from nst.methods import METHOD_NAMES, METHODS, fusion_weights, get_method, isolated_registry, register_method
from nst.methods.poly import poly
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
TERMS = [(name, {}) for name in METHOD_NAMES] + [("gaussian", {"estimator": "pairs", "pairs": 20000})]


def build(name, y, options):
    return METHODS[name].build(y, METHODS[name].options(**options), generator=torch.Generator().manual_seed(5))


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
    assert Settings(fusion=(("bn", 0.5), ("gaussian", 0.5)), gaussian_estimator="pairs").optimizer_used() == "adam"
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


@pytest.mark.parametrize("fusion", [((name, 1.0),) for name in METHOD_NAMES] + [(("bn", 0.5), ("poly", 0.5))])
def test_a_run_does_not_change_when_activations_are_scaled(extractor, content_path, style_path, fusion):
    # 256 = 2⁸ scales floats exactly, so a scale-free run must be the same to rounding.
    # (255, as for 0–255 inputs, matches too, but L-BFGS amplifies its rounding over steps.)
    settings = Settings(fusion=fusion, size=32, steps=4, content_weight=1.0)
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
    fused = Objective(extractor, content, style, base.replace(fusion=(("bn", 0.5), ("poly", 0.5))))(image)[0]
    bn = Objective(extractor, content, style, base.replace(method="bn"))(image)[1]
    poly = Objective(extractor, content, style, base.replace(method="poly"))(image)[1]
    assert_close(fused, bn["content"] + 2.0 * (0.5 * bn["bn"] + 0.5 * poly["poly"]) + base.tv_weight * bn["tv"])


# --- one module per distance, typed options -----------------------------------------------

BUILT_IN = {"linear": "LinearOptions", "poly": "PolyOptions", "gaussian": "GaussianOptions", "bn": "BNOptions",
            "swd": "SWDOptions", "meancov": "MeanCovOptions"}


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_distance_has_its_module_and_is_the_registered_one(name):
    module = importlib.import_module(f"nst.methods.{name}")
    method = METHODS[name]
    assert module.METHOD is method and method.name == name
    assert method.options_type is getattr(module, BUILT_IN[name])
    assert method.loss.__module__ == module.__name__ and method.term.__module__ == module.__name__
    assert method.toy is not None and method.default_gamma > 0 and method.mixture
    assert (method.extra_per_pixel > 0) == (name == "gaussian")  # the speed model counts only its pair sums apart


def test_the_registry_lists_the_built_ins_in_the_paper_s_order():
    assert METHOD_NAMES == tuple(METHODS) == tuple(BUILT_IN)


@pytest.mark.parametrize("name, misspelt, message", [
    ("poly", {"cc": 1.0}, "method 'poly' has no option 'cc'; its options: c"),
    ("gaussian", {"estimater": "pairs"}, "method 'gaussian' has no option 'estimater'; its options: estimator, "
                                          "features, pairs"),
    ("swd", {"swd_directions": 4}, "method 'swd' has no option 'swd_directions'; its options: directions"),
    ("linear", {"c": 1.0}, "method 'linear' has no option 'c'; it takes no options"),
])
def test_a_misspelt_option_is_refused_naming_the_method_and_its_options(name, misspelt, message):
    method = METHODS[name]
    for make in (method.options, method.options_type):  # through the method, and the dataclass itself
        with pytest.raises(NSTError) as error:
            make(**misspelt)
        assert str(error.value) == message


def test_options_of_another_method_are_refused():
    with pytest.raises(NSTError, match="method 'gaussian' takes GaussianOptions, got PolyOptions"):
        METHODS["gaussian"].build(torch.rand(3, 5), METHODS["poly"].options(c=1.0))


def test_each_method_reads_its_options_from_the_flat_settings_fields():
    settings = Settings(poly_c=2.5, gaussian_estimator="pairs", gaussian_features=64, gaussian_pairs=100,
                        swd_directions=7)
    assert get_method("poly").options_for(settings) == get_method("poly").options(c=2.5)
    assert get_method("gaussian").options_for(settings) == get_method("gaussian").options(
        estimator="pairs", features=64, pairs=100)
    assert get_method("swd").options_for(settings).directions == 7
    for name in METHOD_NAMES:  # Settings' defaults are the methods' own
        assert METHODS[name].options_for(Settings()) == METHODS[name].options()


def test_the_poly_constant_reaches_the_term():
    """poly's divisor is ‖Ĝ_S‖²/N², Ĝ_S the second moment of [y; √c·1ᵀ]."""
    y, x = torch.rand(4, 30, dtype=torch.float64), torch.rand(4, 20, dtype=torch.float64)
    lifted = torch.cat([y, torch.full((1, 30), 1.5**0.5, dtype=torch.float64)])  # (5, 30)
    divisor = (lifted @ lifted.T / 30).square().sum() / 4**2
    term = METHODS["poly"].build(y, METHODS["poly"].options(c=1.5))
    assert_close(term(x), poly(x, y, 1.5) / divisor, rtol=1e-12, atol=0)
    assert abs(term(x) / METHODS["poly"].build(y)(x) - 1) > 0.01


# --- a distance of one's own ---------------------------------------------------------------

def energy_brute(x, y):
    """E‖x − y‖ − ½E‖x − x'‖ − ½E‖y − y'‖ over every pair of columns, by broadcasting."""
    def mean_distance(a, b):
        # (C, Ma, Mb) → (Ma, Mb); the floor keeps the gradient at a zero distance (a point and itself) 0, not NaN
        return (a[:, :, None] - b[:, None, :]).square().sum(0).clamp_min(1e-300).sqrt().mean()

    return mean_distance(x, y) - (mean_distance(x, x) + mean_distance(y, y)) / 2


def test_the_example_s_energy_distance_is_the_brute_force_one(energy):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(6, 40, generator=g, dtype=torch.float64), torch.rand(6, 70, generator=g, dtype=torch.float64)
    assert_close(energy["energy"](x, y), energy_brute(x, y), rtol=1e-6, atol=1e-9)
    assert energy["energy"](y, y).abs() < 1e-6 and energy["energy"](x, y) > 0.01
    big = torch.rand(6, 3000, generator=g)  # above POSITIONS: the same subsample at every call
    assert energy["energy"](big, y.float()) == energy["energy"](big.clone(), y.float())


def test_a_registered_term_is_its_loss_divided_by_the_loss_of_a_blank_map(energy):
    g = torch.Generator().manual_seed(1)
    y = torch.rand(6, 70, generator=g, dtype=torch.float64)
    term = get_method("energy").build(y)
    for m in (30, 45):  # one divisor per image size, each for a blank map of that size
        x = torch.rand(6, m, generator=g, dtype=torch.float64, requires_grad=True)
        blank = torch.zeros(6, m, dtype=torch.float64)
        assert_close(term(x), energy_brute(x, y) / energy_brute(blank, y), rtol=1e-6, atol=0)
        assert term(blank).item() == 1.0
        term(x).backward()  # the divisor is a constant: the gradient is the loss's, divided
        expected = torch.autograd.grad(energy_brute(x, y), x)[0] / energy_brute(blank, y)
        assert_close(x.grad, expected, rtol=1e-5, atol=1e-12)
    scaled = get_method("energy").build(y * 300.0)  # scale-free like the built-ins
    assert_close(scaled(x.detach() * 300.0), term(x.detach()), rtol=1e-6, atol=0)


def test_a_registered_plain_loss_equals_the_built_in_term_of_the_same_distance():
    """‖μ_x − μ_y‖² registered as a plain loss is the linear term: same division, same numbers."""
    g = torch.Generator().manual_seed(2)
    y, x = torch.rand(5, 60, generator=g, dtype=torch.float64), torch.rand(5, 25, generator=g, dtype=torch.float64)
    with isolated_registry():
        means = register_method("means", lambda a, b: (a.mean(1) - b.mean(1)).square().sum(), gamma=5.0,
                                doc="channel means")
        assert_close(means.build(y)(x), METHODS["linear"].build(y)(x), rtol=1e-12, atol=0)
        assert means.title == "means" and means.matches == "channel means" and not means.mixture
    assert "means" not in METHODS  # gone after the block


def test_a_loss_that_does_not_return_a_scalar_is_told():
    with isolated_registry():
        register_method("rows", lambda a, b: a.mean(1) - b.mean(1), gamma=1.0, doc="not a distance")
        with pytest.raises(NSTError, match="method 'rows': its loss must return a 0-d tensor, got \\(4,\\)"):
            get_method("rows").build(torch.rand(4, 9))(torch.rand(4, 9))


@pytest.mark.parametrize("name, loss, gamma, message", [
    ("poly", lambda a, b: a.sum(), 1.0, "method 'poly' is already registered; choose another name"),
    ("energy", lambda a, b: a.sum(), 1.0, "method 'energy' is already registered; choose another name"),
    ("content", lambda a, b: a.sum(), 1.0, "'content' names a loss term of every run, not a method"),
    ("a=b", lambda a, b: a.sum(), 1.0, "a method name is a letter followed by letters, digits, _ or -, got 'a=b'"),
    ("mine", "not a function", 1.0, "method 'mine': loss must be a function loss(x, y), got str"),
    ("mine", lambda a, b: a.sum(), 0.0, "method 'mine': gamma must be a positive finite number, got 0.0"),
    ("mine", lambda a, b: a.sum(), float("nan"), "method 'mine': gamma must be a positive finite number, got nan"),
    ("mine", lambda a, b: a.sum(), "5", "method 'mine': gamma must be a positive finite number, got '5'"),
])
def test_registering_a_taken_name_or_bad_arguments_is_refused(energy, name, loss, gamma, message):
    before = dict(METHODS)
    with pytest.raises(NSTError) as error:
        register_method(name, loss, gamma=gamma, doc="x")
    assert str(error.value).startswith(message)
    assert METHODS == before


def test_a_registered_method_works_in_settings_a_fusion_and_the_run(energy, extractor, content_path, style_path):
    gamma = METHODS["energy"].default_gamma
    assert 0 < gamma and Settings(method="energy").gamma_used() == gamma  # its gamma is the default γ
    fused = Settings(fusion=(("energy", 0.5), ("poly", 0.5)), size=32, steps=4)
    assert fused.gamma_used() == (gamma + METHODS["poly"].default_gamma) / 2
    assert fused.optimizer_used() == "lbfgs"
    steps = list(iter_stylize(content_path, style_path, fused, extractor=extractor))
    assert set(steps[-1].losses) == {"content", "energy", "poly", "tv", "total"}
    assert steps[-1].losses["energy"] < 0.9 * steps[0].losses["energy"]
    content, style = prepare_images(content_path, style_path, 32, extractor.device)
    image = torch.rand(content.shape, generator=torch.Generator().manual_seed(3))
    total, terms = Objective(extractor, content, style, fused.replace(gamma=2.0))(image)
    alone = Objective(extractor, content, style, fused.replace(gamma=2.0, fusion=(), method="energy"))(image)[1]
    assert_close(terms["energy"], alone["energy"])
    assert_close(total, terms["content"] + 2.0 * (0.5 * terms["energy"] + 0.5 * terms["poly"]) + 0.01 * terms["tv"])


def test_a_plain_loss_cannot_target_a_mixture_of_paintings(energy, extractor, content_path, style_path):
    message = ("method 'energy' is a plain two-argument loss: it cannot target a mixture of paintings; "
               "use style_blend 'sum' (--blend sum) or one painting")
    other = style_path.parent / "the_scream.jpg"
    with pytest.raises(NSTError) as error:
        next(iter_stylize(content_path, [style_path, other], Settings(method="energy", size=32, steps=1),
                          extractor=extractor))
    assert str(error.value) == message
    with pytest.raises(NSTError, match="cannot target a mixture"):
        get_method("energy").build(torch.rand(3, 4), weights=torch.full((4,), 0.25))
    summed = Settings(method="energy", size=32, steps=2, style_blend="sum")
    steps = list(iter_stylize(content_path, [style_path, other], summed, extractor=extractor))
    assert steps[-1].losses["energy"] < steps[0].losses["energy"]
