"""Style encoder: a few samples of a look -> mixture weights over the bank's styles and a colour LUT, in one pass.

Arbitrary-style networks predict a style's parameters from its examples instead of optimising them per style
(Ghiasi et al. 2017, "Exploring the structure of a real-time, arbitrary neural artistic stylization network");
photo-preset transfer predicts the colour transform the same way (Ke et al. 2023, "Neural Preset"). Here the
samples are summarised by :func:`sample_statistics` (colour quantiles and tone-dependent chroma in CIELAB, RGB
quantiles, edge statistics and the loss net's relu1_2/relu2_2 channel means and spreads), pooled over the samples,
and an MLP maps them to

- ``mix_logits`` (B, n_bank): softmax weights over the bank styles named in ``bank_names``; the style code is the
  mix of their codes (and adapters), which draws the marks;
- ``lut`` (B, 3, n, n, n): the colour transform applied to the generator's output, the identity plus a mix of
  learned basis LUTs.

It is trained (``training/encoder.py``) on random looks applied to photos, with other photos as targets, so it
learns which part of the samples' colour is the look and which is their content.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .color import LUT_SIZE, identity_lut, rgb_to_lab
from .loss_net import LossNet

STAT_SIDE = 160  # samples are summarised at this long side
STAT_TAPS = ("relu1_2", "relu2_2")
L_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
AB_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TONE_BINS = 8
COLOUR_STATS = len(L_QUANTILES) * 4 + 2 * len(AB_QUANTILES) + 4 * TONE_BINS + 4 + 6
STAT_DIM = COLOUR_STATS + 2 * (64 + 128)
STAT_CLIP = 4.0  # standardised statistics are clipped to this many standard deviations
LUT_WEIGHT_BOUND = 3.0  # |weight| of each basis LUT stays below this


def _quantiles(values: torch.Tensor, qs: tuple[float, ...]) -> torch.Tensor:
    return torch.quantile(values, torch.tensor(qs, dtype=values.dtype, device=values.device))


def image_statistics(image: torch.Tensor, loss_net: LossNet) -> torch.Tensor:
    """(3, H, W) in [0, 1] -> (STAT_DIM,) summary of its colour, tone and texture (see the module docstring)."""
    x = image.clamp(0, 1)[None].float()
    lab = rgb_to_lab(x)[0] / 100.0
    lum, a, b = lab.flatten(1)
    chroma = torch.sqrt(a * a + b * b)
    stats = [_quantiles(lum, L_QUANTILES), _quantiles(a, AB_QUANTILES), _quantiles(b, AB_QUANTILES)]
    stats += [_quantiles(channel, L_QUANTILES) for channel in x[0].flatten(1)]
    bins = (lum.clamp(0, 0.999) * TONE_BINS).long()
    count = torch.bincount(bins, minlength=TONE_BINS).float()
    share = count / count.sum()
    tone_mean = lambda v: torch.bincount(bins, v, minlength=TONE_BINS) / count.clamp_min(1)  # noqa: E731
    stats += [share, tone_mean(a), tone_mean(b), tone_mean(chroma), _quantiles(chroma, (0.25, 0.5, 0.75, 0.95))]
    grey = lab[:1][None]
    dy, dx = grey[..., 1:, :-1] - grey[..., :-1, :-1], grey[..., :-1, 1:] - grey[..., :-1, :-1]
    grad = torch.sqrt(dx * dx + dy * dy + 1e-8)
    lap = grey - F.avg_pool2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    small = F.avg_pool2d(grey, 2)
    lap2 = small - F.avg_pool2d(F.pad(small, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    edges = torch.stack([grad.mean(), (grad > 0.1).float().mean(), lap.abs().mean() * 10, lap2.abs().mean() * 10]).to(
        lum
    )
    stats += [edges, torch.stack([(lum < 0.15).float().mean(), (lum > 0.9).float().mean()])]
    with torch.no_grad():
        feats = loss_net(x, STAT_TAPS)
    for tap in STAT_TAPS:
        f = feats[tap][0].flatten(1)
        stats += [torch.log1p(f.mean(1)), torch.log1p(f.std(1))]
    return torch.cat([s.flatten().float() for s in stats])


def sample_statistics(samples: list[torch.Tensor], loss_net: LossNet) -> torch.Tensor:
    """Samples (3, H, W) each, in [0, 1] at about :data:`STAT_SIDE` -> (STAT_DIM,), their mean statistics."""
    if not samples:
        raise ValueError("the style encoder needs at least one sample")
    return torch.stack([image_statistics(s, loss_net) for s in samples]).mean(0)


def fit_for_statistics(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> the same shrunk (never enlarged) to :data:`STAT_SIDE` long side."""
    h, w = image.shape[1:]
    factor = STAT_SIDE / max(h, w)
    if factor >= 1:
        return image
    size = (max(8, round(h * factor)), max(8, round(w * factor)))
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


class StyleEncoder(ModelMixin, ConfigMixin):
    """``forward(stats)``: (B, stat_dim) pooled sample statistics -> (mix_logits (B, n_bank), lut (B, 3, n, n, n)).

    ``bank_names`` fixes which bank style each logit weighs; ``stat_mean``/``stat_std`` (buffers, set from the
    training data) standardise the statistics, which are then clipped to +-``STAT_CLIP`` standard deviations, and the
    basis-LUT weights are bounded (tanh), so samples unlike anything in training give a bounded grade, not a wild one."""

    @register_to_config
    def __init__(
        self,
        bank_names: tuple[str, ...] = ("photo",),
        stat_dim: int = STAT_DIM,
        hidden: int = 512,
        lut_size: int = LUT_SIZE,
        basis_luts: int = 24,
    ):
        super().__init__()
        self.register_buffer("stat_mean", torch.zeros(stat_dim))
        self.register_buffer("stat_std", torch.ones(stat_dim))
        self.body = nn.Sequential(nn.Linear(stat_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.mix_head = nn.Linear(hidden, len(bank_names))
        self.lut_head = nn.Linear(hidden, basis_luts)
        self.lut_bases = nn.Parameter(torch.randn(basis_luts, 3, lut_size, lut_size, lut_size) * 1e-3)
        self.register_buffer("identity", identity_lut(lut_size), persistent=False)
        nn.init.zeros_(self.mix_head.weight)
        nn.init.zeros_(self.mix_head.bias)
        nn.init.normal_(self.lut_head.weight, std=1e-3)
        nn.init.zeros_(self.lut_head.bias)

    def forward(self, stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if stats.dim() == 1:
            stats = stats[None]
        standard = ((stats - self.stat_mean) / self.stat_std.clamp_min(1e-4)).clamp(-STAT_CLIP, STAT_CLIP)
        hidden = self.body(standard)
        weights = LUT_WEIGHT_BOUND * torch.tanh(self.lut_head(hidden) / LUT_WEIGHT_BOUND)
        lut = self.identity[None] + torch.einsum("bk,kcxyz->bcxyz", weights, self.lut_bases)
        return self.mix_head(hidden), lut
