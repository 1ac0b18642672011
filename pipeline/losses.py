"""Losses as small pure functions of tensors (after rosinality/stylegan2-pytorch's style)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features -> (B, C, C) Gram matrices, normalised by C*H*W (size independent)."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def normalized_gram(gram: torch.Tensor) -> torch.Tensor:
    """(..., C, C) Gram -> the same divided by its mean diagonal (mean channel energy): scale invariant.

    With an edge-tuned loss net, raw Gram distances fall when an image is simply made darker or flatter;
    normalised Grams compare texture (channel correlations) and leave exposure to ``color_loss``."""
    return gram / gram.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)[..., None, None]


def color_moments(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 6): per-channel mean and standard deviation."""
    flat = image.flatten(2)
    return torch.cat([flat.mean(-1), flat.std(-1)], dim=1)


def color_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared distance of (B, 3, H, W) colour moments to (B or 1, 6) targets -> (B,).

    Anchors brightness and colour: with an edge-tuned loss net, Gram losses alone also fall when an image is
    simply made darker or flatter."""
    return (color_moments(image) - target).pow(2).sum(1)


def relative_color_target(
    source: torch.Tensor, style: torch.Tensor, reference: torch.Tensor, max_ratio: float = 4.0
) -> torch.Tensor:
    """Per-image colour-moment targets in the manner of Reinhard colour transfer -> (B, 6).

    ``source`` (B, 6) are the input's moments, ``style`` (6,) or (B, 6) the style images' and ``reference`` (6,)
    those of ordinary photos: the target mean is the input's shifted by the style's offset from the photos, the
    target std the input's scaled by the style's ratio to them (clamped to [1/max_ratio, max_ratio]). Absolute
    targets would ask a flat crop for the style's full contrast, which a generator can only meet by painting
    blobs into it."""
    ratio = (style[..., 3:] / reference[3:].clamp_min(1e-6)).clamp(1 / max_ratio, max_ratio)
    return torch.cat([source[:, :3] + style[..., :3] - reference[:3], source[:, 3:] * ratio], dim=1)


def _color_basis(pixels: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) colours -> (B, N, 10): 1, r, g, b and their squares and products (a global colour curve)."""
    r, g, b = pixels.unbind(-1)
    return torch.stack([torch.ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b], dim=-1)


def color_map_residual(
    output: torch.Tensor, source: torch.Tensor, pool: int = 8, ridge: float = 1e-4, top: float = 1.0
) -> torch.Tensor:
    """How much of the output's low-frequency change is *not* a global colour curve of the source -> (B,).

    Both (B, 3, H, W) images are averaged over ``pool`` x ``pool`` cells; a quadratic colour map from the source's
    cells to the output's is fitted per image by ridge least squares, and the mean squared residual is returned.
    A colour grade, a tone curve or a paper tint costs nothing; a blob painted into a flat region (a change that
    depends on *where* a pixel is, not on its colour) does. Textures finer than ``pool`` are averaged away.
    ``top`` < 1 averages only the worst fraction of cells instead of all: a small saturated spot, which barely
    moves the mean, dominates that peak (the instance-norm "droplet" artifact in flat dark regions)."""
    x = F.avg_pool2d(source, pool).flatten(2).transpose(1, 2)  # (B, N, 3)
    y = F.avg_pool2d(output, pool).flatten(2).transpose(1, 2)
    basis = _color_basis(x)  # (B, N, 10)
    gram = basis.transpose(1, 2) @ basis + ridge * x.shape[1] * torch.eye(basis.shape[-1], device=basis.device)
    coeffs = torch.linalg.solve(gram, basis.transpose(1, 2) @ y)  # (B, 10, 3)
    residual = (y - basis @ coeffs).pow(2)  # (B, N, 3)
    if top >= 1.0:
        return residual.mean((1, 2))
    per_cell = residual.sum(-1)  # (B, N)
    k = max(1, math.ceil(top * per_cell.shape[1]))
    return per_cell.topk(k, dim=1).values.mean(1) / 3


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) vs (B, C, H, W) feature maps -> (B,) mean squared difference."""
    return (features - target).pow(2).mean(dim=(1, 2, 3))


def luminance_change(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Change in luminance (Rec. 601 weights) output - source, both (B, 3, H, W) -> (B, H, W)."""
    weights = torch.tensor((0.299, 0.587, 0.114), dtype=output.dtype, device=output.device).view(1, 3, 1, 1)
    return ((output - source) * weights).sum(1)


