from __future__ import annotations

import pytest
import torch

from pipeline.losses import (
    content_loss,
    cycle_loss,
    d_hinge_loss,
    g_hinge_loss,
    gram_matrix,
    image_gradients,
    normalized_gram_distance,
    paired_loss,
    tv_loss,
)


def test_gram_matrix_shape_symmetry_and_value():
    f = torch.randn(2, 5, 7, 3, generator=torch.Generator().manual_seed(0))
    g = gram_matrix(f)
    assert g.shape == (2, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2))
    flat = f[0].reshape(5, -1)
    assert torch.allclose(g[0], flat @ flat.T / (5 * 7 * 3))


def test_gram_distance_zero_for_same_and_invariant_to_pixel_shuffle_and_scale():
    f = torch.rand(1, 8, 16, 16, generator=torch.Generator().manual_seed(1))
    perm = torch.randperm(256, generator=torch.Generator().manual_seed(2))
    shuffled = f.reshape(1, 8, 256)[:, :, perm].reshape(1, 8, 16, 16)
    assert normalized_gram_distance(gram_matrix(f), gram_matrix(f)).item() == 0.0
    assert normalized_gram_distance(gram_matrix(shuffled), gram_matrix(f)).item() < 1e-10
    assert normalized_gram_distance(gram_matrix(3 * f), gram_matrix(f)).item() < 1e-10  # exposure is colour's job
    other = torch.rand(1, 8, 16, 16, generator=torch.Generator().manual_seed(3)) ** 4
    assert normalized_gram_distance(gram_matrix(other), gram_matrix(f)).item() > 1e-3


def test_paired_loss_is_zero_for_the_target_and_counts_edges():
    y = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    assert paired_loss(y, y, 1.0).item() == 0.0
    blurred = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    assert paired_loss(blurred, y, 1.0) > paired_loss(blurred, y, 0.0) > 0  # a blur loses the gradients too
    dy, dx = image_gradients(y)
    assert dy.shape == (2, 3, 15, 16) and dx.shape == (2, 3, 16, 15)


def test_content_tv_cycle_and_gan_losses():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    assert torch.equal(content_loss(x, x), torch.zeros(2))
    assert tv_loss(torch.ones(1, 3, 8, 8)).item() == 0.0
    assert tv_loss(x).item() > 0.0
    assert cycle_loss(x, x).item() == 0.0
    assert d_hinge_loss(torch.full((4,), 2.0), torch.full((4,), -2.0)).item() == 0.0
    assert d_hinge_loss(torch.zeros(4), torch.zeros(4)).item() == 2.0
    assert g_hinge_loss(torch.full((3,), 0.5)).item() == -0.5


def test_color_moments_and_loss():
    from pipeline.losses import color_loss, color_moments

    image = torch.zeros(1, 3, 4, 4)
    image[:, 0] = 1.0
    image[:, 1, :2] = 1.0
    moments = color_moments(image)
    assert torch.allclose(moments[0, :3], torch.tensor([1.0, 0.5, 0.0]))
    assert moments[0, 3] == 0 and moments[0, 4] > 0.4 and moments[0, 5] == 0
    assert color_loss(image, moments).item() == 0.0
    assert color_loss(image * 0.2, moments).item() > 0.5  # darkening is penalised


def test_relative_color_target_follows_the_input():
    from pipeline.losses import color_loss, color_moments, relative_color_target

    torch.manual_seed(0)
    photo = torch.rand(2, 3, 16, 16) * 0.5 + 0.25
    reference = color_moments(photo).mean(0)
    # the style is the reference made 0.1 brighter with 2x the contrast
    style = torch.cat([reference[:3] + 0.1, reference[3:] * 2])
    flat = torch.full((1, 3, 16, 16), 0.3)
    target = relative_color_target(color_moments(flat), style, reference)
    # a flat input is asked for a flat, brighter output: no contrast to invent
    assert torch.allclose(target, torch.tensor([[0.4, 0.4, 0.4, 0.0, 0.0, 0.0]]), atol=1e-6)
    assert color_loss(flat + 0.1, target).item() < 1e-10
    # the reference itself maps onto the style's moments
    assert torch.allclose(relative_color_target(reference[None], style, reference), style[None], atol=1e-6)
    # the contrast ratio is clamped
    wild = torch.cat([reference[:3], reference[3:] * 100])
    assert torch.allclose(relative_color_target(reference[None], wild, reference)[0, 3:], reference[3:] * 4)


