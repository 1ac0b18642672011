"""Colour transforms (``pipeline/color.py``): CIELAB conversion and 3-D LUTs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from pipeline.color import apply_lut, identity_lut, lut_toward_identity, rgb_to_lab


def random_image(seed: int = 0, h: int = 23, w: int = 31) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_rgb_to_lab_matches_scikit_image():
    image = random_image()
    ours = rgb_to_lab(image)[0].permute(1, 2, 0).numpy()
    theirs = rgb2lab(image[0].permute(1, 2, 0).numpy())
    assert np.abs(ours - theirs).max() < 0.05


@pytest.mark.parametrize("size", [2, 9, 17])
def test_the_identity_lut_returns_its_input(size):
    image = random_image(1)
    assert torch.allclose(apply_lut(image, identity_lut(size)), image, atol=1e-5)


def test_a_lut_of_a_channel_map_applies_that_map_between_grid_points():
    lut = identity_lut(17)
    lut[0] = lut[0] ** 2  # red squared; linear interpolation between 17 points is within 1/(4*16^2)
    lut[2] = 1 - lut[2]  # blue inverted: exact
    image = random_image(2)
    out = apply_lut(image, lut)
    assert torch.allclose(out[:, 0], image[:, 0] ** 2, atol=1.1e-3)
    assert torch.allclose(out[:, 1], image[:, 1], atol=1e-5)
    assert torch.allclose(out[:, 2], 1 - image[:, 2], atol=1e-5)


def test_apply_lut_is_the_same_in_row_bands_and_per_batch_item(monkeypatch):
    import pipeline.color as color

    image = torch.cat([random_image(3), random_image(4)])
    luts = torch.stack([identity_lut(5) ** 1.5, identity_lut(5).flip(1)])
    whole = apply_lut(image, luts)
    monkeypatch.setattr(color, "CHUNK_PIXELS", 40)  # a band of one row
    assert torch.equal(apply_lut(image, luts), whole)
    assert torch.allclose(whole[1:], apply_lut(image[1:], luts[1]), atol=1e-6)


def test_strength_interpolates_the_lut_toward_identity():
    lut = identity_lut(9) ** 2
    assert torch.allclose(lut_toward_identity(lut, 0.0), identity_lut(9))
    assert torch.equal(lut_toward_identity(lut, 1.0), lut)
    assert torch.allclose(lut_toward_identity(lut, 0.5), (lut + identity_lut(9)) / 2)


def test_apply_lut_is_differentiable_in_the_lut():
    lut = identity_lut(5).requires_grad_(True)
    apply_lut(random_image(5), lut).mean().backward()
    assert lut.grad is not None and torch.isfinite(lut.grad).all() and lut.grad.abs().sum() > 0
