"""Colour as a transform: CIELAB conversion and 3-D look-up tables (LUTs) applied to images.

A style's colour part is a map of the input's colour (a graded photo keeps its content and changes its colours),
so it is stored as a 3-D LUT: ``lut[c, b, g, r]`` is output channel ``c`` for the input colour (r, g, b) on an
``n``-point grid over [0, 1], read with trilinear interpolation (the standard form of photo presets; Zeng et al.
2020, "Learning image-adaptive 3D lookup tables"). LUTs mix linearly and follow the strength slider by
interpolating toward the identity LUT.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUT_SIZE = 17  # grid points per axis (17^3 x 3 values, about 59 kB in float32)
CHUNK_PIXELS = 1 << 20  # apply_lut works on row bands of about this many pixels (bounded memory)


def identity_lut(size: int = LUT_SIZE, device: torch.device | None = None) -> torch.Tensor:
    """(3, n, n, n) LUT that returns its input: ``lut[:, b, g, r] = (r, g, b)`` on the grid."""
    axis = torch.linspace(0.0, 1.0, size, device=device)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b])


def apply_lut(image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] through a (3, n, n, n) or (B, 3, n, n, n) LUT -> (B, 3, H, W), clamped to [0, 1].

    Trilinear (``grid_sample`` on the 5-D table); differentiable in both the image and the LUT."""
    b, _, h, w = image.shape
    if lut.dim() == 4:
        lut = lut[None]
    lut = lut.to(image).expand(b, -1, -1, -1, -1)
    rows = max(1, CHUNK_PIXELS // max(1, w))
    bands = []
    for top in range(0, h, rows):
        band = image[:, :, top : top + rows]
        grid = band.clamp(0, 1).permute(0, 2, 3, 1)[:, None] * 2.0 - 1.0  # (B, 1, h, W, 3): x=r, y=g, z=b
        out = F.grid_sample(lut, grid, mode="bilinear", padding_mode="border", align_corners=True)
        bands.append(out[:, :, 0])
    return torch.cat(bands, dim=2).clamp(0, 1)


def lut_toward_identity(lut: torch.Tensor, amount: float) -> torch.Tensor:
    """``identity + amount * (lut - identity)`` for a (3, n, n, n) LUT: 0 is no grade, 1 the LUT itself."""
    return torch.lerp(identity_lut(lut.shape[-1], lut.device), lut, float(amount))


def _srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = torch.tensor([0.950456, 1.0, 1.088754])


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> CIELAB (D65): L in [0, 100], a and b roughly in [-100, 100]."""
    linear = _srgb_to_linear(image.clamp(0, 1))
    matrix = (_RGB_TO_XYZ / _WHITE_D65[:, None]).to(image)
    xyz = torch.einsum("ij,bjhw->bihw", matrix, linear)
    delta = 6.0 / 29.0
    f = torch.where(xyz > delta**3, xyz.clamp_min(delta**3) ** (1.0 / 3.0), xyz / (3 * delta**2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)
