"""Procedural looks: colour grades and classic non-photorealistic filters, as functions PIL -> PIL.

They make the procedural part of the pretraining style bank (``fetch_data.py``) and serve as style functions
with a known ground truth in ``benchmarks/bench_learn.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageFilter, ImageOps


def _arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _img(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def _vignette(h: int, w: int, strength: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
    return (1 - strength * np.clip(r - 0.4, 0, None) ** 1.5)[..., None]


def noir(image: Image.Image) -> Image.Image:
    """High-contrast black and white with grain and vignette."""
    a = _arr(image) @ np.array([0.3, 0.59, 0.11], np.float32)
    a = 1 / (1 + np.exp(-(a - 0.5) * 9))
    a = a + np.random.default_rng(1).normal(0, 0.04, a.shape)
    return _img(np.repeat(a[..., None], 3, 2) * _vignette(*a.shape, 0.8))


def sepia(image: Image.Image) -> Image.Image:
    """Warm faded vintage print: sepia matrix, lifted blacks, vignette."""
    a = _arr(image) @ np.array([[0.393, 0.349, 0.272], [0.769, 0.686, 0.534], [0.189, 0.168, 0.131]], np.float32)
    a = 0.12 + 0.8 * np.clip(a, 0, 1)
    return _img(a * _vignette(a.shape[0], a.shape[1], 0.6))


def teal_orange(image: Image.Image) -> Image.Image:
    """Cinematic grade: shadows to teal, highlights to orange, more contrast."""
    a = _arr(image)
    lum = a.mean(2, keepdims=True)
    teal, orange = np.array([0.0, 0.45, 0.55]), np.array([1.0, 0.6, 0.25])
    graded = a + 0.35 * ((1 - lum) * (teal - lum) + lum * (orange - lum))
    return _img((graded - 0.5) * 1.25 + 0.5)


def pastel(image: Image.Image) -> Image.Image:
    """Faded pastel film: low contrast, lifted pink-tinted shadows, desaturated."""
    a = _arr(image)
    grey = a.mean(2, keepdims=True)
    a = 0.55 * a + 0.45 * grey
    return _img(0.25 + 0.7 * a + np.array([0.06, 0.0, 0.04]))


def cartoon(image: Image.Image) -> Image.Image:
    """Flat colours and dark outlines: bilateral smoothing, posterisation, adaptive-threshold edges."""
    rgb = np.asarray(image.convert("RGB"))
    smooth = rgb
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 40, 7)
    poster = (smooth // 48) * 48 + 24
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 5)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return Image.fromarray((poster * (edges[..., None] / 255)).astype(np.uint8))


def pencil(image: Image.Image) -> Image.Image:
    """Graphite sketch: colour dodge of the grey image by its blurred negative, on paper tone."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    blur = cv2.GaussianBlur(255 - grey, (0, 0), 6)
    sketch = np.clip(grey * 255 / (255 - blur + 1e-3), 0, 255) / 255
    paper = np.array([0.96, 0.94, 0.88])
    return _img(sketch[..., None] ** 2.2 * paper)


def watercolor(image: Image.Image) -> Image.Image:
    """OpenCV's edge-preserving stylisation with washed, bright colours."""
    out = cv2.stylization(np.asarray(image.convert("RGB")), sigma_s=60, sigma_r=0.45)
    return _img(_arr(Image.fromarray(out)) * 0.85 + 0.15)


def halftone(image: Image.Image, cell: int = 8) -> Image.Image:
    """Pop-art halftone: dark dots sized by luminance on saturated posterised colour."""
    img = image.convert("RGB")
    w, h = img.size
    small = img.resize((max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX)
    colors = ImageOps.posterize(small, 2).resize((w, h), Image.Resampling.NEAREST)
    lum = np.asarray(small.convert("L"), np.float32) / 255
    y, x = np.mgrid[0:h, 0:w]
    cy, cx = np.minimum(y // cell, lum.shape[0] - 1), np.minimum(x // cell, lum.shape[1] - 1)
    d = np.hypot((y % cell) - cell / 2, (x % cell) - cell / 2)
    dots = d < (1 - lum[cy, cx]) * cell * 0.7
    a = _arr(colors)
    a[dots] *= 0.15
    return _img(a)


def stained_glass(image: Image.Image) -> Image.Image:
    """Flat superpixel cells (SLIC) with dark leading between them."""
    from skimage.segmentation import find_boundaries, slic

    a = _arr(image)
    labels = slic(a, n_segments=max(50, a.shape[0] * a.shape[1] // 900), compactness=12, start_label=0)
    means = np.stack(
        [np.bincount(labels.ravel(), a[..., c].ravel()) / np.bincount(labels.ravel()) for c in range(3)], 1
    )
    out = means[labels] * 1.15
    out[find_boundaries(labels, mode="thick")] = 0.08
    return _img(out)


def neon(image: Image.Image) -> Image.Image:
    """Glowing coloured edges on black."""
    a = _arr(image)
    edges = np.asarray(image.convert("L").filter(ImageFilter.FIND_EDGES), np.float32) / 255
    glow = cv2.GaussianBlur(edges, (0, 0), 2.5) * 3 + edges * 2
    hue = a / (a.max(2, keepdims=True) + 1e-3)
    return _img(glow[..., None] * (0.3 + hue) * np.array([1.0, 0.5, 1.2]))


LOOKS = {
    "noir": noir,
    "sepia": sepia,
    "teal_orange": teal_orange,
    "pastel": pastel,
    "cartoon": cartoon,
    "pencil": pencil,
    "watercolor": watercolor,
    "halftone": halftone,
    "stained_glass": stained_glass,
    "neon": neon,
}


# --- random colour grades: the look family the style encoder learns from ------------------------------------
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
