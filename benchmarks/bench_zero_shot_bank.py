"""Does the zero-shot start find a bank look from ordinary photos in that look?

    OMP_NUM_THREADS=1 python benchmarks/bench_zero_shot_bank.py --out benchmarks/results/zero_shot_bank.md

For each look f in ``scripts/looks.py`` (the functions that made the procedural bank styles' exemplars) and two sets
of three photos from ``weights/content``, the samples f(photo) go to the zero-shot start with each way of scoring
the bank (``LearnConfig.zero_shot_distance``). Reported: the mixture's leading style, and the mean CIELAB distance
of the stylised astronaut and Grace Hopper to f(portrait) divided by the unchanged portrait's (below 1: closer to
the look than the photo). ``bench_learn.py`` asks the same question with abstract wallpapers as samples, where the
answer differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_fidelity import delta_e  # noqa: E402
from looks import LOOKS  # noqa: E402

from pipeline import PersonalStylePipeline  # noqa: E402
from pipeline.learn import load_inputs, mixture_start, prepare, preset  # noqa: E402

SAMPLE_SETS = (("chelsea", "coffee", "motorcycle_left"), ("rocket", "chelsea", "coffee"))
PORTRAITS = ("astronaut", "grace_hopper")  # not among the samples
MODES = {  # label: LearnConfig overrides
    "targets (τ=0.25)": {"zero_shot_distance": "targets", "temperature": 0.25},
    "measured (τ=0.1)": {"zero_shot_distance": "measured", "temperature": 0.1},
    "both (τ=0.25)": {"zero_shot_distance": "both", "temperature": 0.25},
}


def photo(name: str, side: int) -> Image.Image:
    image = Image.open(ROOT / "weights" / "content" / f"{name}.jpg").convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--out", default=None, help="markdown file for the table (default: print only)")
    parser.add_argument("--side", type=int, default=256, help="long side of samples and portraits")
    args = parser.parse_args()
    started = time.perf_counter()
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    portraits = [photo(p, args.side) for p in PORTRAITS]
    rows, ratios, hits = [], {m: [] for m in MODES}, {m: 0 for m in MODES}
    for look, f in LOOKS.items():
        truths = [f(p) for p in portraits]
        for names in SAMPLE_SETS:
            inputs = load_inputs([f(photo(n, args.side)) for n in names])
            cells = []
            for mode, overrides in MODES.items():
                config = replace(preset("fast"), **overrides)
                style = mixture_start(prepare(pipe, inputs, config, seed=0), pipe.styles, config, "zero-shot")
                mix = style.metadata["mix"]
                lead = max(mix, key=mix.get)
                outputs = pipe(portraits, style=style, metrics=False).images
                r = [delta_e(o, t) / delta_e(p, t) for o, t, p in zip(outputs, truths, portraits, strict=True)]
                ratios[mode] += r
                hits[mode] += lead == look
                cells.append(f"{lead} {mix[lead]:.2f} · {' / '.join(f'{x:.2f}' for x in r)}")
            rows.append(f"| {look} | {', '.join(names)} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    count = len(LOOKS) * len(SAMPLE_SETS)
    summary = [
        f"| {mode} | {hits[mode]}/{count} | {np.mean(r):.2f} | {np.median(r):.2f} | {sum(x < 1 for x in r)}/{len(r)} |"
        for mode, r in ratios.items()
    ]
    text = "\n".join(
        [
            "# Zero-shot start from photos in a bank look",
            "",
            f"`python benchmarks/bench_zero_shot_bank.py` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"weights `{args.weights}`, torch threads {torch.get_num_threads()}, "
            f"{(time.perf_counter() - started) / 60:.1f} min.",
            "",
            f"Samples: f(three photos of `weights/content`), long side {args.side} px. Per cell: the mixture's leading "
            "style and its weight · mean CIELAB distance of the stylised astronaut / Grace Hopper to f(portrait), "
            "divided by the unchanged portrait's (below 1 is closer to the look than the photo).",
            "",
            "| mode | leads with the look | mean ratio | median ratio | portraits below 1 |",
            "| --- | --- | ---: | ---: | ---: |",
            *summary,
            "",
            "| look | samples made from | " + " | ".join(MODES) + " |",
            "| --- | --- | " + " | ".join("---" for _ in MODES) + " |",
            *rows,
            "",
        ]
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
