"""Few-shot personal style learning: an instant zero-shot start, then a short adaptation loop.

Split by concept: ``learn_inputs`` (validated images, crops), ``learn_presets`` (one config per quality),
``learn_objective`` (targets and loss terms), ``learn_setup`` (frozen networks, fitted images), ``learn_start``
(the zero-shot start: the style encoder, or a bank mixture), ``learn_loop`` (the adaptation loop). Plain functions
around :class:`accelerate.Accelerator` (bf16 autocast on GPU, fp32 on CPU). The shared generator never changes:
only the new style code (and, for the higher presets, a per-layer adapter ``norm_delta``) and its colour LUT are
optimised, so a learned style is a few kilobytes and mixes with the bank like any other. The loop returns its own
best checkpoint on samples it never fitted (from three samples up a fifth of them is withheld for that).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .learn_inputs import (
    CONTENT_DIR,
    MAX_CONTENT,
    MAX_SAMPLES,
    MIN_SIDE,
    LearnInputs,
    builtin_content,
    fit_image,
    load_inputs,
)
from .learn_loop import Callback, LoopState, init_state, metrics_and_previews, run_loop, validation_objective
from .learn_objective import CONTENT_TAP, STYLE_TAPS, StyleTargets, style_terms, weighted_objective, withheld_count
from .learn_presets import PRESETS, LearnConfig, preset
from .learn_setup import LearnSetup, prepare
from .learn_start import mixture_start, zero_shot_start, zero_shot_style
from .style import PersonalStyle

if TYPE_CHECKING:
    from .pipeline import PersonalStylePipeline

__all__ = [
    "CONTENT_DIR",
    "CONTENT_TAP",
    "MAX_CONTENT",
    "MAX_SAMPLES",
    "MIN_SIDE",
    "PRESETS",
    "STYLE_TAPS",
    "Callback",
    "LearnConfig",
    "LearnInputs",
    "LearnSetup",
    "StyleTargets",
    "builtin_content",
    "fit_image",
    "learn",
    "load_inputs",
    "mixture_start",
    "prepare",
    "preset",
    "style_terms",
    "validation_objective",
    "weighted_objective",
    "withheld_count",
    "zero_shot_style",
]


def learn(
    pipe: PersonalStylePipeline,
    inputs: LearnInputs,
    config: LearnConfig,
    *,
    name: str = "my-style",
    seed: int = 0,
    callback: Callback | None = None,
    quality: str = "custom",
) -> PersonalStyle:
    """Learn a :class:`PersonalStyle` from validated ``inputs``; the pipeline's weights are left unchanged.

    ``callback(step, total, losses, preview)`` runs once at step 0 with the zero-shot start's preview, then
    after every step (``preview`` is a small PIL image every ``preview_every`` steps and at the end, else None);
    returning True stops early. Non-finite losses or gradients restore the best state and halve the learning
    rates; a fourth failure ends the run. The loop's
    checkpoint with the lowest validation objective (fixed crops, scored against the samples withheld from the
    loop's targets by ``config.holdout``) is returned; the zero-shot start only if no checkpoint validated. The
    returned style's ``zero_shot`` is the start, so callers can offer both. Deterministic for a seed on CPU.
    """
    started = time.perf_counter()
    # 1. frozen networks, images at the learning scale, Gram targets
    setup = prepare(pipe, inputs, config, seed)
    # 2. the zero-shot start
    start = zero_shot_start(pipe, setup, inputs, config, name)
    if start.color_lut is not None:  # the encoder judges colour as a transform, not as the samples' moments
        lut = start.color_lut.to(setup.device)
        for targets in {id(t): t for t in (setup.targets, setup.train_targets, setup.validation_targets)}.values():
            targets.color_lut = lut
    zero_shot_seconds = time.perf_counter() - started
    # 3. adaptation
    state = init_state(pipe, setup, start, config, seed)
    history, cancelled = run_loop(setup, state, config, callback)
    # 4. the best state, its metrics and previews
    state.restore()
    style = learned_style(name, state, setup)
    metrics, style.previews = metrics_and_previews(setup, style, start, inputs.content, config.preview_side)
    style.metadata = {
        "source": "learned" if config.steps else "zero-shot",
        "quality": quality,
        "samples": len(inputs.samples),
        "withheld": len(inputs.samples) - len(setup.samples),
        "pairs": len(inputs.pairs),
        "content": "built-in" if inputs.builtin_content else len(inputs.content),
        "steps": sum(1 for h in history if h["step"] and "recovered" not in h),
        "kept_step": state.best_step,  # 0: the zero-shot start (no steps, or none validated)
        "seconds": round(time.perf_counter() - started, 2),
        "zero_shot_seconds": round(zero_shot_seconds, 2),
        "device": str(setup.device),
        "seed": seed,
        "size": config.size,
        "adapters": config.adapters,
        "cancelled": cancelled,
        "recoveries": state.recoveries,
        "zero_shot_mix": start.metadata["mix"],
        "history": history,
        "metrics": metrics,
    }
    style.zero_shot = start if config.steps else None
    return style


def learned_style(name: str, state: LoopState, setup: LearnSetup) -> PersonalStyle:
    """The loop's (restored) best state as a style on the CPU, with the samples' Gram targets."""
    return PersonalStyle(
        name,
        state.code.detach().cpu(),
        None if state.norm_delta is None else state.norm_delta.detach().cpu(),
        {t: g.cpu() for t, g in setup.targets.gram.items()},
        color_lut=None if state.color_lut is None else state.color_lut.detach().cpu(),
    )
