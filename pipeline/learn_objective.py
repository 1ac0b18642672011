"""What learning minimises: the samples' targets (Gram matrices, colour moments) and the weighted objective's terms.

Scale-invariant (trace-normalised) Gram loss against random multi-scale crops of the samples (Gatys et al. 2016)
and a colour-moment loss relative to ordinary photos; relative relu2_2 content loss (Johnson et al. 2016); TV.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from .color import apply_lut
from .learn_inputs import sample_crop
from .learn_presets import LearnConfig
from .loss_net import LossNet
from .losses import (
    color_loss,
    color_map_residual,
    color_moments,
    content_loss,
    gram_matrix,
    normalized_style_loss,
    relative_color_target,
    tv_loss,
)

STYLE_TAPS = ("relu1_2", "relu2_2", "relu3_3")


CONTENT_TAP = "relu2_2"


PAIR_TAPS = ("relu2_2", "relu3_3")


MIN_TO_WITHHOLD = 3  # fewer samples than this: validation uses the loop's own targets


@dataclass
class StyleTargets:
    """How the samples' look is measured: Gram targets ``{tap: (C, C)}``, colour moments (6,) (per-channel
    mean and std), when known the moments (6,) of ordinary photos they are relative to, and optionally a colour
    LUT (3, n, n, n) that says what the look does to a colour (the style encoder's prediction)."""

    gram: dict[str, torch.Tensor]
    color: torch.Tensor
    reference: torch.Tensor | None = None
    color_lut: torch.Tensor | None = None
    gram_floor: float = 0.0  # the style term counts only the Gram distance above this (the samples' own spread)

    def color_target(self, inputs: torch.Tensor | None) -> torch.Tensor:
        """Colour-moment targets for G(inputs), inputs (B, 3, H, W) -> (B or 1, 6): the moments of the inputs
        through ``color_lut`` when set; else relative to each input (:func:`relative_color_target`) when a
        reference is known; else the samples' absolute moments."""
        if inputs is not None and self.color_lut is not None:
            return color_moments(apply_lut(inputs, self.color_lut))
        if inputs is None or self.reference is None:
            return self.color[None]
        return relative_color_target(color_moments(inputs), self.color, self.reference)


def style_terms(
    output: torch.Tensor,
    feats: dict[str, torch.Tensor],
    input_content: torch.Tensor,
    targets: StyleTargets,
    inputs: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The objective's terms for outputs (B, 3, S, S) in [0, 1] with their loss-net ``feats`` (STYLE_TAPS) and
    the inputs' relu2_2 features (B, C, h, w): scale-invariant Gram, relative content, colour moments (relative to
    the ``inputs`` (B, 3, S, S) when given), TV and, with ``inputs``, the colour-map residual."""
    energy = input_content.pow(2).mean((1, 2, 3)).clamp_min(1e-12)
    terms = {
        "style": (normalized_style_loss(feats, targets.gram) - targets.gram_floor).clamp_min(0).mean(),
        "content": (content_loss(feats[CONTENT_TAP], input_content) / energy).mean(),
        "color": color_loss(output, targets.color_target(inputs)).mean(),
        "tv": tv_loss(output),
    }
    if inputs is not None:
        terms["color_map"] = color_map_residual(output, inputs).mean()
    return terms


def weighted_objective(losses: dict[str, torch.Tensor], config: LearnConfig) -> torch.Tensor:
    """Sum of ``losses`` weighted by the config's ``<name>_weight`` (``adapter`` by ``adapter_decay``)."""
    weights = {name: getattr(config, f"{name}_weight", None) for name in losses}
    weights["adapter"] = config.adapter_decay
    return sum(weights[name] * value for name, value in losses.items() if weights.get(name))


@torch.no_grad()
def per_sample_grams(
    loss_net: LossNet, samples: list[torch.Tensor], rng: random.Random, config: LearnConfig
) -> list[dict[str, torch.Tensor]]:
    """Per (3, H, W) sample: its mean Gram matrix per tap over random crops at every scale -> ``{tap: (C, C)}``."""
    device = next(loss_net.parameters()).device
    out = []
    for sample in samples:
        grams: dict[str, list[torch.Tensor]] = {t: [] for t in STYLE_TAPS}
        for scale in config.style_scales:
            crops = torch.stack([sample_crop(sample, config.size, rng, scale) for _ in range(config.crops_per_sample)])
            for tap, feats in loss_net(crops.to(device), STYLE_TAPS).items():
                grams[tap].append(gram_matrix(feats.float()).mean(0))
        out.append({t: torch.stack(g).mean(0) for t, g in grams.items()})
    return out


def mean_grams(grams: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Tap-wise mean of per-sample Gram targets."""
    return {t: torch.stack([g[t] for g in grams]).mean(0) for t in grams[0]}


def withheld_count(samples: int, holdout: float) -> int:
    """How many of ``samples`` validation withholds from the loop's targets (the last ones)."""
    if samples < MIN_TO_WITHHOLD or holdout <= 0:
        return 0
    return min(samples - 1, max(1, round(samples * holdout)))
