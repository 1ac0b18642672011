"""Looks that only the benchmarks use: nothing in training (the generator's bank, the style encoder's random looks)
ever sees them, so learning them measures how learning generalises. Each is a deterministic function PIL -> PIL.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageFilter


def _arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _img(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def _lum(a: np.ndarray) -> np.ndarray:
    return a @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def cross_process(image: Image.Image) -> Image.Image:
    """Colour grade: cross-processed film, contrasty red curve, lifted greens, crushed blues, yellow cast."""
    a = _arr(image)
    sig = lambda v: 1 / (1 + np.exp(-(v - 0.5) * 7))  # noqa: E731
    r = (sig(a[..., 0]) - sig(0.0)) / (sig(1.0) - sig(0.0))
    g = 0.08 + 0.9 * a[..., 1] ** 0.85
    b = 0.18 + 0.55 * a[..., 2]
    return _img(np.stack([r, g, b], -1))


def riso_duotone(image: Image.Image) -> Image.Image:
    """Filter chain: grey, unsharp mask, 4-level posterisation, two-ink palette on cream paper, misregistration."""
    grey = image.convert("L").filter(ImageFilter.UnsharpMask(radius=2, percent=160, threshold=2))
    levels = np.minimum((np.asarray(grey, np.float32) / 256 * 4).astype(int), 3)
    palette = np.array([[0.12, 0.16, 0.45], [0.55, 0.22, 0.5], [0.95, 0.45, 0.6], [0.96, 0.93, 0.85]], np.float32)
    out = palette[levels]
    out[..., 0] = np.roll(out[..., 0], 2, axis=1)  # the pink drum is two pixels off
    return _img(out)


def crosshatch(image: Image.Image) -> Image.Image:
    """Texture: pen hatching in up to three directions by darkness, on paper (fixed 6 px line spacing)."""
    lum = _arr(image) @ np.array([0.3, 0.59, 0.11], np.float32)
    h, w = lum.shape
    y, x = np.mgrid[0:h, 0:w]
    dark = 1 - lum
    ink = ((x + y) % 6 < 1.6) & (dark > 0.3)
    ink |= ((x - y) % 6 < 1.6) & (dark > 0.55)
    ink |= (y % 6 < 1.6) & (dark > 0.78)
    paper, pen = np.array([0.97, 0.95, 0.9]), np.array([0.15, 0.12, 0.1])
    return _img(np.where(ink[..., None], pen, paper))


def bright_airy(image: Image.Image) -> Image.Image:
    """Photo preset: bright and airy. Exposure up, shadows lifted, highlights rolled off, cooler whites,
    muted greens and oranges."""
    a = _arr(image)
    a = 1 - (1 - a) ** 1.6  # brighter, shadows opened more than highlights
    lum = _lum(a)[..., None]
    a = lum + 0.75 * (a - lum)
    a = a * np.array([0.97, 1.0, 1.04], np.float32) + 0.04
    return _img(0.06 + 0.92 * a)


def moody_grain(image: Image.Image) -> Image.Image:
    """Photo preset: moody. Crushed, green-teal shadows, desaturated, darker midtones, strong vignette and film
    grain (fixed seed)."""
    a = _arr(image)
    lum = _lum(a)[..., None]
    a = lum + 0.55 * (a - lum)
    a = a**1.35
    a = a + (1 - lum) ** 3 * np.array([-0.02, 0.05, 0.04], np.float32)
    h, w = a.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
    a = a * (1 - 0.55 * np.clip(r - 0.3, 0, None) ** 1.3)[..., None]
    a = a + np.random.default_rng(7).normal(0, 0.035, (h, w))[..., None]
    return _img(0.04 + 0.9 * a)


def warm_film(image: Image.Image) -> Image.Image:
    """Photo preset: warm film stock. Golden cast (red up, blue down), faded blacks, soft contrast, orange
    highlights, fine grain."""
    a = _arr(image)
    a = np.stack([a[..., 0] ** 0.8, a[..., 1] ** 0.95, a[..., 2] ** 1.3], -1)
    lum = _lum(a)[..., None]
    a = a + 0.12 * lum**2 * (np.array([1.0, 0.55, 0.1], np.float32) - 0.5)
    a = 0.1 + 0.85 * a
    a = a + np.random.default_rng(3).normal(0, 0.015, a.shape[:2])[..., None]
    return _img(a)


def cyanotype(image: Image.Image) -> Image.Image:
    """Print process: cyanotype. Luminance only, mapped from Prussian blue to paper white."""
    lum = _lum(_arr(image))
    lum = np.clip((lum - 0.05) / 0.9, 0, 1) ** 0.9
    dark, paper = np.array([0.02, 0.16, 0.38], np.float32), np.array([0.93, 0.96, 0.97], np.float32)
    a = dark + lum[..., None] * (paper - dark)
    return _img(a)


def oil_paint(image: Image.Image, radius: int = 4) -> Image.Image:
    """Painterly filter: a Kuwahara filter (each pixel takes the mean of the least varied of its four quadrants,
    which flattens texture into strokes and keeps edges), a little saturation, and canvas weave."""
    a = _arr(image)
    k = radius + 1
    mean = cv2.blur(a, (k, k), borderType=cv2.BORDER_REFLECT)
    sq = cv2.blur(a * a, (k, k), borderType=cv2.BORDER_REFLECT)
    var = (sq - mean * mean).sum(2)
    h, w = var.shape
    best_mean, best_var = np.zeros_like(a), np.full((h, w), np.inf, np.float32)
    pad = radius // 2 + 1
    padded_mean = np.pad(mean, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    padded_var = np.pad(var, pad, mode="edge")
    for dy in (-1, 1):
        for dx in (-1, 1):
            oy, ox = pad + dy * (radius // 2), pad + dx * (radius // 2)
            m = padded_mean[oy : oy + h, ox : ox + w]
            v = padded_var[oy : oy + h, ox : ox + w]
            take = v < best_var
            best_var = np.where(take, v, best_var)
            best_mean = np.where(take[..., None], m, best_mean)
    lum = _lum(best_mean)[..., None]
    out = lum + 1.2 * (best_mean - lum)
    y, x = np.mgrid[0:h, 0:w]
    weave = 1 + 0.035 * (np.sin(x * 1.9) * np.sin(y * 1.9))
    return _img(out * weave[..., None])


HELD_OUT_LOOKS = {  # name: (kind, function)
    "cross_process": ("colour grade", cross_process),
    "bright_airy": ("photo preset", bright_airy),
    "moody_grain": ("photo preset", moody_grain),
    "warm_film": ("photo preset", warm_film),
    "cyanotype": ("print process", cyanotype),
    "riso_duotone": ("filter chain", riso_duotone),
    "oil_paint": ("painterly filter", oil_paint),
    "crosshatch": ("texture", crosshatch),
}
