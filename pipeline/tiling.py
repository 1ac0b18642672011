"""Tiled inference for large images, without seams and within a fixed memory bound.

Images up to :data:`FULL_FRAME_PIXELS` run in one piece (exact; a 1.9 GB peak at 2048 x 2048 on CPU). Larger
ones run in tiles: beyond that the peak only grows with the image buffers, about 35 bytes per pixel (3072 x 3072:
2.0 GB instead of 4.1 GB in one piece; ``benchmarks/results/resolution.md``). The generator normalises every
layer with instance norm, so tiles run on their own would each use their own statistics and show seams; here the
statistics are recorded once on a copy of the whole image downscaled to ``FULL_FRAME_PIXELS``
(:class:`~pipeline.generator.NormStats`) and replayed by every tile. Tiles overlap and are blended with weights that are zero next to a tile's inner edges (where padding
corrupts the output) and ramp linearly across the rest of the overlap, so the weights covering a pixel sum to one.
Given the statistics of the whole image, tiled and one-piece outputs agree to 1/255 (2048 and 3072 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .generator import Generator, NormStats

FULL_FRAME_PIXELS = 2048 * 2048  # larger images run in tiles, with norm statistics from a copy this size
TILE = 1024  # tile side in pixels (a multiple of the generator's 8): about 0.5 GB of activations on CPU
OVERLAP = 128  # pixels shared by neighbouring tiles; the generator's receptive field is about 190 px wide


def tile_spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """[start, end) spans covering ``range(length)``; starts are multiples of ``multiple``, neighbours share
    ``overlap`` pixels and the last span ends at ``length`` (so it may be shorter than ``tile``)."""
    if tile % multiple or overlap % multiple or not 0 <= 2 * overlap <= tile:
        raise ValueError(f"tile ({tile}) and overlap ({overlap}) must be multiples of {multiple}, overlap <= tile / 2")
    spans, start = [], 0
    while True:
        end = min(start + tile, length)
        spans.append((start, end))
        if end == length:
            return spans
        start += tile - overlap


def blend_ramp(start: int, end: int, length: int, overlap: int) -> torch.Tensor:
    """(end - start,) weights of one span: 0 for ``overlap // 4`` pixels next to an inner edge, then a linear
    ramp to 1; image borders keep weight 1. Overlapping ramps of neighbouring spans sum to exactly one."""
    dead = overlap // 4
    ramp = max(overlap - 2 * dead, 1)
    index = torch.arange(end - start, dtype=torch.float32)
    weight = torch.ones(end - start)
    if start > 0:
        weight = torch.minimum(weight, ((index - dead + 0.5) / ramp).clamp(0, 1))
    if end < length:
        weight = torch.minimum(weight, ((end - start - 1 - index - dead + 0.5) / ramp).clamp(0, 1))
    return weight


def record_norm_stats(
    generator: Generator, image: torch.Tensor, style_code: torch.Tensor, norm_delta: torch.Tensor | None, pixels: int
) -> NormStats:
    """Instance-norm statistics of ``generator`` on ``image`` (1, 3, H, W) area-downscaled to at most ``pixels``."""
    _, _, h, w = image.shape
    scale = min(1.0, (pixels / (h * w)) ** 0.5)
    small = F.interpolate(image, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")
    stats = NormStats()
    generator(small, style_code, norm_delta, norm_stats=stats)
    return stats


@torch.inference_mode()
def stylize_tiled(
    generator: Generator,
    image: torch.Tensor,
    style_code: torch.Tensor,
    norm_delta: torch.Tensor | None = None,
    tile: int = TILE,
    overlap: int = OVERLAP,
    stats_pixels: int = FULL_FRAME_PIXELS,
) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> stylised (1, 3, H, W), run tile by tile with shared norm statistics.

    ``style_code`` is (1, code_dim), ``norm_delta`` (1, norm_params) or None. The statistics come from a copy of
    at most ``stats_pixels`` pixels; peak memory is that of a one-piece run at ``stats_pixels`` or at ``tile``,
    whichever is larger, plus the (1, 3, H, W) input and output.
    """
    _, _, h, w = image.shape
    stats = record_norm_stats(generator, image, style_code, norm_delta, stats_pixels)
    out = torch.zeros(1, 3, h, w, dtype=torch.float32, device=image.device)
    rows = tile_spans(h, tile, overlap, generator.multiple)
    cols = tile_spans(w, tile, overlap, generator.multiple)
    for top, bottom in rows:
        row_weight = blend_ramp(top, bottom, h, overlap).to(image.device)[:, None]
        for left, right in cols:
            weight = row_weight * blend_ramp(left, right, w, overlap).to(image.device)[None, :]
            piece = generator(
                image[:, :, top:bottom, left:right], style_code, norm_delta, norm_stats=stats, origin=(top, left)
            )
            out[:, :, top:bottom, left:right] += weight * piece.float()
    return out
