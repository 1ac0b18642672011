"""Command line: ``python -m pipeline {styles,stylize,learn,push} ...``.

python -m pipeline styles
python -m pipeline stylize selfie.jpg --style golden_hour -o out/
python -m pipeline stylize a.jpg b.jpg --style "noir:0.7,sepia:0.3" --strength 0.8 -o out/
python -m pipeline learn feed/*.jpg --name my-look --out styles/my-look --quality fast
python -m pipeline push styles/my-look --repo user/my-look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


HUB_PREFIX = "hub:"


def parse_style(spec: str) -> Any:
    """``"name"`` or a folder -> itself; ``"hub:user/repo"`` -> that Hub style, downloaded (the only way the CLI
    reaches the Hub for a style); ``"a:0.7,b:0.3"`` -> a weighted mix."""
    if spec.startswith(HUB_PREFIX):
        from . import PersonalStyle

        return PersonalStyle.from_pretrained(spec.removeprefix(HUB_PREFIX))
    if ":" not in spec:
        return spec
    mix: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().rpartition(":")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"bad style mix {spec!r}; write it like 'noir:0.7,sepia:0.3'") from None
    return mix


def save_atomic(image, path: Path) -> None:
    """Write an image through a temporary file in the same folder, then rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_pipeline(weights: str):
    from diffusers.utils import logging as diffusers_logging

    from . import PersonalStylePipeline

    diffusers_logging.disable_progress_bar()
    pipe = PersonalStylePipeline.from_pretrained(weights)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def cmd_styles(args: argparse.Namespace) -> None:
    pipe = load_pipeline(args.weights)
    width = max(map(len, pipe.styles))
    for name, style in pipe.styles.items():
        print(f"{name:<{width}}  {style.metadata.get('description', '')}")


def cmd_stylize(args: argparse.Namespace) -> int:
    """Restyle each image; an unreadable one is reported and skipped (exit code 2 at the end), the rest are done."""
    from tqdm import tqdm

    from .images import ImageError, load_image

    pipe = load_pipeline(args.weights)
    style = parse_style(args.style)
    pipe.resolve_style(style)  # fail before any work on a bad style
    label = args.style.replace("/", "_").replace(":", "").replace(",", "+")
    results, failed = [], 0
    bar = tqdm(args.images, unit="img", file=sys.stderr)
    for path in bar:
        try:
            image = load_image(path)
        except ImageError as exc:
            bar.write(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        start = time.perf_counter()
        out = pipe(
            image, style=style, strength=args.strength, preserve_color=args.preserve_color, metrics=not args.no_metrics
        )
        seconds = time.perf_counter() - start
        target = args.out / f"{Path(path).stem}_{label}.png"
        if any(r["output"] == str(target) for r in results):  # a.jpg and a.png: keep both
            target = target.with_name(f"{Path(path).stem}-{len(results)}_{label}.png")
        save_atomic(out.images[0], target)
        bar.write(f"{path} -> {target}  ({image.size[0]}x{image.size[1]}, {seconds * 1000:.0f} ms)")
        results.append({"input": str(path), "output": str(target), "seconds": round(seconds, 4), **out.metrics[0]})
    if args.metrics_json:
        args.metrics_json.write_text(json.dumps(results, indent=2))
    if failed:
        print(f"error: {failed} of {len(args.images)} images could not be read (see above)", file=sys.stderr)
        return 2
    return 0


def cmd_learn(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from .learn_summary import describe_kept, describe_mix

    pipe = load_pipeline(args.weights)
    bar = tqdm(total=1, unit="step", file=sys.stderr, desc=f"learning {args.name}")

    def progress(step: int, total: int, losses: dict[str, float], preview) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix({k: f"{v:.3g}" for k, v in list(losses.items())[:3]}, refresh=False)
        bar.refresh()

    style = pipe.learn_style(
        args.samples,
        quality=args.quality,
        seed=args.seed,
        content=args.content or None,
        steps=args.steps,
        size=args.size,
        callback=progress,
    )
    bar.close()
    style.name = args.name
    style.save_pretrained(args.out)
    meta = style.metadata
    if meta.get("steps"):
        print(describe_kept(meta, meta["steps"]) or f"Kept the last step ({meta['steps']}).")
    if meta.get("kept_step") == 0:
        print(f"The instant mix: {describe_mix(meta.get('zero_shot_mix') or {})}.")
    metrics = meta.get("metrics", {})
    print(f"saved {args.out} ({meta.get('seconds', 0):.1f} s); metrics on the samples: {json.dumps(metrics)}")


def cmd_push(args: argparse.Namespace) -> None:
    from .hub import resolve_token
    from .style import PersonalStyle

    style = PersonalStyle.load_folder(Path(args.folder))
    url = style.push_to_hub(args.repo, token=resolve_token(args.token), private=args.private)
    print(url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Personal Style Studio")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="pipeline folder or Hub repo id")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("styles", help="list the built-in styles").set_defaults(func=cmd_styles)

    p = sub.add_parser("stylize", help="restyle images")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument(
        "--style", required=True, help="bank name, style folder, hub:user/name (a Hub style), or a mix 'a:0.7,b:0.3'"
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--preserve-color", action="store_true")
    p.add_argument("--no-metrics", action="store_true", help="skip the Gram metrics (faster)")
    p.add_argument("--metrics-json", type=Path, help="write per-image metrics and times to this JSON file")
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("learn", help="learn a style from 1-20 sample pictures")
    p.add_argument("samples", nargs="+", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--out", type=Path, required=True, help="style folder to write")
    p.add_argument(
        "--quality",
        choices=("instant", "fast", "balanced", "best"),
        default="fast",
        help="instant: the style encoder's look (a mix of built-in looks and a colour grade), no learning steps",
    )
    p.add_argument("--content", nargs="*", type=Path, help="your own photos to keep content on (optional)")
    p.add_argument("--steps", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser("push", help="push a style folder to the Hugging Face Hub")
    p.add_argument("folder", type=Path)
    p.add_argument("--repo", required=True)
    p.add_argument("--private", action="store_true")
    p.add_argument("--token", help="defaults to $HF_TOKEN")
    p.set_defaults(func=cmd_push)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .hub import HubError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; try smaller images", file=sys.stderr)
        return 2
    except (HubError, ValueError, OSError, RuntimeError) as exc:  # ImageError/StyleError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
