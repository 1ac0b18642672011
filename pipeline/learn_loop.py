"""The adaptation loop: the state it trains (code, adapter, colour LUT, discriminator copy), one step's losses and
gradients, validation of checkpoints, NaN recovery and the callback. Cycle consistency G(G(x|s)|photo) ~ x (Zhu et
al. 2017); hinge adversarial loss from a copy of the conditional discriminator with differentiable augmentation
(Zhao et al. 2020); with before/after pairs, a paired L1 + relative perceptual loss."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from PIL import Image

from .augment import diff_augment
from .color import apply_lut, identity_lut
from .discriminator import Discriminator
from .images import pil_to_tensor, tensor_to_pil
from .learn_inputs import random_crop, sample_crop
from .learn_objective import CONTENT_TAP, PAIR_TAPS, STYLE_TAPS, StyleTargets, style_terms, weighted_objective
from .learn_presets import LearnConfig
from .learn_setup import LearnSetup, _discriminator_copy
from .losses import (
    cycle_loss,
    d_hinge_loss,
    g_hinge_loss,
    lut_smoothness,
    perceptual_loss,
    relative_gram_distance,
)
from .style import PersonalStyle

if TYPE_CHECKING:
    from .pipeline import PersonalStylePipeline

MAX_RECOVERIES = 3


Callback = Callable[[int, int, dict[str, float], "Image.Image | None"], "bool | None"]


@dataclass
class LoopState:
    """What the loop trains, and the best-so-far copy that recovery and cancellation return to."""

    code: torch.nn.Parameter  # (code_dim,)
    norm_delta: torch.nn.Parameter | None  # (norm_params,) adapter, or None at code-only presets
    optimizer: torch.optim.Optimizer
    discriminator: Discriminator | None = None
    d_optimizer: torch.optim.Optimizer | None = None
    color_lut: torch.Tensor | None = None  # (3, n, n, n) the start's colour transform, fixed during the loop
    best: dict[str, Any] = field(default_factory=dict)
    best_objective: float = math.inf  # the lowest validation objective of a checkpoint so far
    best_step: int = 0  # the step the best state is from (0: the zero-shot start, kept only if the loop diverged)
    recoveries: int = 0

    @property
    def delta(self) -> torch.Tensor | None:
        """(1, norm_params) adapter for the generator, or None."""
        return None if self.norm_delta is None else self.norm_delta[None]

    def snapshot(self, objective: float, step: int = 0) -> None:
        self.best_objective, self.best_step = objective, step
        self.best = {
            "code": self.code.detach().clone(),
            "color_lut": None if self.color_lut is None else self.color_lut.detach().clone(),
            "norm_delta": None if self.norm_delta is None else self.norm_delta.detach().clone(),
            "discriminator": None if self.discriminator is None else copy.deepcopy(self.discriminator.state_dict()),
        }

    def restore(self) -> None:
        with torch.no_grad():
            self.code.copy_(self.best["code"])
            if self.color_lut is not None:
                self.color_lut.copy_(self.best["color_lut"])
            if self.norm_delta is not None:
                self.norm_delta.copy_(self.best["norm_delta"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(self.best["discriminator"])

    def recover(self) -> None:
        """Back to the best state, every learning rate halved, optimiser moments cleared."""
        self.restore()
        self.recoveries += 1
        for opt in (self.optimizer, self.d_optimizer):
            if opt is not None:
                opt.state.clear()
                for group in opt.param_groups:
                    group["base_lr"] *= 0.5


def init_state(
    pipe: PersonalStylePipeline, setup: LearnSetup, start: PersonalStyle, config: LearnConfig, seed: int
) -> LoopState:
    """Parameters initialised from the zero-shot ``start`` (adapter from zero; a colour LUT from the identity when
    the start has none and ``lut_lr`` > 0, else the start's LUT, fixed), their Adam optimisers, and a copy of the
    discriminator when the preset is adversarial."""
    device = setup.device
    code = torch.nn.Parameter(start.code.clone().to(device))
    groups = [{"params": [code], "lr": config.code_lr, "base_lr": config.code_lr}]
    norm_delta = None
    if config.adapters:
        initial = start.norm_delta if start.norm_delta is not None else torch.zeros(setup.generator.norm_params)
        norm_delta = torch.nn.Parameter(initial.clone().to(device))
        groups.append({"params": [norm_delta], "lr": config.adapter_lr, "base_lr": config.adapter_lr})
    lut = None if start.color_lut is None else start.color_lut.to(device)
    if config.lut_lr > 0 and lut is None:
        lut = torch.nn.Parameter(identity_lut(device=device))
        groups.append({"params": [lut], "lr": config.lut_lr, "base_lr": config.lut_lr})
    state = LoopState(code, norm_delta, torch.optim.Adam(groups), color_lut=lut)
    if config.adv_weight > 0:
        state.discriminator = _discriminator_copy(pipe, setup.generator.config.code_dim, seed, device)
        d_group = {"params": list(state.discriminator.parameters()), "lr": config.d_lr, "base_lr": config.d_lr}
        state.d_optimizer = torch.optim.Adam([d_group], betas=(0.0, 0.99))
    return state


def _set_lr(state: LoopState, step: int, config: LearnConfig) -> float:
    """Cosine decay from each group's base rate to ``lr_floor`` of it; returns the code's current rate."""
    factor = config.lr_floor + (1 - config.lr_floor) * 0.5 * (1 + math.cos(math.pi * step / max(1, config.steps)))
    for opt in (state.optimizer, state.d_optimizer):
        if opt is not None:
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor
    return state.optimizer.param_groups[0]["lr"]


def draw_batch(setup: LearnSetup, config: LearnConfig) -> dict[str, torch.Tensor]:
    """Random content crops ``content`` (B, 3, S, S) and, with pairs, aligned ``before``/``after`` (1, 3, s, s),
    s <= S (pairs are never enlarged)."""
    rng = setup.content_rng
    crops = [
        random_crop(setup.content[rng.randrange(len(setup.content))], config.size, rng, rng.uniform(0.75, 1.0))
        for _ in range(config.batch_size)
    ]
    batch = {"content": torch.stack(crops).clamp(0, 1).to(setup.device)}
    if setup.pairs:
        rng = setup.pair_rng
        pair = setup.pairs[rng.randrange(len(setup.pairs))]
        both = sample_crop(pair, config.size, rng, rng.uniform(0.75, 1.0))[None].clamp(0, 1).to(setup.device)
        batch["before"], batch["after"] = both[:, :3], both[:, 3:]
    return batch


def pair_loss(setup: LearnSetup, state: LoopState, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """L1 + relative perceptual (relu2_2, relu3_3) distance of G(before) to after, both (1, 3, S, S) -> scalar."""
    with setup.accelerator.autocast():
        restyled = restyle(setup, state, before)
        feats = setup.loss_net(restyled, PAIR_TAPS)
        with torch.no_grad():
            target = setup.loss_net(after, PAIR_TAPS)
    norm = {t: target[t].float().pow(2).mean().clamp_min(1e-12).sqrt() for t in PAIR_TAPS}
    perceptual = perceptual_loss(
        {t: feats[t].float() / norm[t] for t in PAIR_TAPS}, {t: target[t].float() / norm[t] for t in PAIR_TAPS}
    )
    return (restyled.float() - after).abs().mean() + perceptual


def restyle(setup: LearnSetup, state: LoopState, x: torch.Tensor) -> torch.Tensor:
    """The state's look on (B, 3, S, S) ``x``: the generator with its code (and adapter), then its colour LUT."""
    y = setup.generator(x, state.code[None], state.delta)
    return y if state.color_lut is None else apply_lut(y, state.color_lut)


def core_losses(
    setup: LearnSetup, state: LoopState, x: torch.Tensor, targets: StyleTargets
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """:func:`style_terms` of G(x) for content crops ``x`` (B, 3, S, S) against ``targets``; returns (losses, G(x)
    in fp32)."""
    y, feats, x_content = stylized_features(setup, state, x)
    return style_terms(y, feats, x_content, targets, x), y


def stylized_features(
    setup: LearnSetup, state: LoopState, x: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """G(x) (B, 3, S, S), its loss-net taps (differentiable) and the input's content tap (no gradient), in fp32."""
    with setup.accelerator.autocast():
        y = restyle(setup, state, x)
        feats = setup.loss_net(y, STYLE_TAPS)
        with torch.no_grad():
            x_content = setup.loss_net(x, (CONTENT_TAP,))[CONTENT_TAP]
    return y.float(), {t: f.float() for t, f in feats.items()}, x_content.float()


def generator_losses(
    setup: LearnSetup, state: LoopState, batch: dict[str, torch.Tensor], config: LearnConfig, step: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """One step's generator losses (adversarial excluded) and the stylised content (B, 3, S, S)."""
    x = batch["content"]
    losses, y = core_losses(setup, state, x, setup.train_targets)
    if config.cycle_weight and step % config.cycle_every == 0:
        with setup.accelerator.autocast():
            back = setup.generator(y, setup.photo_code[None])
        losses["cycle"] = cycle_loss(back.float(), x)
    if "before" in batch:
        losses["pair"] = pair_loss(setup, state, batch["before"], batch["after"])
    if state.norm_delta is not None:
        losses["adapter"] = state.norm_delta.pow(2).mean()
    if isinstance(state.color_lut, torch.nn.Parameter):
        losses["lut_smooth"] = lut_smoothness(state.color_lut[None])
    return losses, y


@torch.no_grad()
def validation_objectives(
    setup: LearnSetup, state: LoopState, config: LearnConfig, targets: Sequence[StyleTargets]
) -> list[float]:
    """The objective's deterministic terms (style, content, colour, TV, pair, adapter) on the fixed crops, once per
    entry of ``targets``; the crops are stylised once and scored against each."""
    x = setup.eval_batch
    y, feats, x_content = stylized_features(setup, state, x)
    shared = {}
    if setup.eval_pair is not None:
        shared["pair"] = pair_loss(setup, state, setup.eval_pair[:, :3], setup.eval_pair[:, 3:])
    if state.norm_delta is not None:
        shared["adapter"] = state.norm_delta.pow(2).mean()
    return [float(weighted_objective({**style_terms(y, feats, x_content, t, x), **shared}, config)) for t in targets]


def validation_objective(
    setup: LearnSetup, state: LoopState, config: LearnConfig, targets: StyleTargets | None = None
) -> float:
    """:func:`validation_objectives` against ``targets``: by default the withheld samples' (the loop's own when none
    is withheld)."""
    return validation_objectives(setup, state, config, [setup.validation_targets if targets is None else targets])[0]


def discriminator_step(setup: LearnSetup, state: LoopState, fake: torch.Tensor, config: LearnConfig) -> torch.Tensor:
    """One hinge step of the discriminator copy: real = multi-scale sample crops, fake = ``fake`` (B, 3, S, S)."""
    rng, disc = setup.disc_rng, state.discriminator
    real = []
    for _ in range(fake.shape[0]):
        crop = sample_crop(
            setup.samples[rng.randrange(len(setup.samples))], config.size, rng, rng.choice(config.style_scales)
        )
        real.append(F.interpolate(crop[None], size=fake.shape[-2:], mode="bilinear", align_corners=False)[0])
    real = torch.stack(real).clamp(0, 1).to(fake.device)
    code = state.code.detach()[None].expand(fake.shape[0], -1)
    disc.requires_grad_(True)
    with setup.accelerator.autocast():
        real_logits = disc(diff_augment(real, setup.aug), code)
        fake_logits = disc(diff_augment(fake.detach(), setup.aug), code)
    loss = d_hinge_loss(real_logits.float(), fake_logits.float())
    state.d_optimizer.zero_grad(set_to_none=True)
    setup.accelerator.backward(loss)
    state.d_optimizer.step()
    return loss.detach()


def _finite(*tensors: torch.Tensor | None) -> bool:
    return all(t is None or bool(torch.isfinite(t).all()) for t in tensors)


def backward_step(
    setup: LearnSetup, state: LoopState, config: LearnConfig, step: int
) -> tuple[dict[str, float], torch.Tensor] | None:
    """Losses and gradients of one step (nothing updated yet): returns the losses as floats and the stylised
    batch (B, 3, S, S), or None when a loss or a gradient is not finite."""
    batch = draw_batch(setup, config)
    losses, y = generator_losses(setup, state, batch, config, step)
    objective = weighted_objective(losses, config)
    total = objective
    if state.discriminator is not None and step >= config.adv_start:
        state.discriminator.requires_grad_(False)
        with setup.accelerator.autocast():
            fake_logits = state.discriminator(diff_augment(y, setup.aug), state.code[None].expand(y.shape[0], -1))
        losses["g_adv"] = g_hinge_loss(fake_logits.float())
        total = total + config.adv_weight * losses["g_adv"]
    if not _finite(total):
        return None
    state.optimizer.zero_grad(set_to_none=True)
    setup.accelerator.backward(total)
    lut_grad = state.color_lut.grad if isinstance(state.color_lut, torch.nn.Parameter) else None
    if not _finite(state.code.grad, None if state.norm_delta is None else state.norm_delta.grad, lut_grad):
        return None
    record = {k: float(v.detach()) for k, v in losses.items()}
    record["objective"] = float(objective.detach())
    return record, y.detach()


@torch.no_grad()
def stylize(
    setup: LearnSetup,
    x: torch.Tensor,
    code: torch.Tensor,
    delta: torch.Tensor | None,
    color_lut: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, 3, H, W) -> stylised (B, 3, H, W) in fp32 with a (code_dim,) code, optional (norm_params,) adapter and
    optional (3, n, n, n) colour LUT."""
    x = x.to(setup.device)
    y = setup.generator(x, code.to(setup.device)[None], None if delta is None else delta.to(setup.device)[None])
    return y.float() if color_lut is None else apply_lut(y.float(), color_lut.to(setup.device))


def run_loop(
    setup: LearnSetup, state: LoopState, config: LearnConfig, callback: Callback | None
) -> tuple[list[dict[str, float]], bool]:
    """``config.steps`` steps with NaN recovery, validation every ``eval_every`` steps and the callback; returns
    (history, cancelled). Keeps the loop's checkpoint with the lowest validation objective (against the withheld
    samples when any, else the loop's own targets); the zero-shot start stays only when no step validated (the loop
    diverged, or was cancelled before its first validation)."""
    start = validation_objective(setup, state, config)
    state.snapshot(math.inf)  # the start, kept only if no checkpoint validates
    history: list[dict[str, float]] = [{"step": 0, "validation": round(start, 6)}]

    def preview() -> Image.Image:
        return tensor_to_pil(stylize(setup, setup.eval_batch[:1], state.code, state.norm_delta, state.color_lut).cpu())

    if callback is not None and callback(0, config.steps, {"validation": start}, preview()) is True:
        return history, True

    def validate(step: int) -> float:
        value = validation_objective(setup, state, config)
        if math.isfinite(value) and value < state.best_objective:
            state.snapshot(value, step)
        return value

    for step in range(config.steps):
        lr = _set_lr(state, step, config)
        result = backward_step(setup, state, config, step)
        if result is None:
            if state.recoveries >= MAX_RECOVERIES:
                break
            state.recover()
            history.append({"step": step + 1, "recovered": 1.0, "lr": lr})
            continue
        record, stylized = result
        state.optimizer.step()
        if state.discriminator is not None:
            record["d"] = float(discriminator_step(setup, state, stylized, config))
        last = step + 1 == config.steps
        if last or (step + 1) % config.eval_every == 0:
            record["validation"] = validate(step + 1)
        history.append({"step": step + 1, **{k: round(v, 6) for k, v in record.items()}, "lr": lr})
        if callback is not None:
            image = preview() if last or (step + 1) % config.preview_every == 0 else None
            if callback(step + 1, config.steps, record, image) is True:
                if "validation" not in record:
                    validate(step + 1)
                return history, True
    return history, False


def metrics_and_previews(
    setup: LearnSetup, style: PersonalStyle, start: PersonalStyle, content: list[Image.Image], preview_side: int
) -> tuple[dict[str, dict[str, float]], list[Image.Image]]:
    """Relative Gram distance to the sample targets (per tap) of the fixed content crops stylised with the learned
    and the zero-shot style, and of the unstyled crops; and two small previews (long side ``preview_side``)."""

    @torch.no_grad()
    def gram_distances(images: torch.Tensor) -> dict[str, float]:
        feats = setup.loss_net(images, STYLE_TAPS)
        targets = setup.targets.gram
        return {t: round(float(relative_gram_distance(feats[t].float(), targets[t]).mean()), 6) for t in STYLE_TAPS}

    metrics = {
        "style_loss": gram_distances(stylize(setup, setup.eval_batch, style.code, style.norm_delta, style.color_lut)),
        "zero_shot_style_loss": gram_distances(
            stylize(setup, setup.eval_batch, start.code, start.norm_delta, start.color_lut)
        ),
        "input_style_loss": gram_distances(setup.eval_batch),
    }
    previews = []
    for image in content[:2]:
        small = image.copy()
        small.thumbnail((preview_side, preview_side), Image.Resampling.LANCZOS)
        restyled = stylize(setup, pil_to_tensor(small), style.code, style.norm_delta, style.color_lut)
        previews.append(tensor_to_pil(restyled.cpu()))
    return metrics, previews
