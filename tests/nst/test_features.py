"""The VGG extractors: layer names of both backbones, truncation, pooling, input conventions."""

import pytest
import torch
from torch import nn

from nst import NSTError
from nst.features import (CAFFE_INPUT, TORCHVISION_INPUT, InputConvention, VGGFeatures, conv_keys, layer_names,
                          random_extractor)
from nst.config import CONTENT_LAYER, STYLE_LAYERS


def test_layer_names_follow_the_vgg_blocks():
    vgg19, vgg16 = layer_names("vgg19"), layer_names("vgg16")
    assert len(vgg19) == 16 and len(vgg16) == 13
    assert vgg19[:4] == vgg16[:4] == ("relu1_1", "relu1_2", "relu2_1", "relu2_2")
    assert vgg19[-1] == "relu5_4" and vgg16[-1] == "relu5_3"
    assert set(STYLE_LAYERS) | {CONTENT_LAYER} <= set(vgg16) & set(vgg19)
    assert len(conv_keys("vgg16")) == 13 and conv_keys("vgg19")[-1] == "features.34.weight"
    with pytest.raises(NSTError, match="choose one of vgg16, vgg19"):
        layer_names("resnet")


@pytest.mark.parametrize("backbone", ["vgg16", "vgg19"])
def test_returns_requested_layers_with_expected_shapes(backbone):
    model = random_extractor(0, backbone=backbone)
    out = model(torch.rand(1, 3, 64, 48), ["relu1_1", "relu3_1", "relu5_1"])
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
    assert sum(isinstance(m, nn.Conv2d) for m in random_extractor(0, backbone="vgg16").features) == 11  # to relu5_1
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(NSTError, match="stops before relu5_1"):
        model(torch.rand(1, 3, 32, 32), ["relu5_1"])


def test_pooling_choice():
    assert any(isinstance(m, nn.AvgPool2d) for m in random_extractor(0, pooling="avg").features)
    assert any(isinstance(m, nn.MaxPool2d) for m in random_extractor(0, pooling="max").features)
    with pytest.raises(NSTError, match="avg, max"):
        VGGFeatures(None, pooling="min")


def test_unknown_layer_lists_valid_names(extractor):
    with pytest.raises(NSTError, match="relu1_1, relu1_2"):
        extractor(torch.rand(1, 3, 32, 32), ["conv1_1"])
    with pytest.raises(NSTError, match="unknown VGG-16 layer 'relu5_4'"):
        random_extractor(0, backbone="vgg16")(torch.rand(1, 3, 32, 32), ["relu5_4"])


def first_activation_by_hand(model: VGGFeatures, net_input: torch.Tensor) -> torch.Tensor:
    conv = model.features[0]
    return torch.nn.functional.conv2d(net_input, conv.weight, conv.bias, padding=1).clamp_min(0)


def test_torchvision_convention_normalises_rgb_by_imagenet_statistics(extractor):
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    expected = first_activation_by_hand(extractor, (image - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    torch.testing.assert_close(extractor(image, ["relu1_1"])["relu1_1"], expected)


def test_caffe_convention_feeds_bgr_times_255_minus_the_mean():
    model = random_extractor(2, convention=CAFFE_INPUT)
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    bgr = image[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    torch.testing.assert_close(model(image, ["relu1_1"])["relu1_1"], first_activation_by_hand(model, bgr))


@pytest.mark.parametrize("convention", [TORCHVISION_INPUT, CAFFE_INPUT])
def test_the_mean_colour_is_what_the_network_sees_as_zero(convention):
    mean = torch.tensor(convention.mean_rgb()).view(1, 3, 1, 1)
    zero = random_extractor(0, convention=convention).prepare(mean.expand(1, 3, 4, 4))
    torch.testing.assert_close(zero, torch.zeros_like(zero), atol=1e-5, rtol=0)


def test_a_convention_survives_its_json_form():
    assert InputConvention.from_json(CAFFE_INPUT.to_json()) == CAFFE_INPUT
    with pytest.raises(NSTError, match="unreadable input convention"):
        InputConvention.from_json('{"name": "x"}')
