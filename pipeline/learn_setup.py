"""Everything the learning loop reads but never trains: frozen networks, images at the learning scale, targets."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from accelerate import Accelerator
from PIL import Image

from .discriminator import Discriminator
from .generator import Generator
from .learn_inputs import MIN_SIDE, LearnInputs, center_crop, fit_image
from .learn_objective import StyleTargets, mean_grams, per_sample_grams, withheld_count
from .learn_presets import LearnConfig
from .loss_net import LossNet
from .losses import color_moments, gram_spread

if TYPE_CHECKING:
    from .pipeline import PersonalStylePipeline

_ACCELERATOR: Accelerator | None = None


def get_accelerator() -> Accelerator:
    """The process-wide Accelerator (its state is a singleton): bf16 autocast on CUDA, fp32 on CPU."""
    global _ACCELERATOR
    if _ACCELERATOR is None:
        try:
            _ACCELERATOR = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
        except ValueError:  # another part of the process made one first with other settings: share its state
            _ACCELERATOR = Accelerator()
    return _ACCELERATOR


def _loss_net_on(pipe: PersonalStylePipeline, device: torch.device) -> LossNet:
    return pipe.loss_net if pipe.loss_net.device == device else copy.deepcopy(pipe.loss_net).to(device)


def _frozen_copy(generator: Generator, device: torch.device) -> Generator:
    """A frozen copy of the shared generator: the pipeline's own weights are never touched."""
    return copy.deepcopy(generator).to(device).requires_grad_(False).eval()


def _eval_content(
    content: list[Image.Image], config: LearnConfig, device: torch.device, count: int = 2
) -> torch.Tensor:
    """Central crops of the first ``count`` content photos -> (B, 3, size, size), for zero-shot and metrics."""
    fitted = [fit_image(c, config.image_side, config.size) for c in content[:count]]
    return torch.stack([center_crop(c, config.size) for c in fitted]).to(device)


def _discriminator_copy(pipe: PersonalStylePipeline, code_dim: int, seed: int, device: torch.device) -> Discriminator:
    """A trainable copy of the pipeline's discriminator, or a fresh seeded one if it has none."""
    if getattr(pipe, "discriminator", None) is not None:
        disc = copy.deepcopy(pipe.discriminator)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            disc = Discriminator(code_dim=code_dim)
    return disc.to(device).train().requires_grad_(True)


@dataclass
class LearnSetup:
    """Everything the loop reads but never trains: frozen networks, tensors at the learning scale, targets."""

    accelerator: Accelerator
    generator: Generator  # a frozen copy
    loss_net: LossNet
    samples: list[torch.Tensor]  # the loop's samples (3, H, W), shrunk to config.image_side, never enlarged
    content: list[torch.Tensor]  # (3, H, W) each
    pairs: list[torch.Tensor]  # (6, H, W) each: before and after stacked on channels, fitted like the samples
    targets: StyleTargets  # of all samples: the zero-shot start, metrics and the style's Gram targets
    train_targets: StyleTargets  # of the samples the loop fits (all but the withheld ones)
    validation_targets: StyleTargets  # of the withheld samples (the loop's own targets when none is withheld)
    eval_batch: torch.Tensor  # (B, 3, S, S) fixed content crops for zero-shot, validation, previews and metrics
    eval_pair: torch.Tensor | None  # (1, 6, S, S) centre crop of the first (before, after) pair, for validation
    photo_code: torch.Tensor  # (code_dim,)
    content_rng: random.Random  # separate streams: the content crops do not depend on which losses are on
    pair_rng: random.Random
    disc_rng: random.Random
    aug: torch.Generator

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def withholds(self) -> bool:
        """Whether validation scores against withheld samples (else against the loop's own targets)."""
        return self.validation_targets is not self.train_targets


def prepare(pipe: PersonalStylePipeline, inputs: LearnInputs, config: LearnConfig, seed: int) -> LearnSetup:
    """Copy the generator, fit the images to the learning scale and compute the samples' Gram targets (all of
    them, the loop's and the withheld ones')."""
    accelerator = get_accelerator()
    device = accelerator.device
    loss_net = _loss_net_on(pipe, device)
    fit = lambda image: fit_image(image, config.image_side, MIN_SIDE)  # noqa: E731
    samples = [fit(s) for s in inputs.samples]
    grams = per_sample_grams(loss_net, samples, random.Random(seed), config)
    content = [fit_image(c, config.image_side, config.size) for c in inputs.content]
    reference = color_moments(torch.cat([c.flatten(1) for c in content], 1)[None, :, :, None])[0].to(device)

    # the style term counts only the Gram distance above the samples' own spread: samples of other content than the
    # photos differ from their mean target by that much even when the look is matched
    floor = gram_spread(grams)

    def targets_of(indices: range) -> StyleTargets:
        pixels = torch.cat([samples[i].flatten(1) for i in indices], 1)[None, :, :, None]
        gram = mean_grams([grams[i] for i in indices])
        return StyleTargets(gram, color_moments(pixels)[0].to(device), reference, gram_floor=floor)

    kept = len(samples) - withheld_count(len(samples), config.holdout)
    targets = targets_of(range(len(samples)))
    train_targets = targets_of(range(kept)) if kept < len(samples) else targets
    validation_targets = targets_of(range(kept, len(samples))) if kept < len(samples) else targets
    pairs = [torch.cat([fit(before), fit(after)]) for before, after in inputs.pairs]
    return LearnSetup(
        accelerator=accelerator,
        generator=_frozen_copy(pipe.generator, device),
        loss_net=loss_net,
        samples=samples[:kept],
        content=content,
        pairs=pairs,
        targets=targets,
        train_targets=train_targets,
        validation_targets=validation_targets,
        eval_batch=_eval_content(inputs.content, config, device),
        eval_pair=center_crop(pairs[0], min(config.size, *pairs[0].shape[1:]))[None].to(device) if pairs else None,
        photo_code=pipe.photo_style().code.to(device),
        content_rng=random.Random(seed + 1),
        pair_rng=random.Random(seed + 2),
        disc_rng=random.Random(seed + 3),
        aug=torch.Generator(device=device).manual_seed(seed),
    )
