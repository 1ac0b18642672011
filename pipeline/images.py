"""Safe image loading and conversion: the only way images enter the project.

``load_image`` accepts a path, bytes, a file object, a PIL image or an (H, W[, C]) uint8/uint16/float array and
returns an RGB PIL image: EXIF orientation applied, an embedded ICC profile (e.g. a phone's Display P3)
converted to sRGB, alpha flattened onto white, CMYK, LAB, 16-bit, 32-bit, palette, bilevel and greyscale modes
converted, the first frame of an animation taken (with a warning); decompression bombs (more than ``max_pixels``,
judged from the header before any pixel is decoded), truncated or corrupt files, tiny images and strips more than
``MAX_ASPECT``:1 are refused with an :class:`ImageError` that names the input and the reason.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger inputs are refused (decompression-bomb guard); about 7700 x 5200
MIN_SIDE = 16
MAX_ASPECT = 64  # long side / short side; beyond it the metrics' 256 px copy is under 4 px thin (VGG pools to 0)
ImageInput = str | os.PathLike | bytes | bytearray | IO[bytes] | Image.Image | np.ndarray
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageError(ValueError):
    """An input that is not a usable image; the message names the input and the reason."""


def _describe(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


def _check_pixels(name: str, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels:
        raise ImageError(f"{name}: {w}x{h} is {w * h / 1e6:.0f} MP; the limit is {max_pixels / 1e6:.0f} MP")


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8, uint16 (full range) or float in [0, 1] -> PIL image."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array")
    if array.dtype == np.uint16:
        array = array.astype(np.float32) / 65535.0
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise ImageError(f"{name}: arrays must be uint8, uint16, or finite floats in [0, 1]")
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _to_8bit(image: Image.Image) -> Image.Image:
    """Integer and float single-channel modes -> "L": I;16* by 65535, "I" by 65535 when it exceeds 255 (16-bit
    data) else by 255, "F" by its maximum when that exceeds 1."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        top = 65535.0
    elif image.mode == "I":
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
    else:
        top = max(1.0, float(np.nanmax(array, initial=0)))
    return Image.fromarray((np.clip(np.nan_to_num(array / top), 0, 1) * 255 + 0.5).astype(np.uint8))


def _to_srgb(image: Image.Image, name: str) -> Image.Image:
    """Apply an embedded ICC profile (RGB or CMYK) so the pixels are sRGB; LAB images through a LAB profile."""
    try:
        if image.mode == "LAB":
            return ImageCms.applyTransform(
                image, ImageCms.buildTransform(ImageCms.createProfile("LAB"), _SRGB, "LAB", "RGB")
            )
        icc = image.info.get("icc_profile")
        if icc and image.mode in ("RGB", "CMYK"):
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.applyTransform(image, ImageCms.buildTransform(source, _SRGB, image.mode, "RGB"))
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        if image.mode == "LAB":
            raise ImageError(f"{name}: cannot convert LAB to RGB ({exc})") from None
        warnings.warn(f"{name}: ignoring an unusable ICC colour profile ({exc})", stacklevel=3)
    return image


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels become white."""
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    image = _to_srgb(image, name)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"{name}: cannot convert mode {image.mode} to RGB ({exc})") from None


def _orient(image: Image.Image, name: str) -> Image.Image:
    """Apply the EXIF orientation (a copy); a malformed EXIF block is ignored with a warning."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # a malformed EXIF block must not lose the picture
        warnings.warn(f"{name}: ignoring unreadable EXIF orientation ({exc})", stacklevel=3)
        return image