def test_color_map_residual_allows_colour_curves_not_blobs():
    from pipeline.losses import color_map_residual

    torch.manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), size=64, mode="bilinear", align_corners=False)
    graded = (photo**2 * torch.tensor([1.0, 0.6, 0.3])[:, None, None] + 0.1).clamp(0, 1)  # a global tone curve
    assert color_map_residual(photo, photo).max() < 1e-4
    assert color_map_residual(graded, photo).max() < 1e-4
    blob = photo.clone()
    blob[..., 8:32, 8:32] = 1.0  # a white patch whose colour does not follow the photo's
    assert (color_map_residual(blob, photo) > 20 * color_map_residual(graded, photo) + 1e-3).all()
    fine = photo + 0.2 * (torch.arange(64) % 2).float()  # texture finer than the pooling cell: averaged away
    assert color_map_residual(fine.clamp(0, 1), photo).max() < 1e-3


def test_color_map_residual_peak_singles_out_small_spots():
    from pipeline.losses import color_map_residual

    torch.manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8), size=128, mode="bilinear", align_corners=False)
    graded = (photo**2 * torch.tensor([1.0, 0.6, 0.3])[:, None, None] + 0.1).clamp(0, 1)
    assert color_map_residual(graded, photo, top=0.02).item() < 1e-3  # a colour curve has no peak either
    spot = graded.clone()
    spot[:, :, 40:56, 40:56] = torch.tensor([0.0, 0.2, 1.0])[:, None, None]  # a saturated blue spot: 4 of 256 cells
    mean, peak = color_map_residual(spot, photo).item(), color_map_residual(spot, photo, top=0.02).item()
    assert peak > 20 * mean  # the mean dilutes a small spot; the worst 2 % of cells are the spot
    assert color_map_residual(spot, photo, top=1.0).item() == pytest.approx(mean)


def test_anisotropy_loss_flags_streaks_not_grain():
    from pipeline.losses import anisotropy_loss

    torch.manual_seed(0)
    photo = torch.rand(2, 3, 64, 64)
    grain = (photo + 0.05 * torch.randn_like(photo)).clamp(0, 1)
    streaks = photo.clone()
    streaks[..., 10:60:5, 5:60] -= 0.3  # dark one-pixel rows
    bands = photo.clone()
    bands[..., 5:60, 10:60:5] -= 0.3  # the same, turned 90 degrees
    assert anisotropy_loss(photo, photo).max() == 0
    assert (anisotropy_loss(streaks, photo) > 20 * anisotropy_loss(grain, photo)).all()
    assert torch.allclose(anisotropy_loss(streaks, photo), anisotropy_loss(bands, photo), atol=1e-6)


def test_smear_loss_is_the_size_of_the_directional_correlation_either_way():
    from pipeline.losses import directional_correlation, smear_loss

    torch.manual_seed(0)
    photo = torch.rand(2, 3, 64, 64)
    bands = photo.clone()
    bands[..., 10:60:7, 8:56] -= 0.3  # long one-pixel dark rows: correlated along rows only
    turned = photo.clone()
    turned[..., 8:56, 10:60:7] -= 0.3
    grain = (photo + 0.05 * torch.randn_like(photo)).clamp(0, 1)
    assert (directional_correlation(bands, photo) > 0.5).all()
    assert torch.allclose(directional_correlation(turned, photo), -directional_correlation(bands, photo), atol=1e-5)
    assert torch.allclose(smear_loss(turned, photo), smear_loss(bands, photo), atol=1e-5)
    assert (smear_loss(grain, photo) < 0.1).all()
    bands.requires_grad_(True)
    smear_loss(bands, photo).sum().backward()
    assert torch.isfinite(bands.grad).all() and bands.grad.abs().sum() > 0
