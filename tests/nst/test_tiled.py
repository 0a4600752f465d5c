"""nst.tiled: a scale optimised in tiles, with the seeded random extractor on small images.

The real halo (64 px) would make every crop of these small images the whole image, so the
tests that need crops smaller than the image take a halo of 16 px (`small_halo`)."""

import time

import numpy as np
import pytest
import torch
from PIL import Image

import nst.budget
from nst import Settings, iter_stylize, stylize
from nst.budget import ScaleLayout, step_bytes_per_pixel
from nst.colors import rgb_to_yiq
from nst.images import load_tensor
from nst.methods import METHOD_NAMES, fusion_weights
from nst.objective import Objective, StyleTargets
from nst.request import Request
from nst.seams import seam_ratio
from nst.tiled import optimise_tiled
from nst.tiles import grid_borders

LAYERS = ("relu1_1", "relu2_1", "relu3_1")
# Whole-image float32 RGB tensors a tiled scale keeps (`nst.budget`).
TILED_IMAGE_BYTES = 8 * 12


@pytest.fixture
def small_halo(monkeypatch):
    monkeypatch.setattr(nst.budget, "HALO", 16)
    return 16


def _budget_gb(settings: Settings, height: int, width: int, core: int, halo: int) -> float:
    """The memory budget whose tiles have cores of `core` px for an image of `height` × `width`."""
    per_pixel = step_bytes_per_pixel(fusion_weights(settings.method, settings.fusion))
    return (height * width * TILED_IMAGE_BYTES + (core + 2 * halo + 1) ** 2 * per_pixel) / 1e9


def _tiled_settings(height: int, width: int, core: int, halo: int, **changes) -> Settings:
    """Settings whose run at `height` × `width` goes in tiles of `core` px; the painting at half the
    output's size, so that its features fit these small budgets."""
    settings = Settings(size=max(height, width), style_layers=LAYERS, style_scale=0.5, **changes)
    return settings.replace(memory_budget_gb=_budget_gb(settings, height, width, core, halo))


def test_one_tile_that_covers_the_image_is_the_untiled_adam_run(extractor, content_path, style_path):
    settings = Settings(size=48, steps=3, optimizer="adam", style_layers=LAYERS)
    untiled = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    request = Request(content_path, style_path, settings)
    photo, paintings, _ = request.at(48)
    targets = StyleTargets(extractor, paintings, settings, masked=False)
    layout = ScaleLayout(*photo.shape[-2:], tile=48, halo=64)
    tiled = list(optimise_tiled(extractor, targets, photo, None, photo.clone(), settings, layout, done=0, count=3,
                                start=time.perf_counter(), show=lambda x: x))
    assert [(s.step, s.tile, s.tiles) for s in tiled] == [(1, 1, 1), (2, 1, 1), (3, 1, 1)]
    for whole, tile in zip(untiled, tiled):
        assert whole.losses == tile.losses
        assert torch.equal(whole.image, tile.image)


def test_a_tiled_run_streams_every_tile_and_its_cores_move_between_steps(extractor, content_path, style_path,
                                                                         small_halo):
    settings = _tiled_settings(85, 128, 48, small_halo, steps=3)
    request = Request(content_path, style_path, settings)
    (layout,) = request.layouts("cpu")
    assert layout.tiled and layout.tile == 48 and layout.halo == small_halo
    steps = list(iter_stylize(request, extractor=extractor))
    by_step = {}
    for s in steps:
        by_step.setdefault(s.step, []).append(s)
        assert (s.scale, s.scales, s.steps) == (1, 1, 3)
    assert sorted(by_step) == [1, 2, 3]
    borders = []
    for n, tiles in by_step.items():
        assert [s.tile for s in tiles] == list(range(1, len(tiles) + 1)) and {s.tiles for s in tiles} == {len(tiles)}
        assert len(tiles) >= 4 and [s.complete for s in tiles] == [False] * (len(tiles) - 1) + [True]
        covered = torch.zeros(85, 128, dtype=torch.int64)
        for s in tiles:
            top, left, bottom, right = s.box
            covered[top:bottom, left:right] += 1
        assert torch.equal(covered, torch.ones_like(covered))  # each pixel updated once per step
        borders.append(grid_borders([type("T", (), {"core": s.box})() for s in tiles]))
    assert borders[0] != borders[1] or borders[1] != borders[2]
    photo = load_tensor(content_path, 128)
    assert (steps[-1].image - photo).abs().mean() > 0.01  # the image moved


