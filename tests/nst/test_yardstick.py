"""The method-independent yardstick (`nst.yardstick`), against computations written out here,
on the network a result was made with and on another one (the judge)."""

from __future__ import annotations

import pytest
import torch

from nst.config import CONTENT_LAYER, STYLE_LAYERS
from nst.features import CAFFE_INPUT, random_extractor
from nst.yardstick import colour_gap_closed, measure


def images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, 48, 64, generator=gen)
    style = torch.rand(1, 3, 40, 40, generator=gen) * 0.5 + 0.4
    result = (content + style.mean() * 0.5).clamp(0, 1) * 0.8
    return content, style, result


def gram_share_by_hand(net, content, style, result, layer: str) -> float:
    """1 − ‖Ĝ_R − Ĝ_S‖² / ‖Ĝ_C − Ĝ_S‖², Ĝ = XXᵀ/M from the layer's responses, in float64."""
    def gram(image):
        x = net(image, [layer])[layer][0].flatten(1).double()  # (C, M)
        return x @ x.T / x.shape[1]

    with torch.no_grad():
        g_c, g_s, g_r = gram(content), gram(style), gram(result)
    return float(1 - (g_r - g_s).square().sum() / (g_c - g_s).square().sum())


@pytest.mark.parametrize("backbone", ["vgg19", "vgg16"])
def test_each_measure_is_its_formula_on_any_network(backbone):
    """The judge of a VGG-19 run is a VGG-16: the measures must not depend on which network it is."""
    net = random_extractor(3, backbone=backbone, convention=CAFFE_INPUT)
    content, style, result = images()
    y = measure(net, content, style, result)
    for layer in STYLE_LAYERS:
        assert y.gram_gap_closed_by_layer[layer] == pytest.approx(
            gram_share_by_hand(net, content, style, result, layer), rel=1e-4, abs=1e-5)
    assert y.gram_gap_closed == pytest.approx(sum(y.gram_gap_closed_by_layer.values()) / len(STYLE_LAYERS))
    with torch.no_grad():
        f_r, f_c = (net(t, [CONTENT_LAYER])[CONTENT_LAYER].double() for t in (result, content))
    assert y.content_change == pytest.approx(float((f_r - f_c).square().sum() / f_c.square().sum()), rel=1e-4)
    mean = [t.mean(dim=(0, 2, 3)).double() for t in (content, style, result)]
    assert y.colour_gap_closed == pytest.approx(float(1 - (mean[2] - mean[1]).norm() / (mean[0] - mean[1]).norm()),
                                                rel=1e-5)


def test_the_ends_of_the_scale():
    """The photo itself: nothing closed, nothing changed; the painting itself (same size): everything closed."""
    net = random_extractor(4, backbone="vgg16")
    content, style, _ = images(1)
    same = torch.nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear", align_corners=False)
    untouched = measure(net, content, same, content)
    assert untouched.gram_gap_closed == pytest.approx(0, abs=1e-6) and untouched.content_change == 0
    assert untouched.colour_gap_closed == pytest.approx(0, abs=1e-6)
    arrived = measure(net, content, same, same)
    assert arrived.gram_gap_closed == pytest.approx(1, abs=1e-6)
    assert colour_gap_closed(content, same, same) == pytest.approx(1, abs=1e-6)
