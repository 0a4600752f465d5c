"""The VGG-19 extractor: layer names, truncation, pooling, normalisation."""

import pytest
import torch
from torch import nn

from nst import NSTError
from nst.features import IMAGENET_MEAN, LAYER_NAMES, VGG19Features, random_extractor


def test_layer_names_follow_vgg19_blocks():
    assert len(LAYER_NAMES) == 16
    assert LAYER_NAMES[:4] == ("relu1_1", "relu1_2", "relu2_1", "relu2_2")
    assert LAYER_NAMES[-1] == "relu5_4" and "relu4_2" in LAYER_NAMES


def test_returns_requested_layers_with_expected_shapes(extractor):
    out = extractor(torch.rand(1, 3, 64, 48), ["relu1_1", "relu3_1", "relu5_1"])
    assert set(out) == {"relu1_1", "relu3_1", "relu5_1"}
    assert out["relu1_1"].shape == (1, 64, 64, 48)
    assert out["relu3_1"].shape == (1, 256, 16, 12)
    assert out["relu5_1"].shape == (1, 512, 4, 3)
    assert all((v >= 0).all() for v in out.values())


def test_stops_after_the_deepest_layer_asked_for(extractor):
    calls = []
    hook = extractor.features[-1].register_forward_hook(lambda *args: calls.append(1))
    try:
        extractor(torch.rand(1, 3, 32, 32), ["relu2_1"])
        assert calls == []
        extractor(torch.rand(1, 3, 32, 32), ["relu5_1"])
        assert calls == [1]
    finally:
        hook.remove()


def test_network_is_cut_after_last_layer_and_frozen():
    model = random_extractor(0, last_layer="relu4_2")
    assert sum(isinstance(m, nn.Conv2d) for m in model.features) == 10
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(NSTError, match="stops before relu5_1"):
        model(torch.rand(1, 3, 32, 32), ["relu5_1"])


def test_pooling_choice():
    assert any(isinstance(m, nn.AvgPool2d) for m in random_extractor(0, pooling="avg").features)
    assert any(isinstance(m, nn.MaxPool2d) for m in random_extractor(0, pooling="max").features)
    with pytest.raises(NSTError, match="avg, max"):
        VGG19Features(None, pooling="min")


def test_unknown_layer_lists_valid_names(extractor):
    with pytest.raises(NSTError, match="relu1_1, relu1_2"):
        extractor(torch.rand(1, 3, 32, 32), ["conv1_1"])


def test_imagenet_normalisation_is_applied(extractor):
    # An image equal to the ImageNet mean becomes all zeros, so relu1_1 is relu(bias).
    image = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    out = extractor(image, ["relu1_1"])["relu1_1"][0]
    expected = extractor.features[0].bias.clamp_min(0).view(-1, 1, 1).expand_as(out)
    torch.testing.assert_close(out, expected)
