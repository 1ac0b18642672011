"""The Gram-stage pretraining's data (``pipeline/train.py``): style folders and aligned exemplar pairs as tensors,
random crops, and each style's Gram and colour targets."""

from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from .images import load_image, pil_to_tensor
from .learn_objective import STYLE_TAPS
from .loss_net import LossNet
from .losses import gram_matrix


def load_folder(folder: Path, long_side: int) -> list[torch.Tensor]:
    """All images of a folder as (3, H, W) tensors in [0, 1], long side ``long_side``."""
    tensors = []
    for path in sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png")):
        image = load_image(path)
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        tensors.append(pil_to_tensor(image)[0])
    if not tensors:
        raise FileNotFoundError(f"no .jpg/.png images in {folder}")
    return tensors


def load_pairs(content_dir: Path, style_dir: Path, long_side: int) -> list[torch.Tensor]:
    """(6, H, W) tensors: a content photo stacked on the style's exemplar of the same file name (made from it by the
    style's function, so the two are aligned), long side ``long_side``; [] when no names match (wallpaper styles)."""
    pairs = []
    for path in sorted(style_dir.glob("*.jpg")) + sorted(style_dir.glob("*.png")):
        source = content_dir / path.name
        if not source.is_file():
            continue
        images = [load_image(source), load_image(path)]
        if images[0].size != images[1].size:
            raise ValueError(f"{path}: {images[1].size} differs from its content photo {source}'s {images[0].size}")
        for image in images:
            image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        pairs.append(torch.cat([pil_to_tensor(image)[0] for image in images]))
    return pairs


def random_crops(
    images: list[torch.Tensor], n: int, crop: int, scale: tuple[float, float], rng: random.Random
) -> torch.Tensor:
    """(n, C, crop, crop) random crops: random image, short side rescaled to crop*U(scale), random flip.

    Any channel count: crops of stacked (6, H, W) pairs (``load_pairs``) stay aligned."""
    out = []
    for _ in range(n):
        image = images[rng.randrange(len(images))]
        short = crop * rng.uniform(*scale)
        h, w = image.shape[1:]
        size = (max(crop, round(h * short / min(h, w))), max(crop, round(w * short / min(h, w))))
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        y, x = rng.randrange(size[0] - crop + 1), rng.randrange(size[1] - crop + 1)
        patch = image[:, y : y + crop, x : x + crop]
        out.append(patch.flip(-1) if rng.random() < 0.5 else patch)
    return torch.stack(out).clamp(0, 1)


@torch.no_grad()
def style_targets(loss_net: LossNet, images: list[torch.Tensor], transposed: bool = False) -> dict[str, torch.Tensor]:
    """Mean Gram matrix per tap over a style's images -> ``{tap: (C, C)}``.

    ``transposed`` also averages in each image with its axes swapped, so the target carries no preferred direction
    (horizontal bands in one style's images then stop rewarding horizontal streaks)."""
    if transposed:
        images = list(images) + [img.transpose(-1, -2) for img in images]
    grams = [{t: gram_matrix(f)[0] for t, f in loss_net(img[None], STYLE_TAPS).items()} for img in images]
    return {t: torch.stack([g[t] for g in grams]).mean(0) for t in STYLE_TAPS}


def style_color_moments(images: list[torch.Tensor]) -> torch.Tensor:
    """Colour moments (6,) over all pixels of a style's (3, H, W) images."""
    pixels = torch.cat([img.flatten(1) for img in images], dim=1)
    return torch.cat([pixels.mean(1), pixels.std(1)])
