"""`precision="auto"` and bf16 in channels_last: what auto resolves to on simulated CPUs and GPUs,
what the record says, and bf16's features and loss against fp32's on the random test network
(tests/real/test_real_features.py checks the paper's VGG-19)."""

from __future__ import annotations

import pytest
import torch

from nst import Settings, stylize
from nst import precision as nst_precision
from nst.config import STYLE_LAYERS
from nst.objective import Objective, network_features
from nst.precision import bf16_pays, cpu_info, describe_cpu, precision_used
from nst.stylize import prepare_images

AVX2 = frozenset({"avx", "avx2", "fma"})


def _cpu(monkeypatch: pytest.MonkeyPatch, flags: frozenset[str]) -> None:
    monkeypatch.setattr(nst_precision, "cpu_info", lambda: ("simulated CPU", flags))


@pytest.mark.parametrize(("flags", "expected"), [
    (AVX2, "fp32"),
    (AVX2 | {"avx512f"}, "fp32"),  # AVX-512 without its bf16 instructions converts in software
    (AVX2 | {"avx512f", "avx512_bf16"}, "bf16"),
    (AVX2 | {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}, "bf16"),
    (AVX2 | {"amx_tile", "amx_bf16"}, "bf16"),
])
def test_auto_is_bf16_on_a_cpu_with_bf16_units_only(monkeypatch, flags, expected):
    _cpu(monkeypatch, flags)
    assert precision_used("auto", torch.device("cpu")) == expected
    assert precision_used("fp32", torch.device("cpu")) == "fp32"  # a precision given is kept
    assert precision_used("bf16", torch.device("cpu")) == "bf16"


@pytest.mark.parametrize(("capability", "expected"), [((7, 0), "fp32"), ((7, 5), "fp32"), ((8, 0), "bf16"),
                                                      ((8, 6), "bf16"), ((9, 0), "bf16"), ((10, 0), "bf16")])
def test_auto_is_bf16_on_a_cuda_gpu_from_compute_capability_8(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert precision_used("auto", torch.device("cuda", 0)) == expected


def test_auto_is_fp32_on_other_devices(monkeypatch):
    _cpu(monkeypatch, AVX2 | {"amx_bf16"})
    assert not bf16_pays(torch.device("mps")) and precision_used("auto", torch.device("mps")) == "fp32"


def test_auto_is_the_default_and_fp32_bf16_stay_valid():
    assert Settings().precision == "auto"
    assert {Settings(precision=p).precision for p in ("auto", "fp32", "bf16")} == {"auto", "fp32", "bf16"}


def test_this_machine_s_cpu_is_described_with_its_units():
    name, flags = cpu_info.__wrapped__()  # the real /proc/cpuinfo, not the suite's simulated CPU
    assert isinstance(name, str) and isinstance(flags, frozenset)
    assert "AMX " in describe_cpu() and "AVX-512 BF16 " in describe_cpu()


@pytest.mark.parametrize(("flags", "ran"), [(AVX2, "fp32"), (AVX2 | {"amx_bf16"}, "bf16")])
def test_the_record_says_which_precision_ran(monkeypatch, extractor, content_path, style_path, flags, ran):
    _cpu(monkeypatch, flags)
    result = stylize(content_path, style_path, Settings(size=32, steps=2), extractor=extractor, progress=False)
    assert result.record.settings.precision == "auto" and result.record.precision == ran


def test_bf16_runs_the_network_in_channels_last_and_fp32_as_before(extractor, content_path, style_path):
    """bf16 lays the weights and activations out in channels_last; a later fp32 pass puts them back,
    and its features are bit for bit those of a network that never ran in bf16."""
    image = prepare_images(content_path, style_path, 48, extractor.device)[0]
    layers = set(STYLE_LAYERS)
    before = network_features(extractor, image, layers, "fp32")
    half = network_features(extractor, image, layers, "bf16")
    conv = extractor.features[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert all(f.is_contiguous(memory_format=torch.channels_last) and f.dtype == torch.bfloat16
               for f in half.values())
    after = network_features(extractor, image, layers, "fp32")
    assert extractor.features[0].weight.is_contiguous()
    for layer in layers:
        assert torch.equal(before[layer], after[layer])


def test_bf16_features_agree_with_fp32_within_tolerance(extractor, content_path, style_path, figures):
    """Per layer, ‖F_bf16 − F_fp32‖ / ‖F_fp32‖ at 64 px on the random network. Measured: at most 0.006
    (relu5_1); asserted: 0.02."""
    image = prepare_images(content_path, style_path, 64, extractor.device)[0]
    fp32 = network_features(extractor, image, set(STYLE_LAYERS), "fp32")
    bf16 = network_features(extractor, image, set(STYLE_LAYERS), "bf16")
    errors = {l: float((bf16[l].float() - fp32[l]).norm() / fp32[l].norm()) for l in STYLE_LAYERS}
    figures.add("bf16 features, relative error per layer (random VGG-19, 64 px)",
            ", ".join(f"{l} {e:.4f}" for l, e in errors.items()))
    assert max(errors.values()) < 0.02


def test_losses_and_optimizer_stay_fp32_under_bf16(extractor, content_path, style_path):
    content, style = prepare_images(content_path, style_path, 48, extractor.device)
    image = content.clone().requires_grad_(True)
    total, terms = Objective(extractor, content, style, Settings(precision="bf16"))(image)
    total.backward()
    assert total.dtype == torch.float32 and all(t.dtype == torch.float32 for t in terms.values())
    assert image.grad.dtype == torch.float32 and image.grad.is_contiguous()
