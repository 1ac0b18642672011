"""Face boxes, soft face masks and face crops, with scikit-image's bundled LBP frontal-face cascade (no downloads).

Detection runs on a grey copy with a long side of :data:`DETECT_LONG_SIDE` px: candidate windows are grouped by
overlap, and each group is verified by re-running the cascade finely on a crop where the face is 64 px wide. A
face keeps many hits there across positions and scales, texture keeps few; in colour images a face must also
be mostly skin-coloured (YCbCr box of Chai & Ngan 1999), which rejects leaves and dark helmets that fool the
cascade. Frontal and near-frontal faces of at least ~6 % of the image's long side are found.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import skimage.data
from PIL import Image
from scipy.special import erfc
from skimage.feature import Cascade

Box = tuple[int, int, int, int]  # x, y, width, height in input pixels
DETECT_LONG_SIDE = 320  # the grey copy that candidates are searched on
MIN_WINDOW = 20  # smallest candidate window on that copy (px)
VERIFY_SIDE = 64  # the face width a candidate is re-examined at
MIN_VERIFY_HITS = 14  # faces we tried score 20-53 here; texture and wallpapers 10 at most (one leaf: 31)
MIN_SKIN_FRACTION = 0.3  # faces score 0.7-1.0 (the centre of the box); that leaf and a dark helmet 0
MAX_CANDIDATES = 8


@lru_cache(maxsize=1)
def _cascade() -> Cascade:
    return Cascade(skimage.data.lbp_frontal_face_cascade_filename())


def _windows(grey: Image.Image, scale_factor: float, step_ratio: float, min_size: int, max_size: int) -> np.ndarray:
    """Every window the cascade accepts on ``grey``, unmerged: (N, 3) int array of x, y, side."""
    array = np.asarray(grey, dtype=np.float32) / 255.0
    found = _cascade().detect_multi_scale(
        array, scale_factor=scale_factor, step_ratio=step_ratio, min_size=(min_size, min_size),
        max_size=(max_size, max_size), min_neighbor_number=1, intersection_score_threshold=2.0,
    )  # fmt: skip
    return np.array([(d["c"], d["r"], d["width"]) for d in found], dtype=np.int64).reshape(-1, 3)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of square windows ``a`` (3,) against ``b`` (N, 3), both (x, y, side)."""
    inter_w = np.clip(np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(a[1] + a[2], b[:, 1] + b[:, 2]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = inter_w * inter_h
    return inter / (a[2] ** 2 + b[:, 2] ** 2 - inter)


def _group(windows: np.ndarray, threshold: float = 0.3) -> list[np.ndarray]:
    """Greedy grouping, largest window first: a window joins the first group whose seed it overlaps."""
    groups: list[list[np.ndarray]] = []
    for window in windows[np.argsort(-windows[:, 2], kind="stable")]:
        for group in groups:
            if _iou(group[0], window[None])[0] > threshold:
                group.append(window)
                break
        else:
            groups.append([window])
    return [np.stack(g) for g in groups]


def _verify(grey: Image.Image, x: float, y: float, side: float) -> tuple[int, np.ndarray | None]:
    """Re-run the cascade on a crop three times the candidate's size, scaled so it is VERIFY_SIDE wide.

    Returns the number of hits that overlap the centre and their median (x, y, side) in ``grey`` pixels."""
    cx, cy = x + side / 2, y + side / 2
    crop = grey.crop((round(cx - 1.5 * side), round(cy - 1.5 * side), round(cx + 1.5 * side), round(cy + 1.5 * side)))
    crop = crop.resize((3 * VERIFY_SIDE, 3 * VERIFY_SIDE), Image.Resampling.BILINEAR)
    windows = _windows(crop, 1.05, 1.0, int(0.6 * VERIFY_SIDE), int(1.6 * VERIFY_SIDE))
    centre = np.array([VERIFY_SIDE, VERIFY_SIDE, VERIFY_SIDE])
    hits = windows[_iou(centre, windows) > 0.3] if len(windows) else windows
    if not len(hits):
        return 0, None
    scale = 3 * side / (3 * VERIFY_SIDE)
    median = np.median(hits, axis=0) * scale
    return len(hits), np.array([cx - 1.5 * side + median[0], cy - 1.5 * side + median[1], median[2]])


def _skin_fraction(image: Image.Image, box: Box) -> float:
    """Share of skin-coloured pixels (YCbCr box of Chai & Ngan) in the central 60 % of ``box``."""
    x, y, w, h = box
    inner = image.crop((x + w // 5, y + h // 5, x + w - w // 5, y + h - h // 5)).convert("RGB").convert("YCbCr")
    cb, cr = (np.asarray(inner.getchannel(c), dtype=np.int16) for c in ("Cb", "Cr"))
    return float(((cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173)).mean()) if cb.size else 0.0


def _is_grey(thumbnail: Image.Image) -> bool:
    """True when the image carries (almost) no colour, so the skin test cannot apply."""
    ycbcr = np.asarray(thumbnail.convert("RGB").convert("YCbCr"), dtype=np.int16)
    return float(np.abs(ycbcr[..., 1:] - 128).mean()) < 3.0


def _merge(found: list[tuple[int, Box]]) -> list[Box]:
    """Drop boxes that overlap a box with more verification hits (IoU > 0.3 or centre inside it)."""
    kept: list[tuple[int, Box]] = []
    for hits, box in sorted(found, key=lambda f: -f[0]):
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        arr = np.array([box[0], box[1], box[2]])
        if not any(
            _iou(arr, np.array([k[:3]]))[0] > 0.3 or (k[0] <= cx <= k[0] + k[2] and k[1] <= cy <= k[1] + k[3])
            for _, k in kept
        ):
            kept.append((hits, box))
    return [box for _, box in sorted(kept, key=lambda f: -f[1][2])]


def detect_faces(image: Image.Image) -> list[Box]:
    """Frontal faces in ``image`` (any mode) as (x, y, w, h) boxes in its pixels, largest first; [] if none.

    The box spans roughly eyebrows to mouth and cheek to cheek (the cascade's training convention)."""
    grey = image.convert("L")
    scale = min(1.0, DETECT_LONG_SIDE / max(grey.size))
    small = grey.resize(
        (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BILINEAR
    )
    if min(small.size) < MIN_WINDOW:
        return []
    windows = _windows(small, 1.15, 1.5, MIN_WINDOW, min(small.size))  # a coarse scan: candidates only
    groups = [g for g in _group(windows) if len(g) >= 2] if len(windows) else []
    groups = sorted(groups, key=len, reverse=True)[:MAX_CANDIDATES]
    check_skin = not _is_grey(image.resize(small.size, Image.Resampling.BILINEAR))
    found: list[tuple[int, Box]] = []
    for group in groups:
        x, y, side = np.median(group, axis=0) / scale
        hits, refined = _verify(grey, x, y, side)
        if hits < MIN_VERIFY_HITS or refined is None:
            continue
        box = _clip_box(refined, image.size)
        if box is not None and (not check_skin or _skin_fraction(image, box) >= MIN_SKIN_FRACTION):
            found.append((hits, box))
    return _merge(found)


def _clip_box(xys: np.ndarray, size: tuple[int, int]) -> Box | None:
    """(x, y, side) floats -> an integer box inside an image of ``size`` (W, H); None if nothing is left."""
    x0, y0 = max(0, round(xys[0])), max(0, round(xys[1]))
    x1, y1 = min(size[0], round(xys[0] + xys[2])), min(size[1], round(xys[1] + xys[2]))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def face_mask(size: tuple[int, int], boxes: list[Box], feather: float = 0.15, margin: float = 0.15) -> np.ndarray:
    """(H, W) float32 in [0, 1] for an image of ``size`` (W, H): 1 on an ellipse over each face, 0 away from it.

    The ellipse covers the box grown by ``margin`` (a share of the box size) sideways and more toward the
    forehead and chin, which the cascade's box leaves out; its edge is a Gaussian-blurred step whose sigma is
    ``feather`` times the face width, cut to exact 0 and 1 beyond three sigmas.
    """
    width, height = size
    mask = np.zeros((height, width), dtype=np.float32)
    for x, y, w, h in boxes:
        cx, cy = x + w / 2, y + 0.45 * h
        rx, ry = 0.5 * w * (1 + 2 * margin), 0.5 * h * (1.3 + 2 * margin)
        sigma = max(feather * w, 1e-3)
        reach = 3 * sigma * max(rx, ry) / min(rx, ry)  # beyond this the mask is exactly 0
        x0, x1 = max(0, int(cx - rx - reach)), min(width, int(np.ceil(cx + rx + reach)) + 1)
        y0, y1 = max(0, int(cy - ry - reach)), min(height, int(np.ceil(cy + ry + reach)) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        across = ((np.arange(x0, x1, dtype=np.float32) - cx) / rx) ** 2
        down = ((np.arange(y0, y1, dtype=np.float32) - cy) / ry) ** 2
        # distance outside the ellipse edge, approximated by the normalised radius times the minor semi-axis
        distance = (np.sqrt(down[:, None] + across[None, :]) - 1.0) * np.float32(min(rx, ry))
        soft = (distance < 0).astype(np.float32)
        edge = np.abs(distance) <= 3 * sigma
        soft[edge] = 0.5 * erfc(distance[edge] / np.float32(np.sqrt(2.0) * sigma))
        np.maximum(mask[y0:y1, x0:x1], soft, out=mask[y0:y1, x0:x1])
    return mask


def crop_face(image: Image.Image, margin: float = 0.6) -> Image.Image | None:
    """A square crop around the largest face, ``margin`` face widths added on each side (shifted or shrunk to
    stay inside the image); None when no face is found. For few-shot samples and content framing."""
    boxes = detect_faces(image)
    if not boxes:
        return None
    x, y, w, h = boxes[0]
    side = min(round(max(w, h) * (1 + 2 * margin)), *image.size)
    cx, cy = x + w / 2, y + 0.45 * h
    left = int(np.clip(round(cx - side / 2), 0, image.width - side))
    top = int(np.clip(round(cy - side / 2), 0, image.height - side))
    return image.crop((left, top, left + side, top + side))