def directional_change(output: torch.Tensor, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean |d/dy| and mean |d/dx| of the change in luminance output - source, both (B, 3, H, W) -> two (B,)."""
    change = luminance_change(output, source)  # (B, H, W)
    rows = (change[:, 1:] - change[:, :-1]).abs().mean((1, 2))
    cols = (change[:, :, 1:] - change[:, :, :-1]).abs().mean((1, 2))
    return rows, cols


def anisotropy_loss(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Directional bias of the change output - source, both (B, 3, H, W) -> (B,).

    |mean |d/dy| - mean |d/dx|| of the change in luminance: zero for isotropic change (grain, dots, washes), large
    for scan-line streaks (or vertical bands), which a Gram loss can reward as cheap texture energy."""
    rows, cols = directional_change(output, source)
    return (rows - cols).abs()


def directional_correlation(
    output: torch.Tensor, source: torch.Tensor, lags: tuple[int, ...] = (4, 8, 12), blur: int = 9
) -> torch.Tensor:
    """Horizontal minus vertical autocorrelation of the fine change output - source, both (B, 3, H, W) -> (B,).

    The change in luminance is high-passed (minus its ``blur`` x ``blur`` box mean); its autocorrelation at each of
    ``lags`` pixels along rows and along columns is normalised by its variance, and the differences are averaged.
    Grain, dots, washes and edges sharpened where the photo has them are about as correlated either way (about 0);
    horizontal smears, which stretch eyes or a mouth into a band across a face, are correlated far along rows and
    score up to 1 (vertical smears, -1). Needs H, W > max(lags) and > blur // 2."""
    change = luminance_change(output, source)[:, None]  # (B, 1, H, W)
    fine = (change - F.avg_pool2d(F.pad(change, (blur // 2,) * 4, mode="reflect"), blur, stride=1))[:, 0]
    var = fine.pow(2).mean((1, 2)).clamp_min(1e-12)
    diffs = [
        ((fine[:, :, lag:] * fine[:, :, :-lag]).mean((1, 2)) - (fine[:, lag:] * fine[:, :-lag]).mean((1, 2))) / var
        for lag in lags
    ]
    return torch.stack(diffs).mean(0)


def smear_loss(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """|:func:`directional_correlation`| of (B, 3, H, W) output vs source -> (B,): smears either way cost."""
    return directional_correlation(output, source).abs()


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) image -> scalar anisotropic total variation (mean absolute neighbour difference)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return dx + dy


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss on patch logits (any shape) -> scalar."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss on patch logits of generated images -> scalar."""
    return -fake_logits.mean()


def cycle_loss(reconstruction: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """L1 between G(G(x|s)|photo) and x, both (B, 3, H, W) in [0, 1] -> scalar."""
    return (reconstruction - original).abs().mean()


def perceptual_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over taps of feature MSE (paired reconstruction) -> scalar."""
    return sum(content_loss(features[t], targets[t]).mean() for t in targets) / len(targets)


def lut_smoothness(lut: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring entries of (B, 3, n, n, n) colour LUTs, times n^2 (so the value
    does not depend on the grid size) -> scalar. Smooth LUTs do not band or posterise."""
    n = lut.shape[-1]
    return sum(lut.diff(dim=d).pow(2).mean() for d in (2, 3, 4)) * n * n


def normalized_gram_distance(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Scale-invariant distance of (..., C, C) Gram matrices to a (C, C) or (..., C, C) target -> (...,): both
    divided by their mean diagonal (:func:`normalized_gram`), compared by mean squared difference (x100 for readable
    numbers), so exposure alone does not change it; 0 = the same statistics."""
    return 100.0 * (normalized_gram(gram) - normalized_gram(target)).pow(2).mean((-2, -1))


def relative_gram_distance(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) features vs a (C, C) or (B, C, C) Gram target -> (B,) :func:`normalized_gram_distance` of their Grams."""
    return normalized_gram_distance(gram_matrix(features), target)


def normalized_style_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`relative_gram_distance` summed over the taps of ``targets`` ({tap: (C, C) or (B, C, C)}) -> (B,)."""
    return sum(relative_gram_distance(features[t], target) for t, target in targets.items())


def gram_spread(grams: list[dict[str, torch.Tensor]]) -> float:
    """How far apart the samples' own Gram targets are: the mean over samples of the scale-invariant distance
    (as :func:`normalized_style_loss`, summed over taps) of each one's ``{tap: (C, C)}`` Grams to the mean of the
    others'. 0 for fewer than two samples. Content that differs between the samples puts a floor under how close
    any single picture in the look can come to their mean target."""
    if len(grams) < 2:
        return 0.0
    total = 0.0
    for i, own in enumerate(grams):
        for tap, gram in own.items():
            others = torch.stack([g[tap] for j, g in enumerate(grams) if j != i]).mean(0)
            total += float(normalized_gram_distance(gram, others))
    return total / len(grams)


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertical (B, C, H-1, W) and horizontal (B, C, H, W-1) neighbour differences of (B, C, H, W) ``x``."""
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


def paired_loss(output: torch.Tensor, target: torch.Tensor, grad_weight: float) -> torch.Tensor:
    """L1 on pixels + ``grad_weight`` x L1 on image gradients of aligned (B, 3, H, W) images -> scalar: the loss of
    before/after pairs, which teaches edges and strokes without a loss-net pass."""
    loss = (output - target).abs().mean()
    for a, b in zip(image_gradients(output), image_gradients(target), strict=True):
        loss = loss + grad_weight * (a - b).abs().mean()
    return loss
