"""Photo presets as people use them: global colour and tone grades, some with vignette or grain.

Each is a deterministic function PIL -> PIL (grain has a fixed seed)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import arr, blur, img, lum, unit, vignette


def noir(image: Image.Image) -> Image.Image:
    """High-contrast black and white with grain and vignette."""
    a = lum(arr(image))
    a = 1 / (1 + np.exp(-(a - 0.5) * 9))
    a = a + np.random.default_rng(1).normal(0, 0.04, a.shape)
    return img(np.repeat(a[..., None], 3, 2) * vignette(*a.shape, 0.8))


def sepia(image: Image.Image) -> Image.Image:
    """Warm faded vintage print: sepia matrix, lifted blacks, vignette."""
    a = arr(image) @ np.array([[0.393, 0.349, 0.272], [0.769, 0.686, 0.534], [0.189, 0.168, 0.131]], np.float32)
    a = 0.12 + 0.8 * np.clip(a, 0, 1)
    return img(a * vignette(a.shape[0], a.shape[1], 0.6))


def teal_orange(image: Image.Image) -> Image.Image:
    """Cinematic grade: shadows to teal, highlights to orange, more contrast."""
    a = arr(image)
    y = a.mean(2, keepdims=True)
    teal, orange = np.array([0.0, 0.45, 0.55]), np.array([1.0, 0.6, 0.25])
    graded = a + 0.35 * ((1 - y) * (teal - y) + y * (orange - y))
    return img((graded - 0.5) * 1.25 + 0.5)


def pastel(image: Image.Image) -> Image.Image:
    """Faded pastel film: low contrast, lifted pink-tinted shadows, desaturated."""
    a = arr(image)
    grey = a.mean(2, keepdims=True)
    a = 0.55 * a + 0.45 * grey
    return img(0.25 + 0.7 * a + np.array([0.06, 0.0, 0.04]))


def golden_hour(image: Image.Image) -> Image.Image:
    """Late-afternoon sun: warm amber cast, a soft glow around the highlights, gentle contrast."""
    a = arr(image) * np.array([1.08, 1.0, 0.8], np.float32)
    y = lum(a)[..., None]
    glow = blur(np.clip(a - 0.6, 0, 1), 8 * unit(a))
    a = a + 0.6 * glow * np.array([1.0, 0.75, 0.35], np.float32)
    a = y + 1.15 * (a - y)
    return img(0.03 + 0.97 * a)


def faded_film(image: Image.Image) -> Image.Image:
    """Expired consumer film: blacks lifted toward cyan-green, whites dimmed, colour muted, fine grain."""
    a = arr(image)
    y = lum(a)[..., None]
    a = y + 0.7 * (a - y)
    a = np.array([0.1, 0.14, 0.13], np.float32) + np.array([0.8, 0.76, 0.72], np.float32) * a
    a = a + np.random.default_rng(5).normal(0, 0.012, a.shape[:2])[..., None]
    return img(a)


def matte(image: Image.Image) -> Image.Image:
    """Matte finish: an S-curve in the midtones with flat, lifted grey blacks and slightly muted colour."""
    a = arr(image)
    a = a + 0.5 * (a * a * (3 - 2 * a) - a)
    y = lum(a)[..., None]
    a = y + 0.85 * (a - y)
    return img(0.17 + 0.8 * a)


def vivid_pop(image: Image.Image) -> Image.Image:
    """Punchy social-media colour: strong saturation, more contrast and local clarity."""
    a = arr(image)
    a = a + 0.6 * (a - blur(a, 6 * unit(a)))
    y = lum(a)[..., None]
    a = y + 1.7 * (a - y)
    return img((a - 0.5) * 1.15 + 0.5)


def cool_clean(image: Image.Image) -> Image.Image:
    """Cool, clean and bright: blue-leaning white balance, brighter midtones, clean whites, a little less colour."""
    a = arr(image) * np.array([0.92, 1.0, 1.08], np.float32)
    a = np.clip(a, 0, 1) ** 0.8
    y = lum(a)[..., None]
    return img(y + 0.85 * (a - y))


def soft_bw(image: Image.Image) -> Image.Image:
    """Soft black and white: gentle contrast, lifted shadows, a faint warm paper tone."""
    y = lum(arr(image))
    y = 0.5 + 0.75 * (y - 0.5)
    return img((0.08 + 0.9 * y)[..., None] * np.array([1.0, 0.98, 0.94], np.float32))


def bleach_bypass(image: Image.Image) -> Image.Image:
    """Bleach bypass: a black-and-white layer overlaid on the colour: silvery, desaturated, hard contrast."""
    a = arr(image)
    y = lum(a)[..., None]
    overlay = np.where(y < 0.5, 2 * a * y, 1 - 2 * (1 - a) * (1 - y))
    a = 0.35 * a + 0.65 * overlay
    y = lum(a)[..., None]
    return img(y + 0.55 * (a - y))


def lomo(image: Image.Image) -> Image.Image:
    """Toy-camera lomo: saturated, contrasty, a strong dark vignette and yellow-green highlights."""
    a = arr(image)
    a = a + 0.8 * (a * a * (3 - 2 * a) - a)
    y = lum(a)[..., None]
    a = y + 1.35 * (a - y) + y**2 * np.array([0.04, 0.05, -0.06], np.float32)
    return img(a * vignette(a.shape[0], a.shape[1], 1.3))


PRESETS = {
    fn.__name__: fn
    for fn in (
        noir,
        sepia,
        teal_orange,
        pastel,
        golden_hour,
        faded_film,
        matte,
        vivid_pop,
        cool_clean,
        soft_bw,
        bleach_bypass,
        lomo,
    )
}
