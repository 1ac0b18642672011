"""Learning's inputs: validated sample, content and before/after images, and the crops the loop draws from them."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from .images import ImageError, load_image, pil_to_tensor

MAX_SAMPLES = 20


MAX_CONTENT = 50


MIN_SIDE = 64


CONTENT_DIR = Path(__file__).resolve().parents[1] / "weights" / "content"


@dataclass
class LearnInputs:
    """Validated RGB images: ``samples`` of the look, ``content`` photos to restyle, ``pairs`` (before, after)."""

    samples: list[Image.Image]
    content: list[Image.Image]
    pairs: list[tuple[Image.Image, Image.Image]] = field(default_factory=list)
    builtin_content: bool = True


def _load_all(items: Any, what: str, limit: int) -> list[Image.Image]:
    if isinstance(items, (str, Path, Image.Image, bytes)):
        items = [items]
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise ValueError(f"{what} must be a list of images or paths, got {type(items).__name__}")
    if not items:
        raise ValueError(f"learning a style needs at least one {what} image, got none")
    if len(items) > limit:
        raise ValueError(f"at most {limit} {what} images are accepted, got {len(items)}")
    return [_load_one(item, f"{what} {index} of {len(items)}") for index, item in enumerate(items, start=1)]


def _load_one(item: Any, label: str) -> Image.Image:
    try:
        return load_image(item, min_side=MIN_SIDE)
    except ImageError as exc:
        raise ImageError(f"{label}: {exc}") from None


def _load_pairs(pairs: Any) -> list[tuple[Image.Image, Image.Image]]:
    if not isinstance(pairs, Sequence) or isinstance(pairs, (str, bytes)) or not pairs:
        raise ValueError("pairs must be a non-empty list of (before, after) tuples")
    if len(pairs) > MAX_SAMPLES:
        raise ValueError(f"at most {MAX_SAMPLES} pairs are accepted, got {len(pairs)}")
    loaded = []
    for index, pair in enumerate(pairs, start=1):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            count = len(pair) if isinstance(pair, (tuple, list)) else "not a tuple of"
            raise ValueError(f"pair {index} has {count} image(s); each pair is a (before, after) tuple of two images")
        before, after = (
            _load_one(image, f"pair {index} {side}") for image, side in zip(pair, ("before", "after"), strict=True)
        )
        (bw, bh), (aw, ah) = before.size, after.size
        if abs(math.log((bw / bh) / (aw / ah))) > 0.02:
            raise ValueError(
                f"pair {index}: before is {bw}x{bh} but after is {aw}x{ah}; a pair must show the same picture"
            )
        loaded.append(
            (before, after.resize(before.size, Image.Resampling.LANCZOS) if after.size != before.size else after)
        )
    return loaded


def builtin_content() -> list[Image.Image]:
    """The content photos shipped in ``weights/content`` (portraits first)."""
    paths = sorted(CONTENT_DIR.glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(
            f"{CONTENT_DIR}: no built-in content photos; pass content=[...] or run scripts/make_content_set.py"
        )
    portraits = [p for p in paths if p.stem in ("astronaut", "grace_hopper")]
    return [load_image(p) for p in portraits + [p for p in paths if p not in portraits]]


def load_inputs(samples: Any, content: Any = None, pairs: Any = None) -> LearnInputs:
    """Validate and load everything ``learn_style`` takes; raise ``ValueError``/``ImageError`` naming the culprit."""
    loaded_samples = _load_all(samples, "sample", MAX_SAMPLES)
    loaded_content = builtin_content() if content is None else _load_all(content, "content", MAX_CONTENT)
    loaded_pairs = [] if pairs is None else _load_pairs(pairs)
    return LearnInputs(loaded_samples, loaded_content, loaded_pairs, builtin_content=content is None)


def fit_image(image: Image.Image, long_side: int, min_short: int) -> torch.Tensor:
    """PIL image -> (3, H, W) in [0, 1], shrunk to ``long_side`` (never enlarged) unless the short side would
    fall under ``min_short``, which it is scaled up to."""
    w, h = image.size
    factor = min(1.0, long_side / max(w, h))
    factor = max(factor, min_short / min(w, h))
    if abs(factor - 1.0) > 1e-6:
        image = image.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS)
    return pil_to_tensor(image)[0]


def random_crop(
    image: torch.Tensor, size: int, rng: random.Random, scale: float = 1.0, flip: bool = True
) -> torch.Tensor:
    """(C, H, W) -> (C, size, size): rescaled by ``scale`` (at least to cover the crop), random window, random flip."""
    h, w = image.shape[1:]
    factor = max(scale, size / min(h, w))
    if abs(factor - 1.0) > 1e-6:
        new = (max(size, round(h * factor)), max(size, round(w * factor)))
        image = F.interpolate(image[None], size=new, mode="bilinear", antialias=True, align_corners=False)[0]
        h, w = new
    y, x = rng.randrange(h - size + 1), rng.randrange(w - size + 1)
    patch = image[:, y : y + size, x : x + size]
    return patch.flip(-1) if flip and rng.random() < 0.5 else patch


def sample_crop(sample: torch.Tensor, size: int, rng: random.Random, scale: float) -> torch.Tensor:
    """A random square crop of a (3, H, W) sample rescaled by ``scale`` (<= 1), never enlarged: its side is
    ``size`` or the rescaled short side if smaller, so texture scale is kept -> (3, s, s)."""
    side = min(size, round(min(sample.shape[1:]) * scale))
    return random_crop(sample, side, rng, scale)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) with H, W >= size -> the central (C, size, size) window."""
    h, w = image.shape[1:]
    y, x = (h - size) // 2, (w - size) // 2
    return image[:, y : y + size, x : x + size]
