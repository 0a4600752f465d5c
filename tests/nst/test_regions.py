"""Regions (`nst.regions`, `Objective(..., regions)`, `iter_stylize(mask=...)`): reading a
mask, resizing it per layer, and each region matched to its own painting."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from nst import NSTError, Settings, iter_stylize
from nst.images import load_image
from nst.methods import METHOD_NAMES
from nst.objective import Objective, feature_matrix
from nst.regions import PALETTE, check_labels, fit_labels, labels_from_rgb, layer_regions, palette_hex, read_mask
from nst.stylize import prepare_images

CORNERS = list(itertools.product((0, 255), repeat=3))


def _nearest_corner_label(pixel: np.ndarray) -> int:
    """Brute force: the label of the RGB cube's corner nearest to `pixel` (0 for black and white)."""
    corner = min(CORNERS, key=lambda c: float(np.sum((pixel.astype(float) - c) ** 2)))
    return next((k for k, (_, rgb) in enumerate(PALETTE, start=1) if rgb == corner), 0)


def test_each_pixel_takes_the_label_of_its_nearest_cube_corner():
    pixels = np.random.default_rng(0).integers(0, 256, size=(1, 500, 3), dtype=np.uint8)
    expected = [_nearest_corner_label(p) for p in pixels[0]]
    assert labels_from_rgb(pixels)[0].tolist() == expected
    assert len(set(expected)) == 7  # every painting and "none" occurred


def test_palette_colours_are_paintings_one_to_six_and_black_and_white_none():
    colours = np.array([[rgb for _, rgb in PALETTE] + [(0, 0, 0), (255, 255, 255)]], dtype=np.uint8)
    assert labels_from_rgb(colours)[0].tolist() == [1, 2, 3, 4, 5, 6, 0, 0]
    assert palette_hex(2) == ["#ff0000", "#00ff00"]


def test_a_mask_file_reads_transparent_as_no_painting(tmp_path):
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[:, :2] = (255, 0, 0, 255)  # opaque red: painting 1
    rgba[:, 2:4] = (0, 0, 255, 200)  # mostly opaque blue (a stroke's soft edge): painting 3
    rgba[:, 4:] = (0, 255, 0, 40)  # nearly transparent green: no painting
    Image.fromarray(rgba, "RGBA").save(tmp_path / "mask.png")
    assert read_mask(tmp_path / "mask.png").tolist() == [[1, 1, 3, 3, 0, 0]] * 4


@pytest.mark.parametrize("labels, paintings, message", [
    (torch.zeros(3, 3, dtype=torch.long), 2, "paints no region: paint with red for painting 1, green for painting 2"),
    (torch.tensor([[1, 3]]), 2, "paints a region blue, for painting 3, but only 2 paintings were given"),
    (torch.tensor([[2, 0]]), 1, "paints a region green, for painting 2, but only 1 painting was given"),
])
def test_masks_that_cannot_apply_are_refused_in_one_line(labels, paintings, message):
    with pytest.raises(NSTError, match=message):
        check_labels(labels, paintings)


def test_labels_are_resized_by_nearest_neighbour_and_a_foreign_shape_is_refused():
    labels = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert fit_labels(labels, (4, 6)).tolist() == np.kron(labels.numpy(), np.ones((2, 2), int)).tolist()
    with pytest.raises(NSTError, match="the mask is 3x2 but the photo is 6x6"):
        fit_labels(labels, (6, 6))


