"""How close to its style can a portrait get without drawing texture? For the contact sheet's weakest style x
portrait pairs, the Gram ratio (output / input, the number in ``scripts/contact_sheet.py``'s table) of:

- the generator's output (what the app shows);
- the best of a set of global edits of the photo: Gaussian blur, contrast, saturation, a 16-colour palette and,
  with ``--data``, a colour transfer to the mean and spread of the style's own images (Reinhard, per RGB channel);
- pixel optimisation (Gatys) of the same Gram distance plus a content term, started from the generator's output:
  what a generator that can synthesise the style's texture could reach.

    python scripts/gram_floor.py --weights weights --data data --out benchmarks/results/gram_floor.md \
        --sheet assets/gram_floor.jpg

A ratio near 1 for every global edit while optimisation goes far below it says the pair needs texture, not a
colour or tone change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contact_sheet import PORTRAITS, mean, paste_tile, portraits  # noqa: E402

from pipeline import PersonalStyle, PersonalStylePipeline  # noqa: E402
from pipeline.images import pil_to_tensor, tensor_to_pil  # noqa: E402
from pipeline.pipeline import CONTENT_TAP, METRIC_LONG_SIDE, METRIC_TAPS, relative_gram_distance  # noqa: E402

WEAK_PAIRS = "watercolor:hopper,pencil:cameraman,truchet:hopper,cartoon:hopper,halftone:cameraman,neon:astronaut"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def ratio(
    pipe: PersonalStylePipeline, image: Image.Image, photo: Image.Image, style: PersonalStyle
) -> tuple[float, float]:
    """(Gram loss of ``image`` / Gram loss of ``photo``, content loss of ``image``), as the contact sheet."""
    m = pipe.style_metrics(pil_to_tensor(image), pil_to_tensor(photo), style)
    return mean(m["style_loss"]) / mean(m["input_style_loss"]), m["content_loss"]


def color_transfer(photo: Image.Image, folder: Path) -> Image.Image:
    """Per-channel mean and std of ``photo`` moved to those of the images in ``folder`` (pooled)."""
    pixels = [
        np.asarray(Image.open(p).convert("RGB").resize((256, 192)), np.float32).reshape(-1, 3)
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not pixels:
        raise FileNotFoundError(f"no style images in {folder}")
    target = np.concatenate(pixels)
    a = np.asarray(photo, np.float32)
    flat = a.reshape(-1, 3)
    out = (a - flat.mean(0)) / flat.std(0).clip(1e-3) * target.std(0) + target.mean(0)
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def global_edits(style_dir: Path | None) -> dict[str, Callable[[Image.Image], Image.Image]]:
    edits: dict[str, Callable[[Image.Image], Image.Image]] = {
        "blur 1 px": lambda x: x.filter(ImageFilter.GaussianBlur(1)),
        "blur 2 px": lambda x: x.filter(ImageFilter.GaussianBlur(2)),
        "contrast x0.7": lambda x: ImageEnhance.Contrast(x).enhance(0.7),
        "contrast x1.3": lambda x: ImageEnhance.Contrast(x).enhance(1.3),
        "saturation x0.5": lambda x: ImageEnhance.Color(x).enhance(0.5),
        "saturation x1.5": lambda x: ImageEnhance.Color(x).enhance(1.5),
        "16 colours": lambda x: x.quantize(16).convert("RGB"),
    }
    if style_dir is not None and style_dir.is_dir():
        edits["colour transfer"] = lambda x: color_transfer(x, style_dir)
    return edits


def optimise(
    pipe: PersonalStylePipeline,
    start: Image.Image,
    photo: Image.Image,
    style: PersonalStyle,
    steps: int,
    content_weight: float,
    lr: float,
) -> Image.Image:
    """Adam on the pixels of ``start``: mean relative Gram distance over the metric taps (on the metric-size copy,
    as ``style_metrics`` measures) + ``content_weight`` x relative content distance to ``photo``."""

    def small(t: torch.Tensor) -> torch.Tensor:
        scale = METRIC_LONG_SIDE / max(t.shape[2:])
        size = (round(t.shape[2] * scale), round(t.shape[3] * scale))
        return F.interpolate(t, size=size, mode="bicubic", antialias=True, align_corners=False)

    targets = {t: style.gram[t] for t in METRIC_TAPS}
    with torch.no_grad():
        photo_content = pipe.loss_net(small(pil_to_tensor(photo)), (CONTENT_TAP,))[CONTENT_TAP]
    pixels = pil_to_tensor(start).requires_grad_(True)
    opt = torch.optim.Adam([pixels], lr=lr)
    for _ in range(steps):
        feats = pipe.loss_net(small(pixels), METRIC_TAPS)
        gram = sum(relative_gram_distance(feats[t], targets[t]).mean() for t in METRIC_TAPS) / len(METRIC_TAPS)
        content = (feats[CONTENT_TAP] - photo_content).pow(2).mean() / photo_content.pow(2).mean()
        loss = gram + content_weight * content
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)
    return tensor_to_pil(pixels.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument(
        "--data", type=Path, help="the pretraining data folder (scripts/fetch_data.py), for colour transfer"
    )
    parser.add_argument("--pairs", default=WEAK_PAIRS, help=f"style:portrait,... (portraits: {', '.join(PORTRAITS)})")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--content-weight", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--sheet", type=Path, help="also save a sheet: each pair's generator output over its optimised image"
    )
    args = parser.parse_args()
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    photos = dict(zip(PORTRAITS, portraits(args.size)))
    pairs = [p.split(":") for p in args.pairs.split(",")]
    for pair in pairs:
        if len(pair) != 2:
            raise SystemExit(f"--pairs takes style:portrait,...; got {':'.join(pair)!r}")
    for style_name, portrait in pairs:
        if style_name not in pipe.styles:
            raise SystemExit(f"unknown style {style_name!r}; the bank has {', '.join(pipe.styles)}")
        if portrait not in photos:
            raise SystemExit(f"unknown portrait {portrait!r}; choose from {', '.join(PORTRAITS)}")
    lines = [
        "| style | portrait | generator: ratio (content) | best global edit: ratio (content) | "
        f"optimised from the output, {args.steps} steps: ratio (content) |",
        "| --- | --- | --- | --- | --- |",
    ]
    print(lines[0], flush=True)
    tile = 200
    sheet = Image.new("RGB", (tile * len(pairs), 2 * (tile + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, (style_name, portrait) in enumerate(pairs):
        style, photo = pipe.styles[style_name], photos[portrait]
        output = pipe(photo, style=style_name, metrics=False).images[0]
        ours = ratio(pipe, output, photo, style)
        edits = {
            name: ratio(pipe, edit(photo), photo, style)
            for name, edit in global_edits(args.data / "styles" / style_name if args.data else None).items()
        }
        best = min(edits, key=lambda n: edits[n][0])
        optimised = optimise(pipe, output, photo, style, args.steps, args.content_weight, args.lr)
        opt = ratio(pipe, optimised, photo, style)
        lines.append(
            f"| {style_name} | {portrait} | {ours[0]:.2f} ({ours[1]:.2f}) | {best}: {edits[best][0]:.2f} "
            f"({edits[best][1]:.2f}) | {opt[0]:.2f} ({opt[1]:.2f}) |"
        )
        print(lines[-1], flush=True)
        paste_tile(sheet, draw, output, col, 0, f"{style_name} / {portrait}: {ours[0]:.2f}", tile)
        paste_tile(sheet, draw, optimised, col, 1, f"{style_name} / {portrait}: optimised {opt[0]:.2f}", tile)
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.sheet, quality=88)
    if args.out:
        command = f"python scripts/gram_floor.py --weights {args.weights}" + (
            f" --data {args.data}" if args.data else ""
        )
        text = "\n".join([f"`{command} --steps {args.steps} --content-weight {args.content_weight}`", "", *lines])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
