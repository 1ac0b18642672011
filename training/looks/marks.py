"""Artistic looks that draw marks: strokes, outlines, dots, cells, washes. Each is a deterministic function
PIL -> PIL whose marks scale with the image (sizes are given for a 512 px long side, see :func:`base.unit`)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageFilter, ImageOps

from .base import arr, blur, edge_lines, img, lum, noise, paper, strokes, unit

PAPER = np.array([0.96, 0.94, 0.88], np.float32)


def cartoon(image: Image.Image) -> Image.Image:
    """Cartoon: flat colour in six tone bands and coarse hue steps (edge-preserving smoothing first, so skies and
    skin stay single flat areas instead of posterised blobs), and clean dark outlines."""
    a = arr(image)
    u = unit(a)
    rgb = (a * 255).astype(np.uint8)
    smooth = rgb
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 40, 7)
    lab = cv2.cvtColor(smooth.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    lab[..., 0] = np.round(lab[..., 0] / 20) * 20 * 0.9 + 8  # six flat tone bands
    lab[..., 1:] = np.round(lab[..., 1:] / 12) * 12 * 1.15  # coarse hue steps, a little more colour
    flat = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0, 1)
    flat = cv2.medianBlur((flat * 255).astype(np.uint8), max(3, int(5 * u) | 1)).astype(np.float32) / 255
    lines = edge_lines(blur(lum(a), 0.8 * u), 1.3 * u, sharpness=70, threshold=0.005)
    return img(flat * (1 - 0.9 * lines)[..., None])


def pencil(image: Image.Image) -> Image.Image:
    """Graphite sketch: dark contour lines, diagonal pencil strokes that shade the darker tones, grey on paper."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    grey = blur(lum(a), 0.7 * u)
    lines = edge_lines(grey, 1.2 * u, sharpness=60)
    tone = blur(grey, 2 * u)
    hatch = np.clip((strokes(h, w, 18 * u, 55, 3) - 0.3 - 0.9 * tone) * 4, 0, 1)
    dark = np.clip((strokes(h, w, 14 * u, 140, 4) - 0.55 - 1.2 * tone) * 4, 0, 1)
    shade = 0.25 * np.clip(0.6 - tone, 0, 1)
    graphite = np.clip(0.7 * lines + 0.45 * hatch + 0.35 * dark + shade, 0, 0.8)
    return img((1 - graphite)[..., None] * PAPER * paper(h, w, u)[..., None])


def charcoal(image: Image.Image) -> Image.Image:
    """Charcoal: broad smudged black strokes, heavy outlines and deep shadows on rough grey-white paper."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    grey = blur(lum(a), 1.5 * u)
    tone = np.clip((grey - 0.5) * 1.6 + 0.5, 0, 1)
    texture = strokes(h, w, 30 * u, 75, 8)
    cover = np.clip((1 - tone) * 1.3 + (texture - 0.5) * 1.2 * (1 - tone) - 0.25, 0, 1)
    cover = np.maximum(cover, edge_lines(grey, 2.5 * u, sharpness=30))
    cover = blur(cover, 1.2 * u)
    rough = paper(h, w, u, 21) + 0.05 * noise(h, w, 0.6 * u, 22)
    return img(((1 - 0.92 * cover) * 0.93 * rough)[..., None] * np.array([1.0, 0.99, 0.97], np.float32))


def ink(image: Image.Image) -> Image.Image:
    """Ink line art: clean black contour lines on white, solid black only in the deepest shadows."""
    a = arr(image)
    u = unit(a)
    grey = blur(lum(a), 0.8 * u)
    lines = edge_lines(grey, 1.5 * u, sharpness=80, threshold=0.006)
    solid = np.clip((0.12 - blur(grey, 2 * u)) * 20, 0, 1)
    return img(1 - np.maximum(lines, solid))


def screentone(image: Image.Image) -> Image.Image:
    """Manga screentone: black ink lines, mid tones as a dot screen whose dots grow with darkness, black shadows."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    grey = blur(lum(a), 0.8 * u)
    lines = edge_lines(grey, 1.4 * u, sharpness=80, threshold=0.005)
    tone = blur(grey, 2.5 * u)
    cell = 6 * u
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    xr, yr = (x + y) / np.sqrt(2), (x - y) / np.sqrt(2)  # 45-degree screen
    d = np.hypot((xr % cell) - cell / 2, (yr % cell) - cell / 2) / (cell / 2)
    level = np.clip((0.78 - tone) / 0.5, 0, 1)  # white above 0.78, solid below 0.28
    dots = (d < level * 1.05).astype(np.float32)
    return img(1 - np.maximum(lines, dots))


