"""Shared pieces of the looks: array conversion, luminance, vignette, paper, edge lines and stroke textures.

Marks are defined for a 512 px long side: :func:`unit` scales them with the image, so a look draws the same
picture at any size."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

LUMA = np.array([0.3, 0.59, 0.11], np.float32)


def arr(image: Image.Image) -> np.ndarray:
    """PIL image -> (H, W, 3) float32 RGB in [0, 1]."""
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def img(a: np.ndarray) -> Image.Image:
    """(H, W, 3) or (H, W) float array, clipped to [0, 1] -> PIL RGB image."""
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, 2)
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def lum(a: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) luminance."""
    return a @ LUMA


def unit(a: np.ndarray) -> float:
    """Pixels per mark unit: the long side over 512."""
    return max(a.shape[:2]) / 512.0


def vignette(h: int, w: int, strength: float) -> np.ndarray:
    """(H, W, 1) multiplicative darkening toward the corners."""
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
    return (1 - strength * np.clip(r - 0.4, 0, None) ** 1.5)[..., None].astype(np.float32)


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), max(0.3, sigma), borderType=cv2.BORDER_REFLECT)


def noise(h: int, w: int, sigma: float, seed: int) -> np.ndarray:
    """(H, W) smooth noise with unit spread (white noise blurred by ``sigma`` px), fixed by ``seed``."""
    n = blur(np.random.default_rng(seed).standard_normal((h, w)).astype(np.float32), sigma)
    return n / (n.std() + 1e-6)


def paper(h: int, w: int, u: float, seed: int = 11) -> np.ndarray:
    """(H, W) paper grain around 1: fine fibres plus a faint coarse mottle."""
    return 1 + 0.025 * noise(h, w, 0.8 * u, seed) + 0.015 * noise(h, w, 12 * u, seed + 1)


def edge_lines(grey: np.ndarray, sigma: float, sharpness: float = 40.0, threshold: float = 0.004) -> np.ndarray:
    """(H, W) ink coverage in [0, 1] of difference-of-Gaussians lines (XDoG) of a grey image in [0, 1]."""
    dog = blur(grey, sigma) - blur(grey, 1.6 * sigma)
    return np.clip(np.tanh(sharpness * np.maximum(-dog - threshold, 0)), 0, 1)


def strokes(h: int, w: int, length: float, angle: float, seed: int) -> np.ndarray:
    """(H, W) stroke texture in [0, 1]: noise smeared along ``angle`` (degrees) over ``length`` px, so it shows
    short parallel strokes of random length, like pencil or charcoal marks."""
    n = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    size = max(3, int(length) | 1)
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle)), -np.sin(np.radians(angle))
    for t in np.linspace(-c, c, 2 * size):
        kernel[int(round(c + t * dy)), int(round(c + t * dx))] = 1
    s = cv2.filter2D(n, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    s = (s - s.mean()) / (s.std() + 1e-6)
    return np.clip(0.5 + 0.25 * s, 0, 1)
