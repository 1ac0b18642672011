"""Differentiable augmentation for few-shot GAN training (Zhao et al. 2020, DiffAugment): colour, translation,
cutout. The same random draw must be applied to real and fake batches independently; every op is
differentiable with respect to the image."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3, H, W) -> brightness, saturation and contrast jitter per sample."""
    b = x.shape[0]
    rand = lambda: torch.rand(b, 1, 1, 1, generator=generator, device=x.device)  # noqa: E731
    x = x + (rand() - 0.5) * 0.4
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rand() * 1.5 + 0.25) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rand() + 0.5) + mean


def augment_translation(
    x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(B, C, H, W) -> shifted by up to ``ratio`` of the size with zero fill (via grid_sample)."""
    b = x.shape[0]
    shift = (torch.rand(b, 2, generator=generator, device=x.device) * 2 - 1) * ratio * 2
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def augment_cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, H, W) -> one zeroed rectangle of ``ratio`` of each side per sample."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio / 2) * 2 or 1, int(w * ratio / 2) * 2 or 1
    cy = torch.randint(0, h, (b, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (b, 1, 1), generator=generator, device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    keep = ((ys - cy).abs() >= ch // 2) | ((xs - cx).abs() >= cw // 2)
    return x * keep[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3, H, W) -> colour + translation + cutout, all differentiable."""
    return augment_cutout(augment_translation(augment_color(x, generator), generator=generator), generator=generator)
