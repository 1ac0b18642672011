"""Does the zero-shot start find a bank look from ordinary photos in that look?

    OMP_NUM_THREADS=1 python benchmarks/bench_zero_shot_bank.py --out benchmarks/results/zero_shot_bank.md
    OMP_NUM_THREADS=1 python benchmarks/bench_zero_shot_bank.py --learn --looks noir,sepia --out keep.md

For each look f in ``scripts/looks.py`` (the functions that made the procedural bank styles' exemplars) and two sets
of three photos from ``weights/content``, the samples f(photo) go to the zero-shot start with each way of scoring
the bank (``LearnConfig.zero_shot_distance``). Reported: the mixture's leading style, and the mean CIELAB distance
of the stylised astronaut and Grace Hopper to f(portrait) divided by the unchanged portrait's (below 1: closer to
the look than the photo). ``bench_learn.py`` asks the same question with abstract wallpapers as samples, where the
answer differs. ``--learn`` runs the fast preset from the default start instead, once keeping the lowest validated
state and once with the keep margin (``LearnConfig.keep_margin``), to see which state learning should return when
the samples are photos.
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
from pipeline.learn import learn, load_inputs, mixture_start, prepare, preset  # noqa: E402

SAMPLE_SETS = (("chelsea", "coffee", "motorcycle_left"), ("rocket", "chelsea", "coffee"))
PORTRAITS = ("astronaut", "grace_hopper")  # not among the samples
MODES = {  # label: LearnConfig overrides
    "targets (τ=0.25)": {"zero_shot_distance": "targets", "temperature": 0.25},
    "measured (τ=0.1)": {"zero_shot_distance": "measured", "temperature": 0.1},
    "both (τ=0.25)": {"zero_shot_distance": "both", "temperature": 0.25},
}
LEARN_MODES = {  # label: LearnConfig overrides of the fast preset (steps=0: its zero-shot start)
    "zero-shot start": {"steps": 0},
    "fast, lowest validated state": {"keep_margin": 1.0, "keep_margin_in_sample": 1.0},
    "fast, keep margin (default)": {},
}


def restyle(pipe: PersonalStylePipeline, inputs, mode: str, learning: bool) -> tuple[object, str]:
    """The style of one mode for the samples in ``inputs``, and a short label (leading style, kept step)."""
    if learning:
        style = learn(pipe, inputs, replace(preset("fast"), **LEARN_MODES[mode]), quality="fast")
        mix = style.metadata["zero_shot_mix"]
        lead = max(mix, key=mix.get)
        return style, f"{lead} {mix[lead]:.2f}, kept step {style.metadata['kept_step']}"
    config = replace(preset("fast"), **MODES[mode])
    style = mixture_start(prepare(pipe, inputs, config, seed=0), pipe.styles, config, "zero-shot")
    mix = style.metadata["mix"]
    lead = max(mix, key=mix.get)
    return style, f"{lead} {mix[lead]:.2f}"


def photo(name: str, side: int) -> Image.Image:
    image = Image.open(ROOT / "weights" / "content" / f"{name}.jpg").convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--out", default=None, help="markdown file for the table (default: print only)")
    parser.add_argument("--side", type=int, default=256, help="long side of samples and portraits")
    parser.add_argument("--learn", action="store_true", help="compare which state the fast preset keeps")
    parser.add_argument("--looks", default=",".join(LOOKS), help="comma-separated looks of scripts/looks.py")
    args = parser.parse_args()
    looks = {name: LOOKS[name] for name in args.looks.split(",") if name}
    modes = LEARN_MODES if args.learn else MODES
    started = time.perf_counter()
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    portraits = [photo(p, args.side) for p in PORTRAITS]
    rows, ratios, hits = [], {m: [] for m in modes}, {m: 0 for m in modes}
    for look, f in looks.items():
        truths = [f(p) for p in portraits]
        for names in SAMPLE_SETS:
            inputs = load_inputs([f(photo(n, args.side)) for n in names])
            cells = []
            for mode in modes:
                style, label = restyle(pipe, inputs, mode, args.learn)
                outputs = pipe(portraits, style=style, metrics=False).images
                r = [delta_e(o, t) / delta_e(p, t) for o, t, p in zip(outputs, truths, portraits, strict=True)]
                ratios[mode] += r
                hits[mode] += label.startswith(f"{look} ")
                cells.append(f"{label} · {' / '.join(f'{x:.2f}' for x in r)}")
            rows.append(f"| {look} | {', '.join(names)} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    count = len(looks) * len(SAMPLE_SETS)
    summary = [
        f"| {mode} | {hits[mode]}/{count} | {np.mean(r):.2f} | {np.median(r):.2f} | {sum(x < 1 for x in r)}/{len(r)} |"
        for mode, r in ratios.items()
    ]
    text = "\n".join(
        [
            "# " + ("Which state learning keeps" if args.learn else "Zero-shot start") + " from photos in a bank look",
            "",
            f"`python benchmarks/bench_zero_shot_bank.py {' '.join(sys.argv[1:])}` — "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"weights `{args.weights}`, torch threads {torch.get_num_threads()}, "
            f"{(time.perf_counter() - started) / 60:.1f} min.",
            "",
            f"Samples: f(three photos of `weights/content`), long side {args.side} px. Per cell: the mixture's leading "
            "style and its weight (with `--learn`: the start's, and the step kept, 0 = the start; one of the three "
            "samples is withheld for validation) · mean CIELAB distance of the stylised astronaut / Grace Hopper to "
            "f(portrait), divided by the unchanged portrait's (below 1 is closer to the look than the photo).",
            "",
            "| mode | leads with the look | mean ratio | median ratio | portraits below 1 |",
            "| --- | --- | ---: | ---: | ---: |",
            *summary,
            "",
            "| look | samples made from | " + " | ".join(modes) + " |",
            "| --- | --- | " + " | ".join("---" for _ in modes) + " |",
            *rows,
            "",
        ]
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
