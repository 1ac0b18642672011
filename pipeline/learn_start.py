"""The zero-shot start of learning (the ``instant`` preset): the style encoder's prediction, or without one a
softmax mixture of the bank's styles by the samples' Gram distance to each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .images import pil_to_tensor
from .learn_inputs import LearnInputs, load_inputs
from .learn_objective import STYLE_TAPS
from .learn_presets import LearnConfig, preset
from .learn_setup import LearnSetup, prepare
from .losses import color_loss, normalized_gram_distance, normalized_style_loss
from .style import PersonalStyle, mix_styles
from .style_encoder import fit_for_statistics, sample_statistics

if TYPE_CHECKING:
    from .pipeline import PersonalStylePipeline


def bank_distances(targets: dict[str, torch.Tensor], bank: dict[str, PersonalStyle]) -> dict[str, float]:
    """Scale-invariant Gram distance (as the style loss) of the samples' targets to each bank style carrying all
    taps."""
    return {
        name: sum(float(normalized_gram_distance(style.gram[t], target.cpu())) for t, target in targets.items())
        for name, style in bank.items()
        if all(t in style.gram for t in targets)
    }


@torch.no_grad()
def measured_distances(setup: LearnSetup, bank: dict[str, PersonalStyle], config: LearnConfig) -> dict[str, float]:
    """Weighted Gram + colour-moment loss to the targets of what each bank style's code actually makes of the
    validation crops (one generator + loss-net pass per style)."""
    distances = {}
    for name, style in bank.items():
        delta = None if style.norm_delta is None else style.norm_delta.to(setup.device)[None]
        with setup.accelerator.autocast():
            output = setup.generator(setup.eval_batch, style.code.to(setup.device)[None], delta)
            feats = setup.loss_net(output, STYLE_TAPS)
        output, feats = output.float(), {t: f.float() for t, f in feats.items()}
        gram = normalized_style_loss(feats, setup.targets.gram).mean()
        color = color_loss(output, setup.targets.color_target(setup.eval_batch)).mean()
        distances[name] = float(config.style_weight * gram + config.color_weight * color)
    return distances


def softmax_weights(distances: dict[str, float], temperature: float) -> dict[str, float]:
    """``w_i ∝ exp(-d_i / (temperature * min d))``: a softmax over distances relative to the nearest style."""
    if not distances:
        raise ValueError("the style bank has no styles with Gram targets; zero-shot needs them")
    names = list(distances)
    d = torch.tensor([distances[n] for n in names], dtype=torch.float64)
    weights = torch.softmax(-d / (max(temperature, 1e-6) * d.min().clamp_min(1e-12)), 0)
    return {n: float(w) for n, w in zip(names, weights, strict=True)}


def mixture_style(bank: dict[str, PersonalStyle], weights: dict[str, float], name: str, keep: int = 6) -> PersonalStyle:
    """Mix the ``keep`` heaviest bank styles (weights renormalised) into one style."""
    top = sorted(weights.items(), key=lambda kv: -kv[1])[:keep]
    return mix_styles([(bank[n], w) for n, w in top if w > 0], name=name)


def zero_shot_style(
    pipe: PersonalStylePipeline,
    samples: Any,
    *,
    quality: str = "fast",
    content: Any = None,
    seed: int = 0,
    size: int | None = None,
    name: str = "zero-shot",
) -> PersonalStyle:
    """An instant style for ``samples`` (images or paths): :func:`zero_shot_start` without learning.

    Carries the samples' Gram targets at the preset's learning ``size`` (so ``pipe(...)`` reports metrics against
    them) and the mixture weights over the bank in ``metadata["mix"]``.
    """
    config = preset(quality, size=size)
    inputs = load_inputs(samples, content=content)
    return zero_shot_start(pipe, prepare(pipe, inputs, config, seed), inputs, config, name)


def zero_shot_distances(setup: LearnSetup, bank: dict[str, PersonalStyle], config: LearnConfig) -> dict[str, float]:
    """Each bank style's distance to the samples (for a pipeline without a style encoder): the distance of the
    samples' Gram targets to the style's own plus the distance of the style's output on the validation crops to the
    samples (Gram + colour), each divided by its smallest value. Each kind is confounded by the samples' own content
    (the targets by the exemplars' content, the measured outputs by the validation crops'), in different ways."""
    targets = bank_distances(setup.targets.gram, bank)
    if not targets:
        return {}  # softmax_weights says why
    measured = measured_distances(setup, bank, config)
    best_m = max(min(measured.values()), 1e-12)
    best_t = max(min(targets.values()), 1e-12)
    return {n: measured[n] / best_m + targets[n] / best_t for n in targets}


def mixture_start(setup: LearnSetup, bank: dict[str, PersonalStyle], config: LearnConfig, name: str) -> PersonalStyle:
    """The zero-shot style without a style encoder: softmax mixture weights over ``bank`` from Gram distances."""
    weights = softmax_weights(zero_shot_distances(setup, bank, config), config.temperature)
    mixed = mixture_style(bank, weights, name)
    targets = {t: g.cpu() for t, g in setup.targets.gram.items()}
    return PersonalStyle(
        name, mixed.code, mixed.norm_delta, targets, {"source": "zero-shot", "mix": mixed.metadata["mix"]}
    )


@torch.no_grad()
def encoder_start(pipe: PersonalStylePipeline, setup: LearnSetup, inputs: LearnInputs, name: str) -> PersonalStyle:
    """The zero-shot style from the pipeline's style encoder: all samples -> bank mixture weights and a colour LUT."""
    encoder = pipe.style_encoder
    missing = [n for n in encoder.config.bank_names if n not in pipe.styles]
    if missing:
        raise ValueError(f"the style encoder weighs bank styles this pipeline lacks: {', '.join(missing)}")
    samples = [fit_for_statistics(pil_to_tensor(s)[0]) for s in inputs.samples]
    loss_net = setup.loss_net
    stats = sample_statistics([s.to(setup.device) for s in samples], loss_net)
    logits, lut = encoder.to(setup.device)(stats)
    weights = dict(zip(encoder.config.bank_names, torch.softmax(logits[0], 0).tolist(), strict=True))
    mixed = mixture_style(pipe.styles, weights, name)
    targets = {t: g.cpu() for t, g in setup.targets.gram.items()}
    metadata = {"source": "zero-shot", "mix": mixed.metadata["mix"]}
    return PersonalStyle(name, mixed.code, mixed.norm_delta, targets, metadata, color_lut=lut[0].cpu())


def zero_shot_start(
    pipe: PersonalStylePipeline, setup: LearnSetup, inputs: LearnInputs, config: LearnConfig, name: str
) -> PersonalStyle:
    """The instant style: :func:`encoder_start` when the pipeline has a style encoder, else :func:`mixture_start`."""
    if getattr(pipe, "style_encoder", None) is not None:
        return encoder_start(pipe, setup, inputs, name)
    return mixture_start(setup, pipe.styles, config, name)
