"""Random colour grades: the look family the style encoder learns from (``training/encoder.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import vignette as _vignette


def _smoothstep(a: np.ndarray) -> np.ndarray:
    a = np.clip(a, 0, 1)
    return a * a * (3 - 2 * a)


def _hue_color(rng: np.random.Generator) -> np.ndarray:
    """A random saturated colour (unit max) from a hue."""
    hue = rng.uniform(0, 1)
    rgb = np.clip(np.abs((hue * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)
    return rgb.astype(np.float32)


def random_grade(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A random photo preset as a function of (H, W, 3) float arrays in [0, 1]: exposure, white balance, contrast,
    per-channel curves, fade, saturation (down to black and white with toning), split toning, a channel mix and,
    sometimes, a vignette and film grain. Each part is on with its own probability, so grades range from a slight
    warm shift to a strong duotone."""
    on = lambda p: rng.uniform() < p  # noqa: E731
    exposure = 2 ** rng.uniform(-0.7, 0.7) if on(0.5) else 1.0
    temp = rng.normal(0, 0.12) if on(0.6) else 0.0
    tint = rng.normal(0, 0.06) if on(0.4) else 0.0
    balance = np.array([1 + temp, 1 + tint, 1 - temp], np.float32)
    contrast = rng.uniform(-0.6, 1.0) if on(0.6) else 0.0
    gammas = 2 ** rng.normal(0, 0.25, 3) if on(0.5) else np.ones(3)
    lift = rng.uniform(0, 0.12, 3) * (rng.uniform() < 0.5) + (rng.uniform(0, 0.2) if on(0.4) else 0.0)
    gain = 1 - (rng.uniform(0, 0.25) if on(0.3) else 0.0) - rng.uniform(0, 0.08, 3) * (rng.uniform() < 0.4)
    saturation = rng.choice([0.0, rng.uniform(0.0, 0.6), rng.uniform(0.6, 1.0), rng.uniform(1.0, 1.8)])
    toning = (_hue_color(rng), _hue_color(rng), rng.uniform(0.3, 1.0)) if saturation < 0.3 and on(0.6) else None
    split = (_hue_color(rng), _hue_color(rng), rng.uniform(0.05, 0.3)) if on(0.45) else None
    mix = np.eye(3, dtype=np.float32) + (rng.normal(0, 0.1, (3, 3)).astype(np.float32) if on(0.3) else 0)
    vignette = rng.uniform(0.3, 0.9) if on(0.2) else 0.0
    grain = rng.uniform(0.01, 0.06) if on(0.2) else 0.0
    seed = int(rng.integers(1 << 31))

    def grade(a: np.ndarray) -> np.ndarray:
        a = np.clip(a * exposure * balance, 0, 1) @ mix.T
        a = np.clip(a, 0, 1)
        if contrast:
            a = a + contrast * (_smoothstep(a) - a)
        a = np.clip(a, 0, 1) ** gammas
        lum = a @ np.array([0.3, 0.59, 0.11], np.float32)
        a = lum[..., None] + saturation * (a - lum[..., None])
        if toning is not None:
            shadow, highlight, amount = toning
            toned = (1 - lum[..., None]) * shadow * lum[..., None] * 2 + lum[..., None] ** 1.5 * (0.5 + 0.5 * highlight)
            a = a + amount * (np.clip(toned, 0, 1) - a)
        if split is not None:
            shadow, highlight, amount = split
            a = a + amount * ((1 - lum[..., None]) ** 2 * (shadow - 0.5) + lum[..., None] ** 2 * (highlight - 0.5))
        a = lift + (gain - lift) * np.clip(a, 0, 1)
        if vignette:
            a = a * _vignette(a.shape[0], a.shape[1], vignette)
        if grain:
            a = a + np.random.default_rng(seed).normal(0, grain, a.shape[:2])[..., None]
        return np.clip(a, 0, 1).astype(np.float32)

    return grade
