"""nst.explain: the Gram = MMD identity on real and random features, the 2-D playground's
methods each matching what they claim, and the projections and tables of the teaching view."""

import math

import pytest
import torch
from torch.testing import assert_close

from nst import explain, losses
from nst.config import STYLE_LAYERS, Settings
from nst.errors import NSTError
from nst.methods import METHOD_NAMES, get_method


def features(n=6, m=40, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, m, generator=g, dtype=torch.float64) + shift).relu()  # non-negative, like ReLU maps


def rel_err(a, b):
    return abs(a - b) / abs(b)


# --- the identity ----------------------------------------------------------------------

def test_identity_holds_for_unequal_positions():
    x, y = features(n=7, m=150, seed=1), features(n=7, m=90, seed=2, shift=0.4)
    check = explain.identity_check("l", x, y, max_positions=1000)
    assert (check.used_image, check.used_style) == (150, 90)
    # Independent sums: E from explicit normalised Gram matrices, MMD² from the three kernel means.
    g = lambda a: torch.einsum("im,jm->ij", a, a) / a.shape[1]  # noqa: E731
    assert_close(check.gram_loss, float(((g(x) - g(y)) ** 2).sum() / (4 * 7**2)), rtol=1e-12, atol=0)
    k = lambda a, b: (a.T @ b) ** 2  # noqa: E731
    mmd2 = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    assert_close(check.mmd2, float(mmd2), rtol=1e-10, atol=0)
    assert check.constant == 4 * 7**2
    assert rel_err(check.ratio, check.constant) < 1e-5


def test_gram_loss_is_gatys_loss_for_equal_positions():
    x, y = features(n=5, m=64, seed=3), features(n=5, m=64, seed=4, shift=0.2)
    check = explain.identity_check("l", x, y)
    assert_close(check.gram_loss, float(losses.gatys_gram_loss(x, y)), rtol=1e-12, atol=0)


def test_identity_on_a_random_subset_uses_the_same_positions_for_both_sides():
    x, y = features(n=4, m=500, seed=5), features(n=4, m=300, seed=6, shift=0.3)
    check = explain.identity_check("l", x, y, max_positions=64, generator=torch.Generator().manual_seed(1))
    assert (check.positions_image, check.positions_style, check.used_image, check.used_style) == (500, 300, 64, 64)
    assert rel_err(check.ratio, 4 * 4**2) < 1e-5
    full = explain.identity_check("l", x, y, max_positions=10_000)
    assert check.gram_loss != pytest.approx(full.gram_loss, rel=1e-6)  # really a subset


def test_identity_on_real_image_features(extractor, content_path, style_path):
    feats = explain.layer_features(extractor, {"image": content_path, "style": style_path}, size=48)
    assert set(feats) == {"image", "style"}
    checks = explain.identity_checks(feats["image"], feats["style"], max_positions=512)
    assert [c.layer for c in checks] == list(STYLE_LAYERS)
    for c in checks:
        assert c.channels == feats["style"][c.layer].shape[0]
        assert c.positions_image == feats["image"][c.layer].shape[1]
        assert c.gram_loss > 0
        assert rel_err(c.ratio, c.constant) < 1e-5, c
    assert checks[0].used_image == 512 < checks[0].positions_image  # relu1_1 is subsampled
    assert checks[-1].used_image == checks[-1].positions_image  # relu5_1 is not


