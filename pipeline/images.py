"""Safe image loading and conversion: the only way images enter the project.

``load_image`` accepts a path, bytes, a file object, a PIL image or an (H, W[, C]) uint8/float array and returns
an RGB PIL image, honouring EXIF orientation, flattening alpha onto white, converting CMYK, 16-bit, palette and
greyscale modes, taking the first frame of animations (and saying so), refusing decompression bombs and
truncated files with an :class:`ImageError` that names the input.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import IO, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger inputs are refused (decompression-bomb guard); about 7700 x 5200
MIN_SIDE = 16
ImageInput = Union[str, os.PathLike, bytes, IO[bytes], Image.Image, np.ndarray]


class ImageError(ValueError):
    """An input that is not a usable image; the message names the input and the reason."""


def _describe(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise ImageError(f"{name}: arrays must be uint8, or finite floats in [0, 1]")
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(array)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((np.clip(array / top, 0, 1) * 255 + 0.5).astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray((np.clip(np.asarray(image), 0, 1) * 255 + 0.5).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(source: ImageInput, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Any supported input -> an RGB PIL image, or :class:`ImageError` with the reason."""
    name = _describe(source)
    if isinstance(source, np.ndarray):
        image = _from_array(source, name)
    elif isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
            raise ImageError(f"{name}: no such file")
        fp = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(fp)
                w, h = image.size
                if w * h > max_pixels:
                    raise ImageError(f"{name}: {w}x{h} is {w * h / 1e6:.0f} MP; the limit is {max_pixels / 1e6:.0f} MP")
                if getattr(image, "n_frames", 1) > 1:
                    warnings.warn(f"{name}: animated image with {image.n_frames} frames; using the first", stacklevel=2)
                    image.seek(0)
                image.load()
        except ImageError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{name}: not a readable image ({exc.__class__.__name__}: {exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None
    w, h = image.size
    if w * h > max_pixels:
        raise ImageError(f"{name}: {w}x{h} is {w * h / 1e6:.0f} MP; the limit is {max_pixels / 1e6:.0f} MP")
    try:
        image = ImageOps.exif_transpose(image)
    except Exception as exc:  # a malformed EXIF block must not lose the picture
        warnings.warn(f"{name}: ignoring unreadable EXIF orientation ({exc})", stacklevel=2)
    image = _to_rgb(image)
    if min(image.size) < min_side:
        raise ImageError(f"{name}: {image.size[0]}x{image.size[1]} is too small; both sides need {min_side} px or more")
    return image


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
