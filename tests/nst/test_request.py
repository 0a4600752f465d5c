"""`nst.Request`: the inputs of a run read and checked once, and every scale's tensors from them.
The CLI and the app's Stylize handler are counted: on a three-scale run with a mask each
input file is opened at most twice (once to check it, once to use it). Weights: conftest's
seeded random extractor, or its fake hub checkpoint for the CLI and the app."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from PIL import Image

from nst import NSTError, Request, Settings, iter_stylize
from nst.__main__ import main
from nst.images import load_tensor
from nst.stylize import as_request
from webui.model import SharedModel
from webui.stylize_handlers import Stylizer

# The smallest three-scale run whose coarsest scale (25 px) keeps every short edge at 16 px or more.
THREE_SCALES = {"size": 100, "steps": 3, "scales": 3}


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> collections.Counter:
    """How often `PIL.Image.open` opened each file (by resolved path) from here on."""
    counts: collections.Counter = collections.Counter()
    real = PIL.Image.open

    def counting(fp, *args, **kwargs):
        if isinstance(fp, (str, Path)):
            counts[Path(fp).resolve()] += 1
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counting)
    return counts


@pytest.fixture
def halves(tmp_path, content_path) -> Path:
    """A mask of the photo's shape: its left half red (painting 1), its right half green (painting 2)."""
    w, h = Image.open(content_path).size
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[:, : w // 2] = (255, 0, 0)
    mask[:, w // 2:] = (0, 255, 0)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path / "mask.png"


def test_a_request_decodes_each_file_once_and_every_scale_reuses_it(opened, extractor, content_path, style_path,
                                                                    halves, other_style_path):
    opened.clear()  # the mask fixture read the photo's size
    settings = Settings(**THREE_SCALES)
    request = Request(content_path, [style_path, other_style_path], settings, mask=halves)
    steps = list(iter_stylize(request, extractor=extractor))
    assert [tuple(s.image.shape[-2:]) for s in steps] == [(17, 25), (33, 50), (67, 100)]
    assert set(opened.values()) == {1} and set(opened) == {p.resolve() for p in (content_path, style_path,
                                                                                 other_style_path, halves)}
    assert request.at(50) is request.at(50)  # made once per size


def test_the_tensors_are_those_of_the_path_they_replace(content_path, style_path, halves, other_style_path):
    request = Request(content_path, [style_path, other_style_path], mask=halves)
    photo, paintings, regions = request.at(64)
    assert torch.equal(photo, load_tensor(content_path, 64, name="content image"))
    assert torch.equal(paintings[1], load_tensor(other_style_path, 64))
    assert regions.shape == photo.shape[-2:] and set(regions.unique().tolist()) == {1, 2}


def test_a_request_from_images_in_memory_or_bytes_is_the_same_request(content_path, style_path):
    from_paths = Request(content_path, style_path).at(48)
    from_memory = Request(Image.open(content_path), style_path.read_bytes()).at(48)
    assert torch.equal(from_paths[0], from_memory[0]) and torch.equal(from_paths[1][0], from_memory[1][0])
    assert Request(style_path.read_bytes(), style_path).content_name == "(in memory)"


@pytest.mark.parametrize("build, message", [
    (lambda c, s, m: Request(c, s, Settings(painting_weights=(1.0, 2.0))),
     "painting_weights has 2 entries; give one per painting (1)"),
    (lambda c, s, m: Request(c, [], Settings()), "give at least one style image"),
    (lambda c, s, m: Request(c, s, mask=m), "the mask paints a region green, for painting 2, but only 1 painting"),
    (lambda c, s, m: Request(c, s, mask=Image.new("RGB", (64, 64), (255, 0, 0))),
     "the mask is 64x64 but the photo is 451x300"),
    (lambda c, s, m: Request(c, s, Settings(size=64, steps=3, scales=3)),
     "content image is 16x11 at size 16: its short edge must be at least 16 px"),
    (lambda c, s, m: as_request(Request(c, s), s), "a Request holds its paintings, settings and mask"),
])
def test_a_request_that_cannot_run_is_refused_while_it_is_built(content_path, style_path, halves, build, message):
    with pytest.raises(NSTError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(content_path, style_path, halves)


def test_the_cli_opens_each_input_at_most_twice_on_three_scales_with_a_mask(opened, tmp_path, content_path,
                                                                            style_path, halves, other_style_path):
    out = tmp_path / "out.png"
    opened.clear()
    code = main([str(content_path), str(style_path), str(other_style_path), "--mask", str(halves), "-o", str(out),
                 "--size", "100", "--steps", "3", "--scales", "3", "--quiet", "--device", "cpu"])
    assert code == 0 and Image.open(out).size == (100, 67)
    inputs = {p.resolve() for p in (content_path, style_path, other_style_path, halves)}
    assert inputs <= set(opened) and all(opened[p] <= 2 for p in inputs), opened


def test_the_app_opens_each_input_at_most_twice_on_three_scales_with_a_mask(opened, content_path, style_path,
                                                                            halves, other_style_path):
    stylizer = Stylizer(SharedModel("auto", "cpu"), interval=0.0)
    opened.clear()
    outputs = list(stylizer.run(str(content_path), str(style_path), progress=lambda *a, **k: None,
                                method="poly", size=100, steps=3, scales="3", more_styles=[str(other_style_path)],
                                mask=str(halves)))
    assert outputs[-1]["result"].size == (100, 67) and outputs[-1]["record"]["regions"] == \
        f"{halves}: red → painting 1, green → painting 2"
    inputs = {p.resolve() for p in (content_path, style_path, other_style_path, halves)}
    assert inputs <= set(opened) and all(opened[p] <= 2 for p in inputs), opened
