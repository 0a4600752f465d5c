"""The CUDA path. Skipped where no GPU is present (CI has none); run on a GPU machine."""

import numpy as np
import pytest
import torch

from nst import Request, Settings, iter_stylize, random_extractor, read_recipe, save_with_recipe, stylize
from nst.methods import METHOD_NAMES
from nst.objective import Objective
from nst.recipe import recipe_of
from nst.stylize import prepare_images

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.fixture(scope="module")
def cuda_extractor():
    return random_extractor(0).to("cuda")


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_objective_agrees_with_the_cpu(extractor, cuda_extractor, content_path, style_path, method):
    settings = Settings(method=method, size=64, gaussian_pairs=512)
    values = []
    for model in (extractor, cuda_extractor):
        content, style = prepare_images(content_path, style_path, 64, model.device)
        image = torch.rand(content.shape, generator=torch.Generator().manual_seed(0)).to(model.device)
        _, terms = Objective(model, content, style, settings)(image, torch.Generator().manual_seed(1))
        values.append({k: v.item() for k, v in terms.items()})
    for name in values[0]:
        assert values[1][name] == pytest.approx(values[0][name], rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_cuda_run_lowers_the_loss(cuda_extractor, content_path, style_path, precision):
    steps = list(iter_stylize(content_path, style_path, Settings(size=128, steps=20, precision=precision),
                              extractor=cuda_extractor))
    assert steps[-1].image.is_cuda and torch.isfinite(steps[-1].image).all()
    assert steps[-1].losses["total"] < 0.7 * steps[0].losses["total"]


def test_same_seed_same_image_on_cuda(cuda_extractor, content_path, style_path):
    settings = Settings(method="gaussian", init="noise", size=96, steps=5, seed=3)
    a, b = (stylize(content_path, style_path, settings, extractor=cuda_extractor, progress=False) for _ in "ab")
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_the_same_recipe_gives_the_same_png_on_cuda(cuda_extractor, content_path, style_path, tmp_path):
    first = Request(content_path, style_path, Settings(method="gaussian", init="noise", size=96, steps=5, seed=3))
    result = stylize(first, extractor=cuda_extractor, progress=False)
    made = save_with_recipe(result.image, tmp_path / "a.png", recipe_of(result.record, first))
    again = Request(content_path, style_path, read_recipe(made).run.settings)
    rerun = stylize(again, extractor=cuda_extractor, progress=False)
    remade = save_with_recipe(rerun.image, tmp_path / "b.png", recipe_of(rerun.record, again))
    assert read_recipe(remade).run.device.startswith("cuda")
    assert made.read_bytes() == remade.read_bytes()
