"""Feed-forward style generator with conditional instance normalisation.

Encoder -> residual blocks -> decoder (reflection padding, nearest upsample + conv), after Johnson et al. 2016
and Dumoulin et al. 2017 ("A learned representation for artistic style"); here the per-layer scale and shift
come from a style code through a small MLP (``StyleMLP``), so styles are points in a continuous space that can
be mixed, interpolated toward the photo style, and adapted few-shot. Adapters are additive deltas on the
MLP's output (one scale and shift per normalised channel).

Optional pattern branch (``pattern_periods``): conv layers alone struggle to draw regular texture (halftone
screens, hatching, tiles) on flat regions, where the input offers nothing to build it from. Per style, a linear
map of the style code (so mixes and strength steer it too) weighs a fixed set of plane waves
(each period at 0/45/90/135 degrees, sine and cosine, in absolute pixel coordinates so tiles line up) into one
pattern per output channel; a 1x1 conv of the last decoder features gates it per pixel, and it is added to the
output logit. The wave weights start at zero, so adding the branch to trained weights leaves their output unchanged.
"""

from __future__ import annotations

import math
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


PATTERN_ANGLES = (0.0, 45.0, 90.0, 135.0)
COLOR_TERMS = 13  # colour_basis: 1, r, g, b, their squares and products, logit r, logit g, logit b


