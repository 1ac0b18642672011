"""Conditional PatchGAN discriminator with a projection on the style code (Miyato & Koyama 2018), spectral norm."""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class Discriminator(ModelMixin, ConfigMixin):
    """``forward(image, style_code)``: (B, 3, H, W) in [0, 1], (B, code_dim) -> (B, 1, H/8, W/8) patch logits.

    Each logit is ``w . h + <embed(code), h>`` over the last feature map ``h`` (projection conditioning),
    so the same network judges "is this patch real *for this style*".
    """

    @register_to_config
    def __init__(self, code_dim: int = 64, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        layers, in_ch = [], 3
        for out_ch in channels:
            layers += [spectral_norm(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            in_ch = out_ch
        layers += [spectral_norm(nn.Conv2d(in_ch, in_ch, 3, padding=1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.logit = spectral_norm(nn.Conv2d(in_ch, 1, 1))
        self.embed = spectral_norm(nn.Linear(code_dim, in_ch, bias=False))

    def forward(self, image: torch.Tensor, style_code: torch.Tensor) -> torch.Tensor:
        h = self.features(image * 2.0 - 1.0)
        projection = (self.embed(style_code)[:, :, None, None] * h).sum(dim=1, keepdim=True)
        return self.logit(h) + projection / h.shape[1] ** 0.5