@pytest.mark.parametrize("image_shape, layer_shape", [((8, 8), (2, 2)), ((7, 10), (3, 4))])
def test_a_layer_position_takes_the_label_covering_most_of_its_pixels(image_shape, layer_shape):
    """Brute force over adaptive pooling's bins, rows [⌊iH/h⌋, ⌈(i+1)H/h⌉); ties go to the lower label."""
    labels = torch.from_numpy(np.random.default_rng(1).integers(0, 3, size=image_shape))
    (H, W), (h, w) = image_shape, layer_shape
    expected = {0: [], 1: []}
    for i, j in itertools.product(range(h), range(w)):
        block = labels[i * H // h: math.ceil((i + 1) * H / h), j * W // w: math.ceil((j + 1) * W / w)]
        counts = [int((block == k).sum()) for k in range(3)]
        winner = counts.index(max(counts))
        if winner:
            expected[winner - 1].append(i * w + j)
    found = layer_regions(labels, layer_shape, paintings=2)
    assert {k: v.tolist() for k, v in found.items()} == {k: v for k, v in expected.items() if v}


@pytest.fixture(scope="module")
def images(extractor, examples):
    return prepare_images(examples / "content" / "chelsea_cat.jpg", examples / "style" / "starry_night.jpg", 48,
                          extractor.device)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_one_region_mask_is_exactly_the_unmasked_objective(extractor, images, method):
    content, style = images
    settings = Settings(method=method, size=48)
    everywhere = torch.ones(content.shape[-2:], dtype=torch.long)
    x = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)
    values = []
    for objective in (Objective(extractor, content, style, settings),
                      Objective(extractor, content, style, settings, everywhere)):
        image = x.clone().requires_grad_(True)
        total, _ = objective(image, torch.Generator().manual_seed(3))
        total.backward()
        values.append((total.detach(), image.grad))
    assert_close(values[1][0], values[0][0], rtol=0, atol=0)
    assert_close(values[1][1], values[0][1], rtol=0, atol=0)


