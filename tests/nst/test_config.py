"""Settings: validation messages, ranges exposed to the CLI and UI, JSON round trip."""

import json

import pytest

from nst import NSTError, Settings
from nst.config import DEFAULT_LR, LIMITS, cpu_scales, field_spec


@pytest.mark.parametrize("changes, message", [
    ({"method": "gram"}, "unknown method 'gram'; choose one of linear, poly, gaussian, bn"),
    ({"steps": 0}, f"steps must be between 1 and {LIMITS.max_steps}"),
    ({"size": 10_000}, f"size must be between {LIMITS.min_size} and {LIMITS.max_size}"),
    ({"gamma": float("nan")}, "gamma must be between"),
    ({"optimizer": "sgd"}, "optimizer: 'sgd' is not one of auto, lbfgs, adam"),
    ({"style_layers": ("relu9_9",)}, "style_layers: 'relu9_9' is not one of relu1_1"),
    ({"style_layers": ()}, "choose at least one style layer"),
    ({"layer_weights": (1.0, 2.0)}, "expected one per style layer (5)"),
    ({"layer_weights": (float("nan"), 1.0, 1.0, 1.0, 1.0)}, "layer_weights must be finite numbers"),
    ({"layer_weights": (float("inf"), 1.0, 1.0, 1.0, 1.0)}, "layer_weights must be finite numbers"),
    ({"fusion": (("bn", -1.0), ("poly", 1.0))}, "fusion weights must be non-negative"),
])
def test_invalid_settings_are_refused_with_one_line(changes, message):
    with pytest.raises(NSTError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        Settings(**changes)
    assert "\n" not in str(info.value)


def test_field_spec_reads_defaults_and_ranges():
    spec = field_spec("size")
    assert spec["default"] == Settings().size and spec["max"] == LIMITS.max_size
    assert field_spec("init")["choices"] == ("content", "noise", "style")
    with pytest.raises(NSTError):
        field_spec("nope")


def test_json_round_trip():
    settings = Settings(fusion=(("bn", 0.3), ("poly", 0.7)), style_layers=("relu1_1", "relu2_1"),
                        layer_weights=(1.0, 0.5), gamma=2.0)
    assert Settings.from_dict(json.loads(settings.to_json())) == settings
    with pytest.raises(NSTError, match="unknown setting"):
        Settings.from_dict({"colour": 1})


@pytest.mark.parametrize("size, style_scale, edge", [(512, None, 512), (1024, None, 1024), (2048, None, 1024),
                                                     (4096, None, 1024), (4096, 1.0, 4096), (512, 0.5, 256)])
def test_the_painting_keeps_its_size_relative_to_the_output(size, style_scale, edge):
    settings = Settings(size=size, style_scale=style_scale)
    assert settings.painting_edge(size) == edge
    assert settings.painting_edge(size // 2) == edge // 2  # the same brush at every scale


def test_a_print_gives_its_print_scales_few_steps_and_a_cpu_gives_it_a_fourth_scale():
    assert cpu_scales(1024, 75) == 3 and cpu_scales(2048, 75) == 4 and cpu_scales(4096, 75) == 4
    # 75 // PRINT_STEP_EVERY = 2 steps at each scale above 1024 px; the rest shared as a 1024 px run shares them.
    assert Settings(size=2048, steps=75).on_device("cpu").scale_plan() == ((256, 25), (512, 24), (1024, 24), (2048, 2))
    assert Settings(size=4096, steps=75, scales=4).scale_plan() == ((512, 36), (1024, 35), (2048, 2), (4096, 2))
    assert Settings(size=4096, steps=4, scales=4).scale_plan() == ((512, 1), (1024, 1), (2048, 1), (4096, 1))
    assert Settings(size=4096, steps=60, scales=2).scale_plan() == ((2048, 58), (4096, 2))  # the coarsest takes the rest
    assert Settings(size=1024, steps=75).on_device("cpu").scale_plan() == ((256, 25), (512, 25), (1024, 25))
    assert field_spec("size")["max"] == LIMITS.max_size == 4096


def test_tiled_and_print_scales_run_adam_at_its_own_rate():
    auto = Settings(size=2048, lr=0.3)
    assert [auto.optimizer_at(s) for s in (512, 1024, 2048)] == ["lbfgs", "lbfgs", "adam"]
    assert auto.lr_at(1024) == 0.3 and auto.lr_at(2048) == DEFAULT_LR["adam"]  # 0.3 was an L-BFGS rate
    assert auto.optimizer_at(512, tiled=True) == "adam"
    chosen = Settings(size=2048, optimizer="lbfgs")
    assert chosen.optimizer_at(2048) == "lbfgs" and chosen.optimizer_at(2048, tiled=True) == "adam"
    adam = Settings(optimizer="adam", lr=0.05)
    assert adam.lr_at(2048, tiled=True) == 0.05
