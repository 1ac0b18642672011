from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from pipeline.loss_net import LossNet, load_torchvision_vgg, torchvision_key_map


def test_taps_shapes_and_frozen(loss_net):
    x = torch.rand(1, 3, 40, 56)
    taps = loss_net(x)
    assert {k: tuple(v.shape) for k, v in taps.items()} == {
        "relu1_2": (1, 64, 40, 56),
        "relu2_2": (1, 128, 20, 28),
        "relu3_3": (1, 256, 10, 14),
        "relu4_3": (1, 512, 5, 7),
    }
    assert not any(p.requires_grad for p in loss_net.parameters())
    loss_net.train()
    assert not loss_net.training


def test_partial_taps_stop_early_and_match(loss_net):
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loss_net(x, ("relu2_2",))["relu2_2"], loss_net(x)["relu2_2"])
    with pytest.raises(ValueError, match="unknown loss-net taps"):
        loss_net(x, ("relu9_9",))


def test_converted_weights_respond_to_edges_not_flat_images(loss_net):
    """The HED backbone is an edge model: a flat image excites relu3_3 far less than a checkerboard."""
    flat = torch.full((1, 3, 64, 64), 0.5)
    checker = ((torch.arange(64)[:, None] // 8 + torch.arange(64)[None] // 8) % 2).float().expand(1, 3, 64, 64)
    assert loss_net(checker, ("relu3_3",))["relu3_3"].mean() > 2 * loss_net(flat, ("relu3_3",))["relu3_3"].mean()


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_torchvision_layout_loads_without_torchvision(tmp_path, arch):
    net = LossNet(arch=arch, preprocess="imagenet")
    theirs = {k: torch.randn(net.state_dict()[v].shape) for k, v in torchvision_key_map(arch).items()}
    theirs["classifier.0.weight"] = torch.zeros(2, 2)  # extra keys are ignored
    save_file(theirs, str(tmp_path / "vgg.safetensors"))
    loaded = load_torchvision_vgg(tmp_path / "vgg.safetensors", arch=arch)
    for k, v in torchvision_key_map(arch).items():
        assert torch.equal(loaded.state_dict()[v], theirs[k])
    assert loaded(torch.rand(1, 3, 16, 16))["relu4_3"].shape == (1, 512, 2, 2)


def test_torchvision_missing_key_and_pickle_are_refused(tmp_path):
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(KeyError, match="features.0.bias"):
        load_torchvision_vgg(tmp_path / "partial.safetensors")
    (tmp_path / "vgg.pth").write_bytes(b"not allowed")
    with pytest.raises(ValueError, match="only .safetensors"):
        load_torchvision_vgg(tmp_path / "vgg.pth")


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="arch"):
        LossNet(arch="resnet")
    with pytest.raises(ValueError, match="preprocess"):
        LossNet(preprocess="bgr")