def _open(source: str | os.PathLike | bytes | bytearray | IO[bytes], name: str, max_pixels: int) -> Image.Image:
    """Decode a file, bytes or a file object: size checked from the header first, first frame only."""
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise ImageError(f"{name}: no such file")
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as opened:
                _check_pixels(name, opened.size, max_pixels)
                if getattr(opened, "is_animated", False):
                    warnings.warn(f"{name}: animated image; using its first frame", stacklevel=3)
                    opened.seek(0)
                opened.load()
                return _orient(opened, name)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own guard, above 89 MP
        raise ImageError(
            f"{name}: refused as a possible decompression bomb: far too many pixels for a picture"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image (unknown or unsupported format)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None


def load_image(source: ImageInput, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Any supported input -> a new RGB PIL image (the input is never modified), or :class:`ImageError`."""
    name = _describe(source)
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3):
            raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array")
        _check_pixels(name, source.shape[1::-1], max_pixels)
        image = _from_array(source, name)
    elif isinstance(source, Image.Image):
        _check_pixels(name, source.size, max_pixels)
        image = _orient(source, name)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray)) or hasattr(source, "read"):
        image = _open(source, name, max_pixels)
    else:
        raise ImageError(f"{name}: expected a path, bytes, a file object, a PIL image or an array")
    _check_pixels(name, image.size, max_pixels)
    image = _to_rgb(image, name)
    w, h = image.size
    if min(w, h) < min_side:
        raise ImageError(f"{name}: {w}x{h} is too small; both sides need {min_side} px or more")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(f"{name}: {w}x{h} is too long and thin (more than {MAX_ASPECT}:1); crop it closer to a square")
    return image


def load_mask(mask: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A region mask -> (H, W) float32 in [0, 1] for an image of ``size`` (W, H); 1 = stylise, 0 = keep.

    Accepts a PIL image (L, RGB and the like by luminance; RGBA/LA as luminance times alpha, so strokes painted
    on a transparent layer count and the rest does not) or an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array:
    bool, uint8 (0-255) or float in [0, 1]. Any size: resized (bilinear) to ``size``; values within 1e-4 of 0 or
    1 are snapped so that fully painted and unpainted regions are exact. Raises ``ValueError`` on anything else.
    """
    if isinstance(mask, np.ndarray):
        if mask.ndim == 3 and mask.shape[2] == 1:
            mask = mask[..., 0]
        if mask.ndim not in (2, 3) or (mask.ndim == 3 and mask.shape[2] not in (3, 4)) or 0 in mask.shape:
            raise ValueError(f"mask: expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {mask.shape}")
        if mask.dtype == np.bool_:
            mask = mask.astype(np.float32)
        elif mask.dtype == np.uint8:
            mask = mask.astype(np.float32) / 255.0
        elif np.issubdtype(mask.dtype, np.floating):
            if not np.isfinite(mask).all() or mask.min() < 0.0 or mask.max() > 1.0:
                raise ValueError("mask: float values must be finite and in [0, 1]")
            mask = mask.astype(np.float32)
        else:
            raise ValueError(f"mask: arrays must be bool, uint8 or float in [0, 1], got {mask.dtype}")
        if mask.ndim == 3:
            grey = mask[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            mask = grey * mask[..., 3] if mask.shape[2] == 4 else grey
    elif isinstance(mask, Image.Image):
        if min(mask.size) < 1:
            raise ValueError("mask: empty image")
        if mask.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mask.mode == "P" and "transparency" in mask.info):
            rgba = mask.convert("RGBA")
            mask = np.asarray(rgba.convert("L"), dtype=np.float32) * np.asarray(rgba.getchannel("A"), dtype=np.float32)
            mask /= 255.0 * 255.0
        else:
            mask = np.asarray(_to_rgb(mask, "mask").convert("L"), dtype=np.float32) / 255.0
    else:
        raise ValueError(f"mask must be a PIL image or a numpy array, got {type(mask).__name__}")
    if mask.shape != (size[1], size[0]):
        resized = Image.fromarray(np.ascontiguousarray(mask, dtype=np.float32)).resize(size, Image.Resampling.BILINEAR)
        mask = np.array(resized, dtype=np.float32)
    mask = np.clip(mask, 0.0, 1.0)
    mask[mask < 1e-4] = 0.0
    mask[mask > 1.0 - 1e-4] = 1.0
    return mask


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None]


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> RGB PIL image."""
    if tensor.dim() == 4:
        tensor = tensor[0]
    array = (tensor.detach().float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


def fit_long_side(image: Image.Image, long_side: int) -> Image.Image:
    """Downscale (never upscale) so the long side is at most ``long_side``."""
    if max(image.size) <= long_side:
        return image
    scale = long_side / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
