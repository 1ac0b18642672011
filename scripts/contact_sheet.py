"""Contact sheet of every built-in style on three held-out portraits, plus the Gram-loss table per style.

    python -m scripts.contact_sheet --weights weights --out assets/contact_sheet.jpg --table benchmarks/results/styles.md

Portraits: scikit-image's astronaut (Eileen Collins, NASA, public domain), matplotlib's Grace Hopper (US Navy,
public domain) and scikit-image's cameraman (grayscale, public domain), 384 px; none of them is trained on
(``training/configs/*.json`` exclude them). The table gives, per style and portrait, the mean over layers of the
relative Gram distance of the input and of the output to the style (what the app reports; lower = closer), their
ratio, the content distance, and three artifact scores (``pipeline/quality.py``): spots, the colour-map residual of
output vs input over its worst 1 % of 8x8 cells (x1000; a saturated spot painted into a flat region scores 100+, a
clean colour grade under 30, a look that paints edges by design such as neon more); stripes, mean |vertical| over
mean |horizontal| neighbour difference of the change in luminance (about 1 for isotropic change, 2-8 for scan-line
streaks); smears, the row-minus-column autocorrelation of the fine change (about 0; 0.3-0.8 where dark features
are stretched into horizontal bands). For styles made by a known function f (``training/looks``), "look f(x) /
input" gives the same ratio for f applied exactly to the portrait: what a perfectly faithful rendering scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import median

import matplotlib
import skimage.data
from PIL import Image, ImageDraw

from pipeline import PersonalStylePipeline
from pipeline.images import pil_to_tensor
from pipeline.quality import smear_score, spot_score, stripe_score
from training.looks import LOOKS

TILE = 176


def scores(output: Image.Image, source: Image.Image) -> tuple[float, float, float]:
    """Spot, stripe and smear scores (``pipeline.quality``) of one stylised image against its input."""
    y, x = pil_to_tensor(output), pil_to_tensor(source)
    return spot_score(y, x).item(), stripe_score(y, x).item(), smear_score(y, x).item()


PORTRAITS = ("astronaut", "hopper", "cameraman")


def portraits(size: int) -> list[Image.Image]:
    astronaut = Image.fromarray(skimage.data.astronaut())
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    cameraman = Image.fromarray(skimage.data.camera()).convert("RGB")
    out = []
    for image in (astronaut, hopper, cameraman):
        image = image.copy()
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        out.append(image)
    return out


def summary(rows: list[tuple]) -> list[str]:
    """Lines counting the style x portrait pairs whose output is closer to the style than the input."""
    lines = []
    picked = [row for row in rows if row[0] != "photo"]
    if picked:
        ratios, spots, stripes, smears = ([row[i] for row in picked] for i in (4, 7, 8, 9))
        lines.append(
            f"- held-out portraits: {sum(r < 1 for r in ratios)}/{len(ratios)} style×portrait pairs closer to the "
            f"style than the input, {sum(r < 0.8 for r in ratios)} below 0.8; median ratio {median(ratios):.2f}, "
            f"worst {max(ratios):.2f}; spot score median {median(spots):.0f}, worst {max(spots):.0f}, "
            f"{sum(v >= 100 for v in spots)} at 100+; stripe score median {median(stripes):.2f}, "
            f"worst {max(stripes):.2f}; smear score median {median(smears):.2f}, worst {max(smears, key=abs):.2f}, "
            f"{sum(abs(v) >= 0.3 for v in smears)} at ±0.3+"
        )
    known = [row for row in rows if row[5] is not None]
    if known:
        hard = [f"{row[0]}/{row[1]} {row[5]:.2f}" for row in known if row[5] >= 0.9]
        lines.append(
            f"- the exact looks f(x), where known ({len(known)} pairs): median ratio {median(r[5] for r in known):.2f}; "
            f"at 0.9 or more: {', '.join(hard) or 'none'}"
        )
    return lines


def paste_tile(
    sheet: Image.Image, draw: ImageDraw.ImageDraw, image: Image.Image, col: int, row: int, label: str, tile: int = TILE
) -> None:
    """Paste ``image`` shrunk to fit a ``tile`` square into cell (col, row) of ``sheet``, ``label`` above it."""
    small = image.copy()
    small.thumbnail((tile, tile), Image.Resampling.LANCZOS)
    y = row * (tile + 18)
    sheet.paste(small, (col * tile + (tile - small.width) // 2, y + 18))
    draw.text((col * tile + 4, y + 3), label, fill="black")


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("assets/contact_sheet.jpg"))
    parser.add_argument("--table", type=Path)
    args = parser.parse_args()
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    inputs = portraits(args.size)
    names = list(pipe.styles)
    sheet = Image.new("RGB", (TILE * len(names), (TILE + 18) * len(inputs)), "white")
    draw = ImageDraw.Draw(sheet)
    rows = []
    for col, name in enumerate(names):
        out = pipe(inputs, style=name)
        for row, image in enumerate(out.images):
            paste_tile(sheet, draw, image, col, row, name)
        for portrait, metrics, source, image in zip(PORTRAITS, out.metrics, inputs, out.images):
            before, after = mean(metrics["input_style_loss"]), mean(metrics["style_loss"])
            look = None  # the style has no known function (wallpapers, photo)
            if name in LOOKS:  # the exact look's own ratio
                exact = pipe.style_metrics(pil_to_tensor(LOOKS[name](source)), pil_to_tensor(source), pipe.styles[name])
                look = mean(exact["style_loss"]) / mean(exact["input_style_loss"])
            rows.append(
                (name, portrait, before, after, after / before, look, metrics["content_loss"], *scores(image, source))
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    lines = [
        "| style | portrait | Gram loss of input | Gram loss of output | output / input | look f(x) / input "
        "| content loss | spots | stripes | smears |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {n} | {p} | {b:.3f} | {a:.3f} | {r:.2f} | {'–' if lk is None else f'{lk:.2f}'} | {c:.3f} | {sp:.0f} | {st:.2f} "
        f"| {sm:.2f} |"
        for n, p, b, a, r, lk, c, sp, st, sm in rows
    ]
    text = "\n".join(lines + [""] + summary(rows))
    print(text)
    print(f"\nwrote {args.out} ({sheet.width}x{sheet.height})")
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(text + "\n")


if __name__ == "__main__":
    main()