def color_basis(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in (0, 1) -> (B, COLOR_TERMS, H, W): per-pixel functions of the colour for the colour branch.

    The logit terms let the branch cancel the ``logit(image)`` the output is built on (a grey look needs that);
    the quadratic terms bend tone curves and mix channels."""
    r, g, b = image.unbind(1)
    return torch.stack(
        [
            torch.ones_like(r),
            r,
            g,
            b,
            r * r,
            g * g,
            b * b,
            r * g,
            r * b,
            g * b,
            torch.logit(r),
            torch.logit(g),
            torch.logit(b),
        ],
        dim=1,
    )


def pattern_waves(
    length: int | torch.Tensor,
    periods: tuple[float, ...],
    axis: int,
    offset: int = 0,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, length) float32 sines and cosines along one image axis (0 = rows, 1 = columns), one row per (period,
    angle) in :data:`PATTERN_ANGLES` order, in absolute pixel coordinates starting at ``offset``."""
    index = torch.arange(length, dtype=torch.float32, device=device) + float(offset)
    trig = math.sin if axis == 0 else math.cos
    freqs = [2 * math.pi * trig(math.radians(a)) / p for p in periods for a in PATTERN_ANGLES]
    freqs = torch.tensor(freqs, device=device)
    phase = freqs[:, None] * index[None, :]
    return torch.sin(phase), torch.cos(phase)


def pattern_image(
    weights: torch.Tensor,
    height: int | torch.Tensor,
    width: int | torch.Tensor,
    periods: tuple[float, ...],
    origin: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """(B, C, H, W) = sum over waves k of ``weights[:, :, k, 0] * sin(phase_k) + weights[:, :, k, 1] * cos(phase_k)``,
    phase_k = fx_k * column + fy_k * row (absolute coordinates from ``origin``), for ``weights`` (B, C, R, 2).

    Built from 1-D sines and cosines as rank-2 terms per wave (sin(a+b) = sin a cos b + cos a sin b), a batched
    (H, 2R) @ (2R, W) product instead of R full-size sine images."""
    sy, cy = pattern_waves(height, periods, 0, origin[0], weights.device)  # (R, H)
    sx, cx = pattern_waves(width, periods, 1, origin[1], weights.device)  # (R, W)
    ws, wc = weights[..., 0, None].float(), weights[..., 1, None].float()  # (B, C, R, 1)
    left = torch.cat([ws * cy - wc * sy, ws * sy + wc * cy], dim=2)  # (B, C, 2R, H): multiplies sin(ax), cos(ax)
    right = torch.cat([sx, cx], dim=0)  # (2R, W)
    return left.transpose(2, 3) @ right


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
    ``origin`` (row, column) places a crop in its whole image, so the pattern branch lines up across tiles.
    The output is ``sigmoid(logit(image) + residual)``, so a zero residual returns the input exactly. Optional
    branches add to the residual: ``pattern_periods`` (plane waves weighed per style) and ``color_curves`` (a per-style
    per-pixel colour map of the input, :func:`color_basis`, and a per-style gain on the convolutions' residual).
    """

    @register_to_config
    def __init__(
        self,
        code_dim: int = 64,
        channels: tuple[int, ...] = (12, 24, 48, 64),
        num_res_blocks: int = 5,
        decoder_channels: tuple[int, ...] = (48, 24, 12),
        mlp_hidden: int = 256,
        pattern_periods: tuple[float, ...] = (),
        color_curves: bool = False,
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
        if any(not isinstance(p, (int, float)) or not 2.0 <= float(p) <= 1024.0 for p in pattern_periods):
            raise ValueError(
                f"generator config: pattern_periods must be numbers of pixels in [2, 1024], got {pattern_periods}"
            )
        self.pattern_periods = tuple(float(p) for p in pattern_periods)
        if self.pattern_periods:
            waves = len(PATTERN_ANGLES) * len(self.pattern_periods)
            # per style: (3 channels, waves, sin/cos), linear in the code without bias, so nothing is shared by all
            # styles, and mixes and the strength slider (codes interpolated toward photo) move the pattern linearly
            self.pattern_amp = nn.Linear(code_dim, 3 * waves * 2, bias=False)
            self.pattern_gate = nn.Conv2d(in_ch, 3, 1)
            # the branch starts silent (no wave weights), so grown weights keep their output; the gate starts open
            # (1 everywhere), so each style's wave weights get gradient from the first step on their own
            nn.init.zeros_(self.pattern_amp.weight)
            nn.init.zeros_(self.pattern_gate.weight)
            nn.init.ones_(self.pattern_gate.bias)
        self.color_curves = bool(color_curves)
        if self.color_curves:
            # per style: a per-pixel colour map (3 outputs x COLOR_TERMS basis functions of the input's own colour)
            # added to the residual, and a per-channel gain 1 + g on the convolutions' residual (g -> -1 turns them
            # off), linear in the code without bias, starting silent. Colour grades are global colour maps, which
            # instance-normalised convolutions reproduce only roughly (casts, blobs)
            self.color_amp = nn.Linear(code_dim, 3 * (COLOR_TERMS + 1), bias=False)
            nn.init.zeros_(self.color_amp.weight)

    @property
    def norm_params(self) -> int:
        """Length of an adapter vector: one scale and one shift per normalised channel."""
        return 2 * sum(self.norm_sizes)

    @property
    def affine_size(self) -> int:
        """Length of :meth:`norm_affine`'s output: ``norm_params``, plus the pattern branch's wave weights and the
        colour branch's weights where the generator has them."""
        return self.norm_params + self.wave_params + (self.color_amp.out_features if self.color_curves else 0)

    @property
    def wave_params(self) -> int:
        """Number of pattern-branch wave weights in :meth:`norm_affine`'s output (0 without the branch)."""
        return self.pattern_amp.out_features if self.pattern_periods else 0

    def grow(self, **overrides) -> Generator:
        """A copy with config ``overrides`` (``pattern_periods``, ``color_curves``) whose new modules start fresh and every
        existing weight is carried over; raises if an override would change a trained weight's shape."""
        grown = Generator(**{**{k: v for k, v in self.config.items() if not k.startswith("_")}, **overrides})
        try:
            missing, unexpected = grown.load_state_dict(self.state_dict(), strict=False)
        except RuntimeError as exc:
            raise ValueError(f"generator config overrides {overrides} change trained weights: {exc}") from None
        if unexpected or any(not k.startswith(("pattern_", "color_")) for k in missing):
            raise ValueError(f"generator config overrides {overrides} drop or add weights: {unexpected or missing}")
        return grown.to(self.device)

    @property
    def multiple(self) -> int:
        return 2 ** len(self.down)

    def norm_affine(self, style_code: torch.Tensor, norm_delta: torch.Tensor | None = None) -> torch.Tensor:
        """(B, code_dim) codes (+ (B, P) adapters) -> (B, affine_size): [scale | shift] per layer (P values), then
        the pattern branch's wave weights and the colour branch's weights (each only with that branch). Everything
        style-dependent, so ONNX takes just this."""
        if style_code.dim() == 1:
            style_code = style_code[None]
        if style_code.shape[-1] != self.config.code_dim:
            raise ValueError(
                f"style code has {style_code.shape[-1]} values; this generator takes {self.config.code_dim}"
            )
        affine = self.style_mlp(style_code)
        if norm_delta is not None:
            if norm_delta.shape[-1] != self.norm_params:
                raise ValueError(f"adapter has {norm_delta.shape[-1]} values; this generator takes {self.norm_params}")
            affine = affine + norm_delta
        if self.pattern_periods:
            affine = torch.cat([affine, self.pattern_amp(style_code)], dim=1)
        if self.color_curves:
            affine = torch.cat([affine, self.color_amp(style_code)], dim=1)
        return affine

    def forward(
        self,
        image: torch.Tensor,
        style_code: torch.Tensor,
        norm_delta: torch.Tensor | None = None,
        norm_stats: NormStats | None = None,
        origin: tuple[int, int] = (0, 0),
    ) -> torch.Tensor:
        b, _, h, w = image.shape
        affine = self.norm_affine(style_code, norm_delta).expand(b, -1)
        affine, wave_weights, color_weights = affine.split(
            [self.norm_params, self.wave_params, affine.shape[1] - self.norm_params - self.wave_params], dim=1
        )
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
        residual = self.head(y)
        if self.color_curves:  # per-channel gain on the convolutions' residual, plus the per-pixel colour map
            curves, gain = color_weights.split([3 * COLOR_TERMS, 3], dim=1)
            curves = curves.reshape(b, 3, COLOR_TERMS).to(x.dtype)
            residual = residual * (1.0 + gain[:, :, None, None].to(residual.dtype))
            residual = residual + torch.einsum("bck,bkhw->bchw", curves, color_basis(x))
        if self.pattern_periods:
            pattern = pattern_image(
                wave_weights.view(b, 3, -1, 2), y.shape[2], y.shape[3], self.pattern_periods, origin
            )
            residual = residual + self.pattern_gate(y) * pattern.to(residual.dtype)
        out = torch.sigmoid(logit + residual)
        return out[:, :, :h, :w]