def test_each_region_is_weighed_by_its_share_of_the_positions(extractor, images):
    """Linear MMD, left third painting 1, the rest none: (M_r / M) ‖μ(x_r) − μ_y‖² / ‖μ_y‖², from the formula."""
    content, style = images
    labels = torch.zeros(content.shape[-2:], dtype=torch.long)
    labels[:, : labels.shape[1] // 3] = 1
    objective = Objective(extractor, content, style, Settings(method="linear", style_layers=("relu2_1",)), labels)
    x = feature_matrix(extractor(content.flip(-1), {"relu2_1"})["relu2_1"])  # (N, M)
    h, w = extractor(content, {"relu2_1"})["relu2_1"].shape[-2:]
    inside = torch.zeros(h, w, dtype=torch.bool)
    inside[:, : w // 3] = True  # the layer is half the image's 48 x 32: a third is 8 of its 24 columns
    inside = inside.flatten()
    mu_y = feature_matrix(extractor(style, {"relu2_1"})["relu2_1"]).mean(dim=1)
    expected = inside.float().mean() * (x[:, inside].mean(dim=1) - mu_y).square().sum() / mu_y.square().sum()
    assert_close(objective.terms["linear"]["relu2_1"](x), expected, rtol=1e-5, atol=0)


def test_positions_of_no_painting_feel_no_style_gradient(extractor, images):
    content, style = images
    labels = torch.zeros(content.shape[-2:], dtype=torch.long)
    labels[:, : labels.shape[1] // 2] = 1
    objective = Objective(extractor, content, style, Settings(method="poly"), labels)
    x = feature_matrix(extractor(content, {"relu3_1"})["relu3_1"]).clone().requires_grad_(True)
    objective.terms["poly"]["relu3_1"](x).backward()
    h, w = extractor(content, {"relu3_1"})["relu3_1"].shape[-2:]
    columns = x.grad.reshape(-1, h, w).abs().sum(dim=0)  # (h, w)
    assert bool((columns[:, w // 2:] == 0).all())
    assert bool((columns[:, : w // 2] > 0).all())


def test_a_run_with_a_mask_of_one_painting_everywhere_is_the_plain_run(extractor, content_path, style_path,
                                                                      tmp_path):
    w, h = load_image(content_path).size
    Image.new("RGB", (w, h), PALETTE[0][1]).save(tmp_path / "red.png")
    settings = Settings(size=48, steps=3)
    plain = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    masked = list(iter_stylize(content_path, style_path, settings, mask=tmp_path / "red.png", extractor=extractor))
    assert_close(masked[-1].image, plain[-1].image, rtol=0, atol=0)


def test_bad_masks_are_refused_before_the_run(extractor, content_path, style_path, tmp_path):
    w, h = load_image(content_path).size
    Image.new("RGB", (w, h), PALETTE[2][1]).save(tmp_path / "blue.png")
    Image.new("RGB", (h, w), PALETTE[0][1]).save(tmp_path / "turned.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    for mask, message in [("blue.png", "for painting 3, but only 1 painting was given"),
                          ("turned.png", f"the mask is {h}x{w} but the photo is"),
                          ("broken.png", "mask: not a readable image file")]:
        with pytest.raises(NSTError, match=message):
            next(iter_stylize(content_path, style_path, Settings(size=48, steps=1), mask=tmp_path / mask,
                              extractor=extractor))


def test_each_finer_scale_starts_from_the_photo_where_no_painting_governs(extractor, content_path, style_path,
                                                                         tmp_path):
    """Adam with the smallest learning rate barely moves the image, so the fine scale's first image
    shows its start: the photo outside the painted left half, the coarse result carried up inside it."""
    w, h = load_image(content_path).size
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[:, : w // 2] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "left.png")
    settings = Settings(size=64, steps=4, scales=2, optimizer="adam", lr=1e-6, init="noise")
    steps = list(iter_stylize(content_path, style_path, settings, mask=tmp_path / "left.png", extractor=extractor))
    fine_start, photo = steps[2].image, prepare_images(content_path, style_path, 64, extractor.device)[0]
    gap = (fine_start - photo).abs().mean(dim=(0, 1, 2))  # per column
    assert float(gap[32:].max()) < 1e-4  # unpainted: the photo
    assert float(gap[:32].mean()) > 0.05  # painted: the coarse result (from noise), not the photo


def test_a_registered_method_matches_each_region_to_its_painting(extractor, images, energy):
    """A plain loss under a mask: (M_r / M) · loss(x_r, y) / loss(0_r, y) for the left third, from the formula."""
    content, style = images
    labels = torch.zeros(content.shape[-2:], dtype=torch.long)
    labels[:, : labels.shape[1] // 3] = 1
    objective = Objective(extractor, content, style, Settings(method="energy", style_layers=("relu2_1",)), labels)
    x = feature_matrix(extractor(content.flip(-1), {"relu2_1"})["relu2_1"]).double()  # (N, M)
    y = feature_matrix(extractor(style, {"relu2_1"})["relu2_1"]).double()
    h, w = extractor(content, {"relu2_1"})["relu2_1"].shape[-2:]
    inside = torch.zeros(h, w, dtype=torch.bool)
    inside[:, : w // 3] = True
    inside = inside.flatten()
    loss = energy["energy"]
    expected = inside.float().mean() * loss(x[:, inside], y) / loss(torch.zeros_like(x[:, inside]), y)
    assert_close(objective.terms["energy"]["relu2_1"](x.float()).double(), expected, rtol=1e-4, atol=0)


def test_a_registered_method_runs_with_a_mask_of_two_paintings(extractor, energy, examples):
    """With a mask each painting has its own term, so a plain loss needs no mixture: no refusal."""
    paintings = [examples / "style" / "starry_night.jpg", examples / "style" / "the_scream.jpg"]
    steps = list(iter_stylize(examples / "content" / "chelsea_cat.jpg", paintings,
                              Settings(method="energy", size=40, steps=3), mask=examples / "masks" /
                              "chelsea_cat_thirds.png", extractor=extractor))
    assert steps[-1].losses["energy"] < steps[0].losses["energy"]
    assert steps[-1].image.shape[-2:] == (27, 40)
