"""Fidelity of the built-in looks: does G(x | look) look like f(x), the look's defining function?

    python -m benchmarks.bench_fidelity [--weights weights] [--json OUT] [--out benchmarks/results/fidelity.md]
                                         [--sheet SHEET.png]

Each paired built-in style is taught by a known function f (``training/looks``). On the eight evaluation photos
that pretraining never sees (``benchmarks/photos``, two portraits) at a 512 px long side it reports, per look and
as means over the photos: SSIM of the output to f(x) next to the unchanged photo's SSIM to f(x), the ratio of
mean CIELAB ΔE (CIE76) of the output to f(x) over the photo's ΔE to f(x), and for line looks the F1 score of the
dark-stroke masks of output and f(x). Targets: ΔE ratio ≤ 0.5, SSIM at least 0.15 above the photo's, stroke F1
≥ 0.5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "benchmarks/photos"
LONG_SIDE = 512
LINE_LOOKS = ("pencil", "charcoal", "ink", "screentone", "cartoon", "woodcut")
TARGETS = {"de_ratio": 0.5, "ssim_gain": 0.15, "stroke_f1": 0.5}


def photos() -> dict[str, Image.Image]:
    """The evaluation photos (``benchmarks/photos``), long side ``LONG_SIDE``."""
    images = {}
    for path in sorted(PHOTOS.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
        images[path.stem] = image
    return images


def _lab(image: Image.Image) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0)


def delta_e(a: Image.Image, b: Image.Image) -> float:
    """Mean CIE76 ΔE between two same-size RGB images."""
    return float(np.linalg.norm(_lab(a) - _lab(b), axis=2).mean())


def ssim(a: Image.Image, b: Image.Image) -> float:
    from skimage.metrics import structural_similarity

    x, y = (np.asarray(i.convert("RGB"), dtype=np.float64) / 255.0 for i in (a, b))
    return float(structural_similarity(x, y, channel_axis=2, data_range=1.0))


def stroke_mask(image: Image.Image) -> np.ndarray:
    """(H, W) bool: dark marks, pixels darker than their surroundings (Gaussian, 3 px) by more than 0.08."""
    import cv2

    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    local = cv2.GaussianBlur(grey, (0, 0), 3.0)
    return grey < local - 0.08


def stroke_f1(output: Image.Image, truth: Image.Image) -> float:
    """F1 of the dark-stroke masks, counting a stroke pixel as found within 1 px."""
    import cv2

    ours, true = stroke_mask(output), stroke_mask(truth)
    kernel = np.ones((3, 3), np.uint8)
    near_true = cv2.dilate(true.astype(np.uint8), kernel) > 0
    near_ours = cv2.dilate(ours.astype(np.uint8), kernel) > 0
    precision = (ours & near_true).sum() / max(1, ours.sum())
    recall = (true & near_ours).sum() / max(1, true.sum())
    return float(2 * precision * recall / max(1e-9, precision + recall))


def measure(pipe, name: str, look, images: dict[str, Image.Image]) -> tuple[dict, list, list]:
    """-> (means, outputs, truths) of one look over the photos."""
    outputs = pipe(list(images.values()), style=name, metrics=False).images
    truths = [look(image) for image in images.values()]
    rows = [
        (ssim(o, t), ssim(x, t), delta_e(o, t), delta_e(x, t))
        for o, t, x in zip(outputs, truths, images.values(), strict=True)
    ]
    s, ps, de, pde = (np.array(column) for column in zip(*rows, strict=True))
    result = {
        "ssim": round(float(s.mean()), 4),
        "photo_ssim": round(float(ps.mean()), 4),
        "de_ratio": round(float(de.mean() / pde.mean()), 4),
        "stroke_f1": None,
        "photo_stroke_f1": None,
    }
    if name in LINE_LOOKS:
        result["stroke_f1"] = round(float(np.mean([stroke_f1(o, t) for o, t in zip(outputs, truths)])), 4)
        result["photo_stroke_f1"] = round(float(np.mean([stroke_f1(x, t) for x, t in zip(images.values(), truths)])), 4)
    return result, outputs, truths


def passes(r: dict) -> bool:
    ok = r["de_ratio"] <= TARGETS["de_ratio"] and r["ssim"] >= r["photo_ssim"] + TARGETS["ssim_gain"]
    return ok and (r["stroke_f1"] is None or r["stroke_f1"] >= TARGETS["stroke_f1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--json", type=Path, default=None, help="also write {look: measures} as JSON")
    parser.add_argument("--out", type=Path, default=None, help="write the table as Markdown")
    parser.add_argument("--sheet", type=Path, default=None, help="save outputs above f(x) as an image")
    args = parser.parse_args()

    from pipeline import PersonalStylePipeline
    from training.looks import LOOKS

    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    images = photos()
    looks = {name: fn for name, fn in LOOKS.items() if name in pipe.styles}
    missing = sorted(set(LOOKS) - set(looks))
    rows = ["| look | SSIM | photo's SSIM | ΔE ratio | stroke F1 | photo's stroke F1 | meets targets |"]
    rows.append("| --- |" + " ---: |" * 6)
    results, tile = {}, 112
    sheet = Image.new("RGB", (tile * len(images), tile * 2 * len(looks)), "white")
    started = time.time()
    for r, (name, look) in enumerate(looks.items()):
        results[name], outputs, truths = measure(pipe, name, look, images)
        res = results[name]
        f1, pf1 = ("" if res[k] is None else f"{res[k]:.2f}" for k in ("stroke_f1", "photo_stroke_f1"))
        rows.append(
            f"| {name} | {res['ssim']:.3f} | {res['photo_ssim']:.3f} | {res['de_ratio']:.2f} | {f1} | {pf1} | "
            f"{'yes' if passes(res) else 'no'} |"
        )
        print(rows[-1], flush=True)
        for c, pair in enumerate(zip(outputs, truths, strict=True)):
            for k, image in enumerate(pair):
                thumb = image.copy()
                thumb.thumbnail((tile, tile))
                sheet.paste(thumb, (c * tile, (2 * r + k) * tile))
    met = sum(passes(r) for r in results.values())
    lines = [
        "# Fidelity of the built-in looks to their defining functions",
        "",
        f"`python -m benchmarks.bench_fidelity` on `{args.weights}`, {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{len(images)} evaluation photos at {LONG_SIDE} px, torch threads {torch.get_num_threads()}, "
        f"{time.time() - started:.0f} s.",
        "",
        "SSIM and CIELAB ΔE of G(x | look) to f(x), means over the photos; the photo's SSIM is the unchanged "
        "photo's to f(x); ΔE ratio is our ΔE over the photo's (lower is better); stroke F1 for line looks. Targets: "
        f"ΔE ratio ≤ {TARGETS['de_ratio']}, SSIM ≥ photo's + {TARGETS['ssim_gain']}, stroke F1 ≥ "
        f"{TARGETS['stroke_f1']}. {met} of {len(results)} looks meet them."
        + (f" No bank style for: {', '.join(missing)}." if missing else ""),
        "",
        *rows,
        "",
    ]
    print("\n".join(lines[:6]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.sheet:
        sheet.save(args.sheet)


if __name__ == "__main__":
    main()
