"""Fidelity of the bank's procedural styles to the looks that define them.

    OMP_NUM_THREADS=2 python benchmarks/bench_fidelity.py [--weights weights] [--out benchmarks/results/fidelity.md]

Ten bank styles were made by applying a known function f (``training/looks.py``: four colour grades, six
non-photorealistic filters) to 12 content photos each. The Gram ratio (``scripts/contact_sheet.py``) asks whether an
output's texture statistics moved toward the style; this asks the plainer question a user asks: does
G(x | style) look like f(x)? For each style and photo it reports the mean CIELAB distance (ΔE, CIE76) of the output
to f(x), and of the unchanged input to f(x) as the baseline. Where the input is closer than the output, the style
renders something other than its own look (a colour cast, blobs). Photos: scikit-image's rocket, coffee, chelsea,
motorcycle (left view) and the contact sheet's portraits at a 384 px long side. All but the cameraman are among the
pretraining content photos, and some are among a style's 12 exemplars: this measures fidelity, not generalisation.
Optionally saves a sheet (``--sheet``): for each style a row of outputs above a row of f(x).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LONG_SIDE = 384


def photos() -> dict[str, Image.Image]:
    """The benchmark photos, long side ``LONG_SIDE``."""
    import skimage.data
    from contact_sheet import PORTRAITS, portraits

    images = {name: Image.fromarray(getattr(skimage.data, name)()) for name in ("rocket", "coffee", "chelsea")}
    images["motorcycle"] = Image.fromarray(skimage.data.stereo_motorcycle()[0])
    for image in images.values():
        image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    images.update(zip(PORTRAITS, portraits(LONG_SIDE)))
    return images


def delta_e(a: Image.Image, b: Image.Image) -> float:
    """Mean CIE76 ΔE between two same-size RGB images."""
    from skimage.color import rgb2lab

    lab = [rgb2lab(np.asarray(x.convert("RGB"), dtype=np.float64) / 255.0) for x in (a, b)]
    return float(np.linalg.norm(lab[0] - lab[1], axis=2).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fidelity.md")
    parser.add_argument("--sheet", type=Path, default=None, help="also save outputs above f(x) as an image")
    args = parser.parse_args()

    from pipeline import PersonalStylePipeline
    from training.looks import LOOKS

    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    images = photos()
    missing = [name for name in LOOKS if name not in pipe.styles]
    if missing:
        raise SystemExit(f"{args.weights}: no bank style for the looks {missing}")
    header = "| style | " + " | ".join(images) + " | mean | input's mean | output / input |"
    rows, summary = [header, "| --- |" + " ---: |" * (len(images) + 3)], []
    tile = 128
    sheet = Image.new("RGB", (tile * len(images), tile * 2 * len(LOOKS)), "white")
    for r, (name, look) in enumerate(LOOKS.items()):
        outputs = pipe(list(images.values()), style=name, metrics=False).images
        truths = [look(image) for image in images.values()]
        ours = [delta_e(o, t) for o, t in zip(outputs, truths)]
        base = [delta_e(i, t) for i, t in zip(images.values(), truths)]
        ratio = np.mean(ours) / np.mean(base)
        summary.append((name, ratio, sum(o < b for o, b in zip(ours, base))))
        rows.append(
            f"| {name} | "
            + " | ".join(f"{v:.1f}" for v in ours)
            + f" | {np.mean(ours):.1f} | {np.mean(base):.1f} | {ratio:.2f} |"
        )
        for c, pair in enumerate(zip(outputs, truths)):
            for k, image in enumerate(pair):
                thumb = image.copy()
                thumb.thumbnail((tile, tile))
                sheet.paste(thumb, (c * tile, (2 * r + k) * tile))
        print(rows[-1], flush=True)
    lines = [
        "# Fidelity of the procedural bank styles to their defining looks",
        "",
        f"`python benchmarks/bench_fidelity.py {' '.join(sys.argv[1:])}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"weights `{args.weights}`, torch threads {torch.get_num_threads()}.",
        "",
        f"Mean CIELAB ΔE (CIE76) of G(x | style) to f(x), the function that made the style's exemplars "
        f"(`training/looks.py`), per photo at a {LONG_SIDE} px long side; \"input's mean\" is the unchanged photo's ΔE to "
        "f(x). Lower is better; output / input above 1 means the unchanged photo is closer to the look than our "
        "output.",
        "",
        *rows,
        "",
        *(
            f"- {name}: output / input {ratio:.2f}; output closer than the input on {n}/{len(images)} photos"
            for name, ratio, n in summary
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    if args.sheet:
        sheet.save(args.sheet)
    print("\n".join(lines[-len(summary) - 1 :]))


if __name__ == "__main__":
    main()