def watercolor(image: Image.Image) -> Image.Image:
    """Watercolour: soft flat washes, pigment pooling darker at the edges of each wash, light colour, paper grain."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    rgb = (a * 255).astype(np.uint8)
    wash = cv2.pyrMeanShiftFiltering(rgb, max(3, int(8 * u)), 28).astype(np.float32) / 255
    wash = blur(wash, 1.2 * u)
    y = lum(wash)[..., None]
    wash = 0.2 + 0.85 * (y + 0.85 * (wash - y))
    gx, gy = cv2.Sobel(lum(wash), cv2.CV_32F, 1, 0), cv2.Sobel(lum(wash), cv2.CV_32F, 0, 1)
    pooling = np.clip(blur(np.hypot(gx, gy), 1.5 * u) * 2.5, 0, 0.35)
    granulation = 1 + 0.05 * noise(h, w, 1.5 * u, 31) + 0.03 * noise(h, w, 6 * u, 32)
    out = 1 - (1 - wash) * (1 + pooling[..., None]) * granulation[..., None]
    return img(out * paper(h, w, u)[..., None])


def halftone(image: Image.Image, cell: int = 8) -> Image.Image:
    """Pop-art halftone: dark dots sized by luminance on saturated posterised colour."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    small = rgb.resize((max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX)
    colors = ImageOps.posterize(small, 2).resize((w, h), Image.Resampling.NEAREST)
    y_small = np.asarray(small.convert("L"), np.float32) / 255
    y, x = np.mgrid[0:h, 0:w]
    cy, cx = np.minimum(y // cell, y_small.shape[0] - 1), np.minimum(x // cell, y_small.shape[1] - 1)
    d = np.hypot((y % cell) - cell / 2, (x % cell) - cell / 2)
    dots = d < (1 - y_small[cy, cx]) * cell * 0.7
    a = arr(colors)
    a[dots] *= 0.15
    return img(a)


def stained_glass(image: Image.Image) -> Image.Image:
    """Flat superpixel cells (SLIC) with dark leading between them."""
    from skimage.segmentation import find_boundaries, slic

    a = arr(image)
    labels = slic(a, n_segments=max(50, a.shape[0] * a.shape[1] // 900), compactness=12, start_label=0)
    means = np.stack(
        [np.bincount(labels.ravel(), a[..., c].ravel()) / np.bincount(labels.ravel()) for c in range(3)], 1
    )
    out = means[labels] * 1.15
    out[find_boundaries(labels, mode="thick")] = 0.08
    return img(out)


def neon(image: Image.Image) -> Image.Image:
    """Glowing coloured edges on black."""
    a = arr(image)
    edges = np.asarray(image.convert("L").filter(ImageFilter.FIND_EDGES), np.float32) / 255
    glow = cv2.GaussianBlur(edges, (0, 0), 2.5) * 3 + edges * 2
    hue = a / (a.max(2, keepdims=True) + 1e-3)
    return img(glow[..., None] * (0.3 + hue) * np.array([1.0, 0.5, 1.2]))


def gouache(image: Image.Image) -> Image.Image:
    """Gouache poster: a handful of flat, opaque, slightly brighter colours (k-means on a smoothed copy), soft
    brush texture, no outlines."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    smooth = cv2.bilateralFilter((a * 255).astype(np.uint8), 9, 50, 5 * u).astype(np.float32) / 255
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centers = cv2.kmeans(lab, 10, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    flat = cv2.cvtColor(centers[labels.ravel()].reshape(h, w, 3), cv2.COLOR_LAB2RGB)
    flat = cv2.medianBlur((np.clip(flat, 0, 1) * 255).astype(np.uint8), max(3, int(5 * u) | 1)).astype(np.float32) / 255
    y = lum(flat)[..., None]
    flat = y + 1.15 * (flat - y)
    brush = 1 + 0.04 * (strokes(h, w, 10 * u, 20, 41) - 0.5) * 2
    return img((0.05 + 0.95 * flat) * brush[..., None])


def pointillism(image: Image.Image) -> Image.Image:
    """Pointillism: round dabs of pure, brightened colour on a jittered grid over white canvas."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    colour = blur(a, 2 * u)
    y = lum(colour)[..., None]
    colour = np.clip(y + 1.5 * (colour - y), 0, 1)
    rng = np.random.default_rng(51)
    step, radius = 4 * u, max(1, int(round(3 * u)))
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    points = np.stack([ys.ravel(), xs.ravel()], 1) + rng.uniform(-step / 2, step / 2, (ys.size, 2))
    points = points[rng.permutation(len(points))]
    canvas = np.full((h, w, 3), 0.97, np.float32)
    for py, px in points:
        iy, ix = int(np.clip(py, 0, h - 1)), int(np.clip(px, 0, w - 1))
        jitter = rng.normal(0, 0.04, 3)
        cv2.circle(canvas, (ix, iy), radius, tuple(float(c) for c in np.clip(colour[iy, ix] + jitter, 0, 1)), -1)
    return img(canvas)


def mosaic(image: Image.Image) -> Image.Image:
    """Tile mosaic: square tiles of the local mean colour, each a little lighter or darker, with grey grout lines."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    cell = max(3, int(round(12 * u)))
    small = cv2.resize(a, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    small = small * np.random.default_rng(61).uniform(0.88, 1.12, small.shape[:2])[..., None]
    tiles = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    y, x = np.mgrid[0:h, 0:w]
    gh, gw = h / small.shape[0], w / small.shape[1]
    grout = ((y % gh) < max(1, u)) | ((x % gw) < max(1, u))
    tiles[grout] = 0.62
    return img(tiles)


def woodcut(image: Image.Image) -> Image.Image:
    """Woodcut print: black ink and cream paper only; tone carved as wavy parallel lines that thicken in the
    shadows, with cut outlines."""
    a = arr(image)
    u, (h, w) = unit(a), a.shape[:2]
    grey = blur(lum(a), 1.5 * u)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    wave = y + 4 * u * np.sin(x / (25 * u)) + 6 * u * noise(h, w, 20 * u, 71)
    lines = np.abs(np.sin(np.pi * wave / (6 * u)))
    ink_cover = (lines < (1 - grey) * 1.25 - 0.1) | (grey < 0.18)
    ink_cover |= edge_lines(grey, 1.8 * u, sharpness=60) > 0.5
    cream, black = np.array([0.93, 0.88, 0.78], np.float32), np.array([0.08, 0.07, 0.06], np.float32)
    return img(np.where(ink_cover[..., None], black, cream))


MARKS = {
    fn.__name__: fn
    for fn in (
        pencil,
        charcoal,
        ink,
        screentone,
        cartoon,
        watercolor,
        gouache,
        pointillism,
        halftone,
        stained_glass,
        mosaic,
        woodcut,
        neon,
    )
}
