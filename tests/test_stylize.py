"""The optimisation loop with the seeded random extractor on small images."""

import copy

import numpy as np
import pytest
import torch

from nst import NSTError, Settings, iter_stylize, stylize
from nst.methods import METHOD_NAMES


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_short_run_lowers_the_loss(extractor, content_path, style_path, method, optimizer):
    # Many Gaussian pairs keep the sampled estimate's noise well below the decrease tested.
    settings = Settings(method=method, optimizer=optimizer, size=48, steps=12, gaussian_pairs=4096)
    steps = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    first, last = steps[0].losses, steps[-1].losses
    assert last["total"] < 0.7 * first["total"]
    assert last[method] < 0.7 * first[method]
    assert first["content"] == 0.0 and last["content"] > 0  # started at the content photo and moved


def test_steps_stream_images_of_the_output_size(extractor, content_path, style_path):
    steps = list(iter_stylize(content_path, style_path, Settings(size=40, steps=3), extractor=extractor))
    assert [s.step for s in steps] == [1, 2, 3] and all(s.steps == 3 for s in steps)
    assert steps[-1].image.shape == (1, 3, 27, 40)  # chelsea_cat is 451x300
    assert steps[-1].pil().size == (40, 27)
    assert steps[0].elapsed <= steps[-1].elapsed


def test_style_reconstruction_from_noise_has_no_content_term(extractor, content_path, style_path):
    settings = Settings(method="bn", content_weight=0.0, init="noise", size=32, steps=6,
                        style_layers=("relu1_1", "relu2_1"))
    steps = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    assert "content" not in steps[0].losses
    assert steps[-1].losses["bn"] < steps[0].losses["bn"]


def test_same_seed_gives_the_same_image(extractor, content_path, style_path):
    settings = Settings(method="gaussian", init="noise", size=32, steps=3, seed=5)
    a = stylize(content_path, style_path, settings, extractor=extractor, progress=False)
    b = stylize(content_path, style_path, settings, extractor=extractor, progress=False)
    c = stylize(content_path, style_path, settings.replace(seed=6), extractor=extractor, progress=False)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


def test_result_records_history_and_provenance(extractor, content_path, style_path):
    result = stylize(content_path, style_path, Settings(size=32, steps=4), extractor=extractor, progress=False)
    assert set(result.history) == {"content", "poly", "tv", "total"}
    assert all(len(v) == 4 for v in result.history.values())
    assert result.device == "cpu" and result.weights.startswith("random")


def test_bf16_precision_runs(extractor, content_path, style_path):
    steps = list(iter_stylize(content_path, style_path, Settings(size=32, steps=4, precision="bf16"),
                              extractor=extractor))
    assert torch.isfinite(steps[-1].image).all()
    assert steps[-1].losses["total"] < steps[0].losses["total"]


def test_style_init_starts_from_the_painting(extractor, content_path, style_path):
    step = next(iter_stylize(content_path, style_path, Settings(size=32, steps=1, init="style", lr=1e-6),
                             extractor=extractor))
    assert step.losses["content"] > 0.05


def test_a_bad_image_fails_before_any_work(extractor, tmp_path, style_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(NSTError, match="content image: not a readable image file"):
        next(iter_stylize(bad, style_path, Settings(size=32, steps=1), extractor=extractor))


def test_a_non_finite_loss_stops_with_a_clear_error(extractor, content_path, style_path):
    broken = copy.deepcopy(extractor)
    broken.features[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(NSTError, match="stopped being finite at step 1"):
        list(iter_stylize(content_path, style_path, Settings(size=32, steps=3), extractor=broken))


def test_an_image_too_thin_for_vgg_is_refused(extractor, tmp_path, style_path):
    from PIL import Image

    Image.new("RGB", (200, 10), (90, 120, 30)).save(tmp_path / "strip.png")
    with pytest.raises(NSTError, match="content image is 64x3 at size 64: its short edge must be at least 16"):
        next(iter_stylize(tmp_path / "strip.png", style_path, Settings(size=64, steps=1), extractor=extractor))


def test_coarse_to_fine_goes_through_each_scale_and_ends_at_full_size(extractor, content_path, style_path):
    settings = Settings(size=64, steps=7, scales=2, style_layers=("relu1_1", "relu2_1"))
    assert settings.scale_plan() == ((32, 5), (64, 2))  # each finer scale: half the steps of the one before
    steps = list(iter_stylize(content_path, style_path, settings, extractor=extractor))
    assert [s.step for s in steps] == list(range(1, 8)) and {s.steps for s in steps} == {7}
    assert [max(s.image.shape[-2:]) for s in steps] == [32] * 5 + [64] * 2
    coarse, fine = steps[4].image, steps[5].image
    upsampled = torch.nn.functional.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
    assert (fine - upsampled).abs().mean() < 0.05  # the fine scale starts from the coarse result


@pytest.mark.parametrize("steps, scales, plan", [(100, 3, ((128, 58), (256, 28), (512, 14))),
                                                 (3, 3, ((128, 1), (256, 1), (512, 1))),
                                                 (300, 1, ((512, 300),))])
def test_the_scale_plan_shares_every_step(steps, scales, plan):
    assert Settings(size=512, steps=steps, scales=scales).scale_plan() == plan


def test_too_many_scales_for_the_size_or_the_steps_are_refused():
    with pytest.raises(NSTError, match="3 scales need a size of at least 64 px and at least 3 steps"):
        Settings(size=48, scales=3)
    with pytest.raises(NSTError, match="3 scales need"):
        Settings(steps=2, scales=3)
