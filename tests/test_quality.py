"""Artifact scores (pipeline/quality.py): what they flag and what they leave alone."""

from __future__ import annotations

import torch

from pipeline.quality import smear_score, spot_score, stripe_score


def photo() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8), size=128, mode="bilinear", align_corners=False)


def test_colour_grade_scores_clean():
    x = photo()
    graded = (x**1.5 * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1) + 0.05).clamp(0, 1)
    assert spot_score(graded, x).item() < 5
    noise = x + 0.05 * torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    assert 0.8 < stripe_score(noise.clamp(0, 1), x).item() < 1.25  # isotropic change


def test_spot_is_flagged():
    x = photo()
    x[:, :, 48:112, 32:96] = 0.1  # a flat dark region (a coat)
    y = x.clone()
    y[:, :, 64:80, 56:72] = torch.tensor([0.0, 0.9, 0.2]).view(1, 3, 1, 1)  # a saturated green spot on it, 16 px
    assert spot_score(y, x).item() > 100
    assert spot_score(x, x).item() < 1  # the identity (only the ridge term remains)


def test_horizontal_streaks_are_flagged_vertical_ones_are_not():
    x = photo()
    streaks = x.clone()
    streaks[:, :, 40:100:6, 20:110] -= 0.3  # dark one-pixel rows across the middle
    assert stripe_score(streaks.clamp(0, 1), x).item() > 3
    columns = x.clone()
    columns[:, :, 20:110, 40:100:6] -= 0.3
    assert stripe_score(columns.clamp(0, 1), x).item() < 0.5


def smeared(x: torch.Tensor) -> torch.Tensor:
    """Dark features stretched into horizontal bands: short dark blobs, each blurred 25 px along its row."""
    y = x.clone()
    marks = torch.zeros(1, 1, 128, 128)
    marks[:, :, 20:110:9, 30:100:17] = 1.0  # dark dots (eyes, a mouth)
    band = torch.nn.functional.avg_pool2d(marks, (3, 25), stride=1, padding=(1, 12)) * 25 / 3
    return (y - 0.4 * band.clamp(0, 1)).clamp(0, 1)


def test_smears_are_flagged_grain_and_grades_are_not():
    x = photo()
    noise = x + 0.05 * torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    graded = (x**1.5 * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1) + 0.05).clamp(0, 1)
    assert abs(smear_score(noise.clamp(0, 1), x).item()) < 0.1
    assert abs(smear_score(graded, x).item()) < 0.1
    y = smeared(x)
    assert smear_score(y, x).item() > 0.5
    turned = smeared(x.transpose(-1, -2)).transpose(-1, -2)  # the same bands, vertical
    assert smear_score(turned, x).item() < -0.5