def test_stopping_inside_a_tiled_step_keeps_the_last_full_image(extractor, content_path, style_path, small_halo):
    settings = _tiled_settings(85, 128, 48, small_halo, steps=3)
    run = iter_stylize(content_path, style_path, settings, extractor=extractor)
    seen = []
    for step in run:
        seen.append(step)
        if step.step == 2 and step.tile == 2:
            run.close()  # what the app's Stop and a closed tab do
    first_done = next(s for s in seen if s.step == 1 and s.complete)
    assert seen[-1].image is first_done.image and not seen[-1].complete


def test_the_tile_borders_of_a_tiled_run_leave_no_seam(extractor, content_path, style_path, small_halo, figures):
    settings = _tiled_settings(128, 192, 64, small_halo, steps=4, optimizer="adam")
    steps = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    last = [s for s in steps if s.step == 4]
    assert len(last) >= 4
    rows, cols = grid_borders([type("T", (), {"core": s.box})() for s in last])
    ratio = seam_ratio(last[-1].image, rows, cols)
    figures.add("tiles", f"seam ratio of a 192 px tiled run (random VGG-19), 4 steps, {len(last)} tiles: {ratio:.3f}")
    assert ratio <= 1.2


def _texture(rgb: tuple[float, float, float], seed: int) -> Image.Image:
    noise = np.random.default_rng(seed).uniform(-0.15, 0.15, (64, 64, 3))
    return Image.fromarray((np.clip(np.array(rgb) + noise, 0, 1) * 255).astype(np.uint8))


def test_each_region_takes_its_painting_when_tiles_cut_across_the_mask(extractor, small_halo):
    photo = Image.new("RGB", (128, 96), (128, 128, 128))
    mask = np.zeros((96, 128, 3), dtype=np.uint8)
    mask[:, :64] = (255, 0, 0)  # painting 1 on the left, painting 2 on the right
    mask[:, 64:] = (0, 255, 0)
    paintings = [_texture((0.8, 0.2, 0.2), 0), _texture((0.2, 0.2, 0.8), 1)]
    settings = _tiled_settings(96, 128, 48, small_halo, steps=3, method="bn", optimizer="adam", lr=0.1)
    request = Request(photo, paintings, settings, mask=Image.fromarray(mask))
    (layout,) = request.layouts("cpu")
    assert layout.tiled and layout.tile < 64  # cores smaller than a region: crops hold both or one
    image = stylize(request, extractor=extractor, progress=False).image
    result = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)
    left, right = result[:, 8:56].mean(dim=(0, 1)), result[:, 72:120].mean(dim=(0, 1))  # (R, G, B)
    # Each half pulled towards its own painting: the right bluer than the grey photo, the left redder than the right.
    assert right[2] - right[0] > 0.05 and (left[0] - left[2]) - (right[0] - right[2]) > 0.05


@pytest.mark.parametrize("method, fusion, colors", [*((m, (), "style") for m in METHOD_NAMES),
                                                 ("poly", (("bn", 0.5), ("poly", 0.5)), "luminance"),
                                                 ("linear", (), "match")])
def test_every_method_fusion_and_colour_mode_runs_tiled(extractor, content_path, style_path, other_style_path,
                                                        small_halo, method, fusion, colors):
    settings = _tiled_settings(64, 96, 32, small_halo, steps=2, method=method, fusion=fusion, colors=colors)
    result = stylize(content_path, [style_path, other_style_path], settings, extractor=extractor, progress=False)
    assert result.record.tiles[0][0] == 32 and result.record.tiles[0][2] >= 4
    assert all(len(v) == 2 and np.isfinite(v).all() for v in result.history.values())
    image = torch.from_numpy(np.asarray(result.image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    photo = load_tensor(content_path, 96)
    assert (image - photo).abs().mean() > 0.005
    if colors == "luminance":  # the photo's chroma, as without tiles
        inside = ((image > 1 / 255) & (image < 254 / 255)).all(dim=1, keepdim=True)
        assert ((rgb_to_yiq(image)[:, 1:] - rgb_to_yiq(photo)[:, 1:]).abs() * inside).max() < 3 / 255


def test_the_photos_pass_for_its_content_target_stops_at_relu4_2(extractor, content_path, style_path):
    # Every tile of every tiled step makes this pass; the style layers past relu4_2 are the image's alone.
    settings = Settings(size=64, steps=1)
    photo, painting = load_tensor(content_path, 64), load_tensor(style_path, 64)
    targets = StyleTargets(extractor, [painting], settings, masked=False)
    reached = []
    hook = extractor.features[-1].register_forward_hook(lambda *_: reached.append(True))  # relu5_1
    try:
        objective = Objective(extractor, photo, targets, settings)
        assert not reached
        objective(photo.clone())
        assert reached  # the image's pass goes on to relu5_1 for its style terms
    finally:
        hook.remove()
    full = extractor(photo, ["relu4_2", "relu5_1"])["relu4_2"]
    assert torch.equal(objective.target, full)
