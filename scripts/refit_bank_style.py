"""Re-fit one built-in style's code (plus a per-style adapter) to the function that made its exemplars, with the
generator frozen: the other styles, and the code space few-shot learning moves in, stay exactly as they are.

    OMP_NUM_THREADS=2 python scripts/refit_bank_style.py --weights weights --out /tmp/wC --style pencil --steps 300

Copies ``--weights`` to ``--out`` and replaces ``styles/<style>`` there. The loop is ``pipeline.learn``'s, started
from the bank style itself (not a zero-shot mix), with the style's exemplars (``data/styles/<style>``) as the Gram
targets (their weight times ``--style-scale``), the pretraining content photos that are wallpapers as the photos it
restyles, and, as before/after pairs, those photos and f of them (``training/looks.py``), the paired loss (L1 +
relative perceptual) weighted by ``--pair-weight`` (0 for a style with no f, such as truchet). The photos the
benchmarks score (``EVALUATION_PHOTOS``: the contact sheet's portraits, the fidelity set) are left out, so the
refit is judged on photos it never fitted. The style keeps its exemplars' Gram targets, so its
metrics mean what they meant. A seventh *training* stage for pencil made it faithful by changing the shared colour
branch, and that broke few-shot learning (``weights/README.md``, "A seventh stage for pencil"); this changes only
the style's own vectors.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline import PersonalStylePipeline  # noqa: E402
from pipeline.images import load_image  # noqa: E402
from pipeline.learn import MAX_SAMPLES, load_inputs, prepare, preset, validation_objective  # noqa: E402
from pipeline.learn_loop import _set_lr, backward_step, init_state  # noqa: E402
from training import looks  # noqa: E402

# scikit-image's and matplotlib's photos in data/content: the contact sheet's portraits and bench_fidelity's photos
EVALUATION_PHOTOS = frozenset({"astronaut", "grace_hopper", "coffee", "chelsea", "rocket", "motorcycle_left"})


def refit(
    pipe: PersonalStylePipeline,
    name: str,
    exemplars: list[Image.Image],
    photos: list[Image.Image],
    steps: int,
    pair_weight: float,
    code_lr: float,
    style_scale: float = 1.0,
    color_map_scale: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """(code (code_dim,), adapter (norm_params,), history) for bank style ``name`` fitted to its look; with
    ``pair_weight`` 0 only to its exemplars' Gram targets (and the content, colour and TV terms)."""
    fast = preset("fast")
    pairs = None
    if pair_weight > 0:
        f = getattr(looks, name)
        pairs = [(photo, f(photo)) for photo in photos[:MAX_SAMPLES]]
    config = replace(
        fast,
        steps=steps,
        adapters=True,
        pair_weight=pair_weight,
        code_lr=code_lr,
        holdout=0.0,
        style_weight=fast.style_weight * style_scale,
        color_map_weight=fast.color_map_weight * color_map_scale,
    )
    setup = prepare(pipe, load_inputs(exemplars[:MAX_SAMPLES], content=photos, pairs=pairs), config, seed)
    state = init_state(pipe, setup, pipe.styles[name], config, seed)
    history = [{"step": 0, "objective": validation_objective(setup, state, config)}]
    for step in range(steps):
        _set_lr(state, step, config)
        result = backward_step(setup, state, config, step)
        if result is None:
            raise RuntimeError(f"step {step + 1}: a loss or gradient is not finite")
        state.optimizer.step()
        if (step + 1) % 10 == 0 or step + 1 == steps:
            record = {"step": step + 1, **result[0], "objective": validation_objective(setup, state, config)}
            history.append({k: round(v, 5) for k, v in record.items()})
            print(json.dumps(history[-1]), flush=True)
    return state.code.detach().cpu(), state.norm_delta.detach().cpu(), history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--style", default="pencil")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--pair-weight", type=float, default=50.0)
    parser.add_argument("--code-lr", type=float, default=0.01)
    parser.add_argument("--style-scale", type=float, default=1.0, help="multiplies the Gram loss weight")
    parser.add_argument(
        "--color-map-scale", type=float, default=1.0, help="multiplies the colour-map residual (no blobs) weight"
    )
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; choose a new folder")
    if args.pair_weight < 0 or args.style_scale <= 0 or args.color_map_scale < 0:
        parser.error("--pair-weight and --color-map-scale must be 0 or more, --style-scale more than 0")
    if args.pair_weight > 0 and not callable(getattr(looks, args.style, None)):
        parser.error(f"training/looks.py has no function {args.style!r}; use --pair-weight 0 for a Gram-only refit")
    exemplar_dir = args.data / "styles" / args.style
    exemplars = [load_image(p) for p in sorted(exemplar_dir.glob("*.jpg"))]
    photos = [load_image(p) for p in sorted((args.data / "content").glob("*.jpg")) if p.stem not in EVALUATION_PHOTOS]
    if not exemplars or not photos:
        parser.error(
            f"no exemplars in {exemplar_dir} or no photos in {args.data / 'content'} besides the benchmark's "
            f"({', '.join(sorted(EVALUATION_PHOTOS))}); run fetch_data.py"
        )
    torch.manual_seed(0)
    random.seed(0)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    started = time.perf_counter()
    code, adapter, history = refit(
        pipe,
        args.style,
        exemplars,
        photos,
        args.steps,
        args.pair_weight,
        args.code_lr,
        args.style_scale,
        args.color_map_scale,
    )
    minutes = (time.perf_counter() - started) / 60
    staging = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(args.weights, staging)
    style = pipe.styles[args.style]
    style.code, style.norm_delta = code, adapter
    style.metadata = {
        **style.metadata,
        "refit": {
            "command": "python scripts/refit_bank_style.py " + " ".join(sys.argv[1:]),
            "steps": args.steps,
            "pair_weight": args.pair_weight,
            "code_lr": args.code_lr,
            "style_scale": args.style_scale,
            "color_map_scale": args.color_map_scale,
            "minutes": round(minutes, 1),
            "objective": [history[0]["objective"], history[-1]["objective"]],
        },
    }
    shutil.rmtree(staging / "styles" / args.style)
    style.save_pretrained(staging / "styles" / args.style)
    staging.rename(args.out)
    print(f"{args.style}: {minutes:.1f} min, objective {history[0]['objective']:.3f} -> {history[-1]['objective']:.3f}")


if __name__ == "__main__":
    main()