def test_layer_features_names_the_bad_image(extractor, style_path, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(NSTError, match="^style image"):
        explain.layer_features(extractor, {"content": style_path, "style": bad}, size=32)


def test_layer_features_refuses_an_image_too_thin_for_vgg(extractor, style_path, tmp_path):
    from PIL import Image

    Image.new("RGB", (300, 12), (10, 200, 30)).save(tmp_path / "strip.png")
    with pytest.raises(NSTError, match="result image is 64x3 at size 64: its short edge must be at least 16"):
        explain.layer_features(extractor, {"style": style_path, "result": tmp_path / "strip.png"}, size=64)


# --- the 2-D playground -----------------------------------------------------------------

def run(source, target, method):
    frames = list(explain.toy_descent(source, target, method))
    return frames[-1].points


def test_toy_descent_yields_the_first_steps_then_every_fifth_and_the_end():
    src, tgt = explain.toy_pair("blob", "ring")
    frames = list(explain.toy_descent(src, tgt, "linear", steps=22, every=5))
    assert [f.step for f in frames] == [*range(11), 15, 20, 22]
    assert torch.equal(frames[0].points, src)
    assert frames[-1].loss < frames[0].loss


def test_linear_matches_the_means_and_keeps_the_covariance():
    src, tgt = explain.toy_pair("ring", "blob")
    out = run(src, tgt, "linear")
    assert_close(out.mean(1), tgt.mean(1), atol=0.01, rtol=0)
    assert_close(torch.cov(out), torch.cov(src), atol=1e-5, rtol=1e-4)  # a pure translation
    assert (out.std(1) - tgt.std(1)).abs().max() > 0.2  # the ring's spread is left as it was


def test_bn_matches_per_axis_mean_and_std_but_not_the_correlation():
    src, tgt = explain.toy_pair("ring", "stretched")  # the target is tilted: its axes correlate
    out = run(src, tgt, "bn")
    assert_close(out.mean(1), tgt.mean(1), atol=0.01, rtol=0)
    assert_close(out.std(1, unbiased=False), tgt.std(1, unbiased=False), atol=0.01, rtol=0)
    corr = lambda p: float(torch.corrcoef(p)[0, 1])  # noqa: E731
    assert abs(corr(tgt)) > 0.5 and abs(corr(out) - corr(src)) < 0.05


def test_poly_matches_second_moments_by_one_linear_map():
    src, tgt = explain.toy_pair("ring", "moons")
    out = run(src, tgt, "poly")
    second = lambda p: p @ p.T / p.shape[1]  # noqa: E731
    gap = (second(out) - second(tgt)).norm() / (second(src) - second(tgt)).norm()
    assert gap < 0.01
    assert_close(second(out), second(tgt), rtol=0.02, atol=0)
    # Every point was multiplied by the same 2×2 matrix: out = A · src exactly.
    a = torch.linalg.lstsq(src.T, out.T).solution.T  # (2, 2)
    assert_close(a @ src, out, atol=1e-4, rtol=0)


def test_gaussian_mmd_matches_the_whole_shape_ring_to_blob():
    src, tgt = explain.toy_pair("ring", "blob")
    kernel = losses.gaussian_kernel(0.5)  # fixed bandwidth, independent of the method's own
    before = float(losses.mmd2(src, tgt, kernel))
    gaussian = float(losses.mmd2(run(src, tgt, "gaussian"), tgt, kernel))
    linear = float(losses.mmd2(run(src, tgt, "linear"), tgt, kernel))
    assert gaussian < 0.02 * before
    assert gaussian < 0.1 * linear  # matching the means is not matching the shape


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_lowers_its_own_loss_also_on_drawn_points_around_the_origin(method):
    src, tgt = explain.toy_pair("clusters", "copy")
    frames = list(explain.toy_descent(src, tgt, method))
    assert frames[-1].step == get_method(method).toy.steps
    assert frames[-1].loss < 0.1 * frames[0].loss
    heart = explain.default_drawing()
    drawn = torch.stack([heart[0] - 3, 5 * (heart[1] - 1.5)])
    src, tgt = explain.toy_pair("ring", "drawn", drawn=drawn)  # a tall heart centred near (0, 0)
    frames = list(explain.toy_descent(src, tgt, method))
    assert frames[-1].loss < 0.1 * frames[0].loss


def test_copy_target_is_an_affine_image_of_the_source():
    src, tgt = explain.toy_pair("moons", "copy")
    ones = torch.ones(1, src.shape[1])
    design = torch.cat([src, ones]).T  # (M, 3)
    fit = torch.linalg.lstsq(design, tgt.T).solution  # (3, 2)
    assert_close(design @ fit, tgt.T, atol=1e-4, rtol=0)
    assert not torch.allclose(tgt.mean(1), src.mean(1), atol=0.5)


def test_drawn_points_validate():
    points = explain.drawn_points(torch.tensor([[1, 3.5, 0], [2, 4, -1]], dtype=torch.float64))
    assert points.dtype == torch.float32
    assert_close(points, torch.tensor([[1.0, 3.5, 0.0], [2.0, 4.0, -1.0]]))
    src, tgt = explain.toy_pair("drawn", "ring", drawn=points)
    assert torch.equal(src, points)
    with pytest.raises(NSTError, match=r"point 3 is \(nan, 3\)"):
        explain.drawn_points(torch.tensor([[1, 0, math.nan, 1], [2, 0, 3, 1]]))
    with pytest.raises(NSTError, match=r"point 2 is \(11, 3\).*between -10 and 10"):
        explain.drawn_points(torch.tensor([[1, 11, 0], [2, 3, 0]]))
    with pytest.raises(NSTError, match="between 3 and 1000 points"):
        explain.drawn_points(torch.zeros(2, 2))
    with pytest.raises(NSTError, match="expected a \\(2, K\\) tensor"):
        explain.drawn_points(torch.zeros(3, 5))
    with pytest.raises(NSTError, match="needs points"):
        explain.toy_pair("ring", "drawn")
    with pytest.raises(NSTError, match="between -10 and 10"):
        explain.toy_pair("drawn", "ring", drawn=torch.tensor([[1.0, 20.0, 0.0], [2.0, 3.0, 0.0]]))
    with pytest.raises(NSTError, match="unknown source preset 'copy'"):
        explain.toy_pair("copy", "ring")
    assert explain.drawn_points(explain.default_drawing()).shape == (2, 60)


def test_toy_gaps_and_stats_against_hand_values():
    x = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # points (0, 1) and (2, 1)
    y = torch.tensor([[1.0, 1.0], [0.0, 2.0]])  # points (1, 0) and (1, 2)
    stats = explain.toy_stats(x)
    assert stats == pytest.approx({"mean x": 1, "mean y": 1, "std x": 1, "std y": 0, "E[x²]": 2, "E[xy]": 1,
                                   "E[y²]": 1}, abs=1e-3)  # σ has a floor of 1e-4 here
    gaps = explain.toy_gaps(x, y, sigma2=1.0)
    assert gaps["mean"] == pytest.approx(0, abs=1e-6)
    assert gaps["std"] == pytest.approx(math.sqrt(2), abs=1e-3)  # spreads (1, 0) against (0, 1)
    assert gaps["cov"] == pytest.approx(math.sqrt(2), abs=1e-5)  # diag(1, 0) against diag(0, 1)
    assert gaps["gram"] == pytest.approx(math.sqrt(2), abs=1e-5)
    assert gaps["mmd"] > 0 and explain.toy_gaps(x, x, 1.0)["mmd"] == pytest.approx(0, abs=1e-6)


# --- projections and tables -------------------------------------------------------------

def test_pca_projection_matches_an_eigendecomposition():
    a, b = features(n=5, m=30, seed=7), features(n=5, m=20, seed=8, shift=1.0)
    rows, explained = explain.pca_projection({"a": a, "b": b}, samples=100)  # all columns, no sampling
    assert [r["image"] for r in rows] == ["a"] * 30 + ["b"] * 20
    union = torch.cat([a, b], dim=1)
    eigenvalues = torch.linalg.eigvalsh(torch.cov(union, correction=0)).flip(0)
    assert explained == pytest.approx((eigenvalues[:2] / eigenvalues.sum()).tolist(), rel=1e-9)
    pc = torch.tensor([[r["pc1"], r["pc2"]] for r in rows], dtype=torch.float64)
    assert_close(pc.var(0, unbiased=False), eigenvalues[:2], rtol=1e-9, atol=1e-12)
    assert_close(pc.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-9, rtol=0)


def test_channel_stats_take_the_largest_style_means():
    style, other = features(n=10, m=50, seed=9), features(n=10, m=40, seed=10)
    rows = explain.channel_stats(style, other, labels=("style", "result"), channels=3)
    top = torch.argsort(style.mean(1), descending=True)[:3].tolist()
    assert [r["channel"] for r in rows if r["image"] == "style"] == top
    assert [r["rank"] for r in rows] == [1, 1, 2, 2, 3, 3]
    for r in rows:
        x = style if r["image"] == "style" else other
        assert r["mean"] == pytest.approx(float(x[r["channel"]].mean()), rel=1e-9)
        assert r["std"] == pytest.approx(float(x[r["channel"]].std(unbiased=False)), rel=1e-6)


def test_distance_rows_are_the_methods_scale_free_terms():
    style = {"l1": features(n=4, m=60, seed=11), "l2": features(n=6, m=30, seed=12)}
    content = {"l1": features(n=4, m=50, seed=13, shift=0.5), "l2": features(n=6, m=20, seed=14, shift=0.5)}
    rows = explain.distance_rows(style, {"content": content, "style": style})
    assert [(r["method"], r["layer"]) for r in rows] == [(m, l) for m in METHOD_NAMES for l in ("l1", "l2")]
    # Random parts (Fourier frequencies, slicing directions) come from one generator seeded 0, row by row.
    generator = torch.Generator().manual_seed(0)
    for r in rows:
        method = get_method(r["method"])
        term = method.build(style[r["layer"]], method.options_for(Settings()), generator=generator)
        assert r["content"] == pytest.approx(float(term(content[r["layer"]])), rel=1e-9)
        assert r["style"] == pytest.approx(0, abs=1e-9)  # the Fourier estimate of MMD²(y, y) is exactly 0 too
        assert r["content"] > 0.05
