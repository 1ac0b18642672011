"""Artifact scores of a stylised image against its input, used to pick checkpoints and to guard the shipped weights.

All are cheap and need no network; only the smear score also has a training loss (``losses.smear_loss``):

- ``spot_score``: saturated spots painted into flat regions (the instance-norm "droplet" artifact) leave local colour
  that no global colour curve of the input explains; scored as the colour-map residual over the worst 1 % of 8x8
  cells, x1000. A clean colour grade scores under 30, a visible spot 100+.
- ``stripe_score``: horizontal scan-line streaks make the change in luminance vary far more between rows than
  between columns; scored as mean |d/dy| over mean |d/dx| of that change. About 1 for isotropic change, 2-8 for
  streaks.
- ``smear_score``: smears that stretch dark features (eyes, a mouth) into bands across a face make the fine change
  correlated far along rows but not along columns; scored as that difference of autocorrelations
  (``losses.directional_correlation``). Under 0.1 for grain, dots and colour grades, 0.3-0.8 with smears; the stripe
  score barely sees them.
"""

from __future__ import annotations

import torch

from .losses import color_map_residual, directional_change, directional_correlation


def spot_score(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) output and input in [0, 1] -> (B,) peak colour-map residual x1000 (H, W >= 8)."""
    return 1000.0 * color_map_residual(output, source, top=0.01)


def stripe_score(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) output and input in [0, 1] -> (B,) anisotropy of the luminance change (1 = isotropic)."""
    rows, cols = directional_change(output, source)
    return rows / cols.clamp_min(1e-6)


def smear_score(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) output and input in [0, 1] -> (B,) row-minus-column autocorrelation of the fine change
    (0 = no direction, up to 1 for horizontal smears, negative for vertical ones); H, W > 12."""
    return directional_correlation(output, source)
