"""Weight loading through the real code paths, offline: the Hugging Face cache layout,
torchvision's checkpoint folder, and local files."""

import pytest
import torch
from safetensors.torch import save_file
from torch.testing import assert_close

from conftest import FAKE_SEED, fake_state_dict
from nst import NSTError
from nst import weights as W


@pytest.fixture(autouse=True)
def fresh_cache():
    W._cached_extractor.cache_clear()
    yield
    W._cached_extractor.cache_clear()


def first_conv(extractor):
    return extractor.features[0].weight


def test_auto_finds_the_hub_checkpoint_in_the_cache(hf_home):
    extractor = W.load_extractor("auto", device="cpu")
    assert extractor.weights_name == f"hub:{W.HUB_REPO}"
    assert_close(first_conv(extractor), fake_state_dict(FAKE_SEED)["features.0.weight"])


def test_extractor_is_loaded_once_per_process():
    assert W.load_extractor(device="cpu") is W.load_extractor(device="cpu")


def test_hub_source_resolves_offline_from_the_cache():
    state, name = W.load_state_dict("hub")
    assert name == f"hub:{W.HUB_REPO}" and "features.34.weight" in state


@pytest.fixture
def no_hub_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def test_auto_falls_back_to_torchvision_checkpoint(no_hub_cache):
    checkpoints = no_hub_cache / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    state = fake_state_dict(7)
    torch.save(state, checkpoints / W.TORCHVISION_FILENAME)
    extractor = W.load_extractor("auto", device="cpu")
    assert extractor.weights_name == f"torchvision:{W.TORCHVISION_FILENAME}"
    assert_close(first_conv(extractor), state["features.0.weight"])


def test_no_weights_anywhere_says_how_to_provide_them(no_hub_cache, monkeypatch):
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(NSTError, match="NST_WEIGHTS=PATH") as info:
        W.load_extractor("auto", device="cpu")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_file_by_path_and_by_environment(tmp_path, monkeypatch, suffix):
    state = fake_state_dict(3)
    path = tmp_path / f"vgg{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    assert_close(first_conv(W.load_extractor(path, device="cpu")), state["features.0.weight"])
    W._cached_extractor.cache_clear()
    monkeypatch.setenv(W.WEIGHTS_ENV, str(path))
    extractor = W.load_extractor(device="cpu")
    assert extractor.weights_name == f"file:vgg{suffix}"
    assert_close(first_conv(extractor), state["features.0.weight"])


def test_bare_keys_are_accepted(tmp_path):
    state = {k.removeprefix("features."): v for k, v in fake_state_dict(4).items()}
    save_file(state, str(tmp_path / "bare.safetensors"))
    assert_close(first_conv(W.load_extractor(tmp_path / "bare.safetensors", device="cpu")), state["0.weight"])


def test_wrong_checkpoints_give_clear_errors(tmp_path):
    save_file({"features.0.weight": torch.zeros(3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(NSTError, match="not a VGG-19 checkpoint"):
        W.load_extractor(tmp_path / "bad.safetensors", device="cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(NSTError, match="cannot read weights file 'junk.pth'"):
        W.load_extractor(tmp_path / "junk.pth", device="cpu")
    with pytest.raises(NSTError, match="does not exist"):
        W.load_extractor(tmp_path / "missing.safetensors", device="cpu")
