"""Can a style's Gram target tell its own look from no look at all?

    python -m benchmarks.bench_gram_target --weights weights --data data --out benchmarks/results/gram_target.md

Each procedural built-in style's Gram target is the mean Gram matrix of its 12 exemplars f(p_i), made by the
style's function f (``training/looks.py``) from 12 content photos p_i (``scripts/fetch_data.py``, same file names).
Leave one out: the target of the other 11 exemplars (their mean Gram, ``pipeline.train.style_targets``, as the
bank's targets are made) scores the held-out f(p_i) against its own photo p_i exactly as the pipeline's metrics score an output against
its input (``PersonalStylePipeline.style_metrics``). The ratio f(p_i) / p_i is what a perfectly faithful rendering
of the look achieves on a photo the target never saw; where its median is near 1, the contact sheet's criterion
"output Gram loss well below the input's" asks for more than the look itself does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import median

from PIL import Image

from pipeline import PersonalStylePipeline
from pipeline.images import load_image, pil_to_tensor
from pipeline.style import PersonalStyle
from pipeline.train import TrainConfig, style_targets
from training.looks import LOOKS

ROOT = Path(__file__).resolve().parents[1]


def mean_loss(losses: dict[str, float]) -> float:
    return sum(losses.values()) / len(losses)


def leave_one_out(pipe: PersonalStylePipeline, name: str, data: Path, long_side: int) -> list[tuple[str, float]]:
    """(photo name, Gram ratio of f(p_i) over p_i against the other exemplars' target) for each exemplar."""
    folder = data / "styles" / name
    paths = sorted(folder.glob("*.jpg"))
    exemplars = []
    for path in paths:
        image = load_image(path)
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        exemplars.append(pil_to_tensor(image)[0])
    grams = [style_targets(pipe.loss_net, [image]) for image in exemplars]  # one loss-net pass per exemplar
    full = {tap: sum(g[tap] for g in grams) / len(grams) for tap in grams[0]}
    # the bank's target must be this procedure's, or the comparison means nothing
    for tap, gram in pipe.styles[name].gram.items():
        error = ((full[tap] - gram).norm() / gram.norm()).item()
        if error > 1e-2:
            raise RuntimeError(f"{name}: exemplars in {folder} do not reproduce the shipped {tap} target ({error:.3f})")
    rows = []
    for i, path in enumerate(paths):
        photo_path = data / "content" / path.name
        if not photo_path.exists():
            raise FileNotFoundError(f"{photo_path}: the photo {path} was made from; run scripts/fetch_data.py")
        target = {tap: (full[tap] * len(grams) - grams[i][tap]) / (len(grams) - 1) for tap in full}
        style = PersonalStyle(f"{name} without {path.stem}", pipe.styles[name].code, None, target, {})
        photo = load_image(photo_path)
        look = load_image(path)
        metrics = pipe.style_metrics(pil_to_tensor(look), pil_to_tensor(photo), style)
        rows.append((path.stem, mean_loss(metrics["style_loss"]) / mean_loss(metrics["input_style_loss"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    long_side = TrainConfig().style_long_side
    lines = [
        "# Can a style's Gram target tell its own look from no look?",
        "",
        f"`python -m benchmarks.bench_gram_target {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        "",
        "Each exemplar f(p_i) of a procedural style, left out of the style's Gram target (the mean Gram of the other "
        "11 exemplars, as the bank's targets are made), scored against its own photo p_i as the contact sheet scores "
        "an output against its input: Gram distance of f(p_i) over that of p_i. Below 1: the look moves the photo "
        "toward the target; near 1: the target cannot tell the look from the unchanged photo.",
        "",
        "| style | median f(p)/p | below 0.8 | at 0.9 or more | worst (photo) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name in LOOKS:
        if name not in pipe.styles:
            continue
        rows = leave_one_out(pipe, name, args.data, long_side)
        ratios = [r for _, r in rows]
        worst = max(rows, key=lambda r: r[1])
        lines.append(
            f"| {name} | {median(ratios):.2f} | {sum(r < 0.8 for r in ratios)}/{len(rows)} "
            f"| {sum(r >= 0.9 for r in ratios)}/{len(rows)} | {worst[1]:.2f} ({worst[0]}) |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
