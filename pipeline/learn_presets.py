"""Learning presets: one :class:`LearnConfig` per quality (``instant``, ``fast``, ``balanced``, ``best``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .learn_inputs import MIN_SIDE


@dataclass
class LearnConfig:
    """One learning preset. Sizes are in pixels; weights multiply the losses named after them."""

    size: int = 160  # square crop side the loop trains on
    image_side: int = 256  # samples/content are first fitted to this long side (sets the texture scale)
    steps: int = 60
    batch_size: int = 2
    code_lr: float = 0.01  # larger steps walk the code into regions the generator was never trained on
    adapters: bool = False  # also learn norm_delta, one scale/shift per normalised channel
    adapter_lr: float = 0.01
    adapter_decay: float = 1.0  # L2 pull of norm_delta toward zero (keeps styles mixable)
    # > 0: without a style encoder's LUT to start from, the loop learns a colour LUT from the identity; an encoder's
    # LUT stays as predicted (refining it with the colour moments lowered SSIM on held-out looks)
    lut_lr: float = 0.0
    lut_smooth_weight: float = 0.1  # on lut_smoothness, when the LUT is refined
    # loss weights as in pretraining, so the learned code lives where the generator was trained to balance them
    style_weight: float = 0.1  # scale-invariant Gram loss (x100), summed over STYLE_TAPS
    content_weight: float = 6.0  # relative relu2_2 content loss
    color_weight: float = 20.0  # per-channel colour mean/std vs the samples, relative to ordinary photos
    color_map_weight: float = 150.0  # no blobs: low-frequency change is a colour curve
    tv_weight: float = 0.5
    cycle_weight: float = 1.0
    cycle_every: int = 2
    adv_weight: float = 0.0  # 0 turns the discriminator off
    adv_start: int = 0  # first step with the adversarial loss (the discriminator warms up from step 0)
    d_lr: float = 2e-4
    pair_weight: float = 4.0  # on L1 + relative perceptual loss of G(before) vs after
    style_scales: tuple[float, ...] = (1.0, 0.7)  # sample scales for Gram targets and discriminator crops
    crops_per_sample: int = 2  # random crops per sample and scale in the Gram target pool
    temperature: float = 0.25  # zero-shot softmax temperature, relative to the nearest bank style's distance
    preview_every: int = 10
    preview_side: int = 128
    eval_every: int = 10  # steps between validations on fixed crops (the best validated state is returned)
    # share of the samples (the last ones; at least one, from MIN_TO_WITHHOLD samples up) kept out of the loop's
    # targets: validation scores the loop's checkpoints against them, so the returned state is the one that
    # generalises to samples the loop never fitted; 0 validates against the loop's own targets
    holdout: float = 0.2
    lr_floor: float = 0.1  # cosine decay of every learning rate to this fraction

    def __post_init__(self) -> None:
        for name in ("size", "image_side", "batch_size", "crops_per_sample", "preview_side", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"LearnConfig.{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.holdout) < 1.0:
            raise ValueError(f"LearnConfig.holdout must be in [0, 1), got {self.holdout!r}")
        if int(self.steps) < 0:
            raise ValueError(f"LearnConfig.steps must be 0 (the zero-shot start only) or more, got {self.steps!r}")
        if self.size < MIN_SIDE:
            raise ValueError(f"LearnConfig.size must be at least {MIN_SIDE} px, got {self.size}")


PRESETS: dict[str, LearnConfig] = {
    "instant": LearnConfig(steps=0),
    "fast": LearnConfig(lut_lr=0.1),
    "balanced": LearnConfig(size=192, image_side=320, steps=120, adapters=True),
    "best": LearnConfig(size=224, image_side=384, steps=200, adapters=True),
}
# "instant" is the zero-shot start alone (the style encoder, or the bank mixture without one); the others adapt it.
# Measured in benchmarks/bench_learn.py (docs/results.md).


def preset(quality: str, steps: int | None = None, size: int | None = None) -> LearnConfig:
    """The :data:`PRESETS` entry for ``quality``, with ``steps``/``size`` overrides (``image_side`` follows ``size``)."""
    if quality not in PRESETS:
        raise ValueError(f"quality must be one of {', '.join(PRESETS)}; got {quality!r}")
    config = PRESETS[quality]
    if steps is not None:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        config = replace(config, steps=steps)
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < MIN_SIDE:
            raise ValueError(f"size must be an integer of at least {MIN_SIDE} px, got {size!r}")
        config = replace(config, size=size, image_side=max(size, round(size * config.image_side / config.size)))
    return config
