"""The benchmark's tutorial-style baseline: its Gram loss is the library's poly term up to
its documented constant, its layers are the ones asked for, and its optimizer works.
Random weights (conftest's extractor): numbers, never a stylization."""

from __future__ import annotations

import json

import pytest
import torch
from torch.testing import assert_close

from benchmarks.baseline import Baseline, tutorial_gram
from nst.methods.poly import poly
from nst.images import load_tensor

LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def test_the_tutorial_gram_loss_is_poly_divided_by_n_squared():
    g = torch.Generator().manual_seed(0)
    x, s = torch.rand(1, 6, 5, 4, generator=g), torch.rand(1, 6, 5, 4, generator=g)
    mse = torch.nn.functional.mse_loss(tutorial_gram(x), tutorial_gram(s))
    assert_close(mse, poly(x.reshape(6, -1), s.reshape(6, -1)) / 6**2)
    assert_close(tutorial_gram(x)[0, 1], (x[0, 0] * x[0, 1]).sum() / (6 * 20))  # Σ_m x_0m x_1m / (N·M)


def test_the_baseline_s_style_loss_is_the_library_s_poly_on_the_same_layers(extractor, content_path, style_path):
    baseline = Baseline(extractor, content_path, style_path, 48, content_layers=("relu2_1",), style_layers=LAYERS)
    content_loss, style_loss = baseline.losses()
    image = load_tensor(content_path, 48)
    style = torch.nn.functional.interpolate(load_tensor(style_path, 48), size=image.shape[-2:], mode="bilinear",
                                            antialias=True)
    with torch.no_grad():
        x, s = extractor(image, LAYERS), extractor(style, LAYERS)
    expected = sum(poly(x[k][0].flatten(1), s[k][0].flatten(1)) / x[k].shape[1] ** 2 for k in LAYERS)
    assert_close(style_loss, expected, rtol=1e-4, atol=0)
    assert content_loss == 0  # the image starts as the content photo
    assert len(baseline.style_losses) == len(LAYERS) and len(baseline.content_losses) == 1


def test_the_baseline_optimizes(extractor, content_path, style_path):
    baseline = Baseline(extractor, content_path, style_path, 40, style_layers=LAYERS)
    _, before = baseline.losses()
    baseline.step()
    _, after = baseline.losses()
    assert baseline.evaluations > 1 and after < before
    assert baseline.seconds_per_evaluation(2, warmup=0) > 0


@pytest.mark.parametrize("size", [32])
def test_the_benchmark_prints_ours_against_the_baseline(size, capsys, monkeypatch, tmp_path):
    from benchmarks import bench

    monkeypatch.setattr("sys.argv", ["bench", "--sizes", str(size), "--steps", "1", "--warmup", "1",
                                     "--methods", "poly", "bn", "--device", "cpu", "--json", str(tmp_path / "b.json")])
    bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["seconds", "per", "step", f"{size}", "px", "×", "baseline"]
    rows = {line[:bench._WIDTH].strip(): line[bench._WIDTH:].split() for line in lines[2:5]}  # name, then figures
    assert list(rows) == ["baseline (Gram, fp32)", "poly, fp32", "bn, fp32"]  # fp32 unless --precision says
    seconds, ratio = (float(v) for v in rows["poly, fp32"])
    baseline_seconds = float(rows["baseline (Gram, fp32)"][0])
    # Printed to two decimals, from seconds printed to three: the ratio agrees within that rounding.
    assert ratio == pytest.approx(baseline_seconds / seconds, rel=0.01, abs=0.006)
    # The second table: the same runs' seconds to a finished result of warm-up + steps, and peak memory.
    table = lines[lines.index("") + 1:]
    assert table[0].split()[:4] == ["result", "of", "2", "steps"]
    record = json.loads((tmp_path / "b.json").read_text())
    for line, method in zip(table[1:], ["poly, fp32", "bn, fp32"]):
        to_result, peak = (float(v) for v in line[bench._WIDTH:].split())
        run = record["runs"][method][str(size)]
        assert to_result == pytest.approx(run["seconds_to_result"], abs=0.01)
        assert to_result >= run["seconds_per_step"] and peak == pytest.approx(run["peak_memory_mib"], abs=0.5)
