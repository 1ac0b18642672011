"""Feed-forward style generator with conditional instance normalisation.

Encoder -> residual blocks -> decoder (reflection padding, nearest upsample + conv), after Johnson et al. 2016
and Dumoulin et al. 2017 ("A learned representation for artistic style"); here the per-layer scale and shift
come from a style code through a small MLP (``StyleMLP``), so styles are points in a continuous space that can
be mixed, interpolated toward the photo style, and adapted few-shot. Adapters are additive deltas on the
MLP's output (one scale and shift per normalised channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn


class ConvLayer(nn.Module):
    """Reflection-padded conv; ``upsample`` doubles the size with nearest-neighbour first."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(self.pad(x))


def conditional_instance_norm(
    x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """Instance-normalise (B, C, H, W) and apply per-sample (B, C) ``1 + scale`` and ``shift``.

    ``stats`` = (mean, var), each (B, C, 1, 1), replaces the statistics of ``x`` itself (tiled inference).
    """
    if stats is None:
        x = F.instance_norm(x, eps=1e-5)
    else:
        x = (x - stats[0]) * torch.rsqrt(stats[1] + 1e-5)
    return x * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]


@dataclass
class NormStats:
    """Per-layer instance-norm statistics of one forward pass: ``mean[i]``, ``var[i]`` are (B, C, 1, 1).

    Pass an empty one to ``Generator.forward`` to record them (e.g. on a downscaled copy of a large image), then
    the filled one to replay them, so that tiles of the large image share one set of statistics and show no seams.
    """

    mean: list[torch.Tensor] = field(default_factory=list)
    var: list[torch.Tensor] = field(default_factory=list)

    def layer(self, index: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics for norm layer ``index``: recorded from (B, C, H, W) ``x`` on the first pass, then replayed."""
        if index == len(self.mean):
            var, mean = torch.var_mean(x, dim=(2, 3), correction=0, keepdim=True)
            self.mean.append(mean)
            self.var.append(var)
        return self.mean[index], self.var[index]


class Generator(ModelMixin, ConfigMixin):
    """``forward(image, style_code, norm_delta=None, norm_stats=None)``: (B, 3, H, W) in [0, 1] -> same, in (0, 1).

    ``style_code`` is (B, code_dim) or (code_dim,); ``norm_delta`` (adapters) is (B or 1, norm_params).
    Any H, W: the input is reflect-padded to a multiple of 2**len(down) and cropped back.
    ``norm_stats`` (optional, see :class:`NormStats`) records or replays the instance-norm statistics.
    The output is ``sigmoid(logit(image) + residual)``, so a zero residual returns the input exactly.
    """

    @register_to_config
    def __init__(
        self,
        code_dim: int = 64,
        channels: tuple[int, ...] = (12, 24, 48, 64),
        num_res_blocks: int = 5,
        decoder_channels: tuple[int, ...] = (48, 24, 12),
        mlp_hidden: int = 256,
    ):
        super().__init__()
        if len(decoder_channels) != len(channels) - 1:
            raise ValueError(
                f"generator config: decoder_channels needs {len(channels) - 1} entries "
                f"(one per downsampling), got {len(decoder_channels)}"
            )
        self.stem = ConvLayer(3, channels[0], 3)
        pairs = zip(channels[:-1], channels[1:], strict=True)
        self.down = nn.ModuleList(ConvLayer(a, b, 3, stride=2) for a, b in pairs)
        width = channels[-1]
        self.res = nn.ModuleList(ConvLayer(width, width, 3) for _ in range(2 * num_res_blocks))
        ups, in_ch = [], width
        for out_ch in decoder_channels:
            ups.append(ConvLayer(in_ch, out_ch, 3, upsample=True))
            in_ch = out_ch
        self.up = nn.ModuleList(ups)
        self.head = ConvLayer(in_ch, 3, 3)
        self.norm_sizes = [channels[0], *channels[1:], *[width] * (2 * num_res_blocks), *decoder_channels]
        self.style_mlp = nn.Sequential(
            nn.Linear(code_dim, mlp_hidden), nn.SiLU(), nn.Linear(mlp_hidden, 2 * sum(self.norm_sizes))
        )
        nn.init.normal_(self.style_mlp[-1].weight, std=1e-2)  # small, so codes get gradient from step one
        nn.init.zeros_(self.style_mlp[-1].bias)
        nn.init.zeros_(self.head.conv.weight)
        nn.init.zeros_(self.head.conv.bias)

    @property
    def norm_params(self) -> int:
        """Length of an adapter vector: one scale and one shift per normalised channel."""
        return 2 * sum(self.norm_sizes)

    @property
    def multiple(self) -> int:
        return 2 ** len(self.down)

    def norm_affine(self, style_code: torch.Tensor, norm_delta: torch.Tensor | None = None) -> torch.Tensor:
        """(B, code_dim) codes (+ (B, P) adapters) -> (B, P) concatenated [scale | shift] per layer."""
        if style_code.dim() == 1:
            style_code = style_code[None]
        if style_code.shape[-1] != self.config.code_dim:
            raise ValueError(f"style code has {style_code.shape[-1]} values; this generator takes {self.config.code_dim}")
        affine = self.style_mlp(style_code)
        if norm_delta is not None:
            if norm_delta.shape[-1] != self.norm_params:
                raise ValueError(f"adapter has {norm_delta.shape[-1]} values; this generator takes {self.norm_params}")
            affine = affine + norm_delta
        return affine

    def forward(
        self,
        image: torch.Tensor,
        style_code: torch.Tensor,
        norm_delta: torch.Tensor | None = None,
        norm_stats: NormStats | None = None,
    ) -> torch.Tensor:
        b, _, h, w = image.shape
        affine = self.norm_affine(style_code, norm_delta).expand(b, -1)
        scales, shifts = affine.split(sum(self.norm_sizes), dim=1)
        pairs = zip(scales.split(self.norm_sizes, dim=1), shifts.split(self.norm_sizes, dim=1), strict=True)
        layers = iter(enumerate(pairs))

        def norm(x: torch.Tensor) -> torch.Tensor:
            index, (scale, shift) = next(layers)
            stats = None if norm_stats is None else norm_stats.layer(index, x)
            return conditional_instance_norm(x, scale, shift, stats)

        def norm_act(x: torch.Tensor) -> torch.Tensor:
            return F.relu(norm(x))

        m = self.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        x = image.clamp(1e-3, 1 - 1e-3)
        if pad_h or pad_w:
            mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        logit = torch.logit(x)
        y = norm_act(self.stem(x))
        for layer in self.down:
            y = norm_act(layer(y))
        for i in range(0, len(self.res), 2):
            skip = y
            y = norm_act(self.res[i](y))
            y = norm(self.res[i + 1](y)) + skip
        for layer in self.up:
            y = norm_act(layer(y))
        out = torch.sigmoid(logit + self.head(y))
        return out[:, :, :h, :w]
