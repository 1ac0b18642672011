"""Where the "fast" learning loop goes, checkpoint by checkpoint, against ground truth: can anything the user has
(the samples) tell the learned state from its zero-shot start?

    OMP_NUM_THREADS=1 python benchmarks/bench_learn_trajectory.py --looks teal_orange,pencil,halftone --name traj_a
    OMP_NUM_THREADS=1 python benchmarks/bench_learn_trajectory.py --looks cross_process,riso_duotone,crosshatch \\
        --name traj_b
    python benchmarks/bench_learn_trajectory.py --merge traj_a,traj_b --name learn_trajectory
    python benchmarks/bench_learn_trajectory.py --merge traj_g,traj_h --margins 0.5,0.6,0.7,0.8,0.9,1 --name m

``--margins`` replays the keep rule (``LearnConfig.keep_margin``) at each margin on the recorded checkpoints of one
variant (``--margin-variant``) and tabulates the Lab of the state each would keep, per look.

Same looks, samples, held-out portraits and learning content as ``bench_learn.py``. Every variant starts from the
zero-shot mix of all five samples and runs its preset's steps (fast: 60); every 10 steps it records the ground-truth
Lab distance of the stylised held-out portraits to f(portrait) and the validation objective (fixed content crops)
against the training samples' targets ("in-sample", what ``learn`` selects by) and, where one sample is withheld
from training, against that sample's targets ("withheld"). Variants: the fast preset; the fast preset trained on
four samples with the fifth (or the first) withheld for validation; the fast preset with smaller code learning rates;
balanced and best with the fifth sample withheld.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_learn as bl  # noqa: E402

from pipeline import PersonalStyle, PersonalStylePipeline  # noqa: E402
from pipeline.learn import (  # noqa: E402
    LearnSetup,
    _set_lr,
    backward_step,
    init_state,
    load_inputs,
    mixture_start,
    prepare,
    preset,
    validation_objective,
)

VARIANTS = {  # label: (preset, code_lr, index of the withheld sample or None[, LearnConfig overrides])
    "fast": ("fast", 0.1, None),
    "fast + sample 5 withheld for validation": ("fast", 0.1, 4),
    "fast + sample 1 withheld for validation": ("fast", 0.1, 0),
    "fast + code lr 0.03": ("fast", 0.03, None),
    "fast + code lr 0.01": ("fast", 0.01, None),
    "fast + sample 5 withheld + code lr 0.03": ("fast", 0.03, 4),
    "fast + sample 5 withheld + code lr 0.01": ("fast", 0.01, 4),
    "fast + sample 5 withheld + code lr 0.003": ("fast", 0.003, 4),
    "balanced + sample 5 withheld for validation": ("balanced", 0.1, 4),
    "best + sample 5 withheld for validation": ("best", 0.1, 4),
    "fast + sample 5 withheld + bank span": ("fast", 0.1, 4, {"code_space": "bank"}),
    "fast + bank span": ("fast", 0.1, None, {"code_space": "bank"}),
}
EVERY = 10  # steps between checkpoints (--every)


def trajectory(
    pipe: PersonalStylePipeline,
    look: bl.Look,
    start: PersonalStyle,
    quality: str,
    code_lr: float,
    withheld: int | None,
    overrides: dict[str, Any] | None = None,
    every: int = EVERY,
) -> list[dict[str, float]]:
    """Checkpoints {step, lab, in_sample[, withheld]} every ``every`` steps of the ``quality`` preset's loop (with
    ``overrides`` of its config) from ``start`` (its style code, and its adapters where the preset has them)."""
    config = replace(preset(quality), **(overrides or {}), code_lr=code_lr, holdout=0.0)  # withholds itself
    train = [s for i, s in enumerate(look.samples) if i != withheld]
    setup = prepare(pipe, load_inputs(train, content=look.content), config, seed=0)
    checks: dict[str, LearnSetup] = {"in_sample": setup}
    if withheld is not None:
        held = prepare(pipe, load_inputs([look.samples[withheld]], content=look.content), config, seed=0)
        checks["withheld"] = replace(setup, validation_targets=held.targets)
    state = init_state(pipe, setup, start, config, seed=0)
    points = []

    def checkpoint(step: int) -> None:
        adapters = None if state.norm_delta is None else state.norm_delta.detach().cpu()
        style = PersonalStyle("checkpoint", state.code.detach().cpu(), adapters, {})
        lab = bl.mean_scores(pipe, bl.ours(pipe, style, look.held_out), look.truths)["lab"]
        points.append(
            {"step": step, "lab": lab, **{k: validation_objective(s, state, config) for k, s in checks.items()}}
        )

    checkpoint(0)
    for step in range(config.steps):
        _set_lr(state, step, config)
        if backward_step(setup, state, config, step) is not None:
            state.step()
        if (step + 1) % every == 0:
            checkpoint(step + 1)
    return points


def run_info(args: argparse.Namespace, results: dict, minutes: float) -> dict:
    """What the results' header says about a run: its name, looks, weights, threads and time."""
    return {
        "name": args.name,
        "threads": torch.get_num_threads(),
        "minutes": minutes,
        "looks": list(results),
        "weights": str(args.weights),
    }


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    results: dict[str, dict] = {}
    run_started = time.perf_counter()
    for name in args.looks:
        started = time.perf_counter()
        look = bl.make_look(name, args.held_out)
        inputs = load_inputs(look.samples, content=look.content)
        starts: dict[str, PersonalStyle] = {}  # the zero-shot mix of all five samples, at each preset's size
        results[name] = {}
        for label in args.variants:
            quality = VARIANTS[label][0]
            if quality not in starts:
                setup = prepare(pipe, inputs, replace(preset(quality), holdout=0.0), 0)
                starts[quality] = mixture_start(setup, pipe.styles, preset(quality), "zero-shot")
            results[name][label] = trajectory(pipe, look, starts[quality], *VARIANTS[label], every=args.every)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
        minutes = (time.perf_counter() - run_started) / 60  # partial results survive an interrupted run
        partial = run_info(args, results, minutes)
        (args.out / f"{args.name}.json").write_text(json.dumps({"run": partial, "results": results}, indent=1))
    return results


def selected(points: list[dict[str, float]], by: str | tuple[str, ...], margin: float = 1.0) -> dict[str, float]:
    """The checkpoint ``learn`` would keep by the ``by`` objective(s): of those it validates (every ``eval_every``
    steps), the one with the lowest share of the start's objective (the worse share where ``by`` names several)
    if that is below ``margin``, else the start."""
    every = preset("fast").eval_every
    start, *steps = [p for p in points if p["step"] % every == 0]
    keys = (by,) if isinstance(by, str) else by

    def share(p: dict[str, float]) -> float:
        return max(p[k] / start[k] for k in keys)

    best = min(steps, key=share, default=start)
    return best if share(best) < margin else start


def kept(points: list[dict[str, float]], judge_in_sample: bool | None = None) -> dict[str, float]:
    """What ``learn`` returns: judged by the withheld sample where there is one (with ``judge_in_sample``, by default
    the preset's, by the worse of it and the loop's own targets), else by the loop's own targets, each with its
    :func:`pipeline.learn.keep_margin`."""
    config = preset("fast")
    judge_in_sample = config.judge_in_sample if judge_in_sample is None else judge_in_sample
    if "withheld" in points[0]:
        return selected(points, ("withheld", "in_sample") if judge_in_sample else "withheld", config.keep_margin)
    return selected(points, "in_sample", config.keep_margin_in_sample)


def margin_table(results: dict, label: str, margins: list[float]) -> list[str]:
    """Markdown rows: the Lab of the state each keep margin keeps (both judges, the worse share) per look, for the
    ``label`` variant (one that withholds a sample), with the means over the looks."""
    looks = [look for look, variants in results.items() if label in variants]
    if not looks or "withheld" not in results[looks[0]][label][0]:
        raise ValueError(f"no look has the variant {label!r} with a withheld sample; cannot sweep the keep margin")
    lines = [
        f"## Kept Lab by keep margin ({label}, judged on both objectives)",
        "",
        "| margin | " + " | ".join(looks) + " | mean |",
        "| ---: | " + " | ".join("---:" for _ in looks) + " | ---: |",
    ]
    rows = {"zero-shot start": [results[look][label][0]["lab"] for look in looks]}
    for margin in margins:
        rows[f"{margin:g}"] = [
            selected(results[look][label], ("withheld", "in_sample"), margin)["lab"] for look in looks
        ]
    rows["best checkpoint"] = [min(p["lab"] for p in results[look][label]) for look in looks]
    for name, labs in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{lab:.1f}" for lab in labs) + f" | **{np.mean(labs):.2f}** |")
    return lines + [""]


def markdown(results: dict, runs: list[dict], margins: list[float] | None = None, margin_variant: str = "") -> str:
    steps = sorted({p["step"] for variants in results.values() for points in variants.values() for p in points})
    config = preset("fast")
    info = "; ".join(  # runs from before the weights were recorded used weights/
        f"run {r['name']} ({', '.join(r['looks'])}): weights `{r.get('weights', 'weights')}`, torch threads "
        f"{r['threads']}, {r['minutes']:.1f} min"
        for r in runs
    )
    lines = [
        "# Learning trajectories against ground truth",
        "",
        f"`python benchmarks/bench_learn_trajectory.py {' '.join(sys.argv[1:])}` — {info}.",
        "",
        f"Looks, samples (f of {', '.join(bl.SAMPLE_PHOTOS)}), held-out portraits and learning content as in "
        "`learn.md`. Lab: mean CIELAB distance (|Δmean| + |Δstd|) of the stylised held-out portraits to the ground "
        "truth, lower is better; the objective is `learn`'s validation objective at each checkpoint. The rules "
        f"choose among the checkpoints `learn` validates (every {config.eval_every} steps, the start included).",
        "",
        "## Which state each rule keeps (Lab ↓, mean over looks)",
        "",
        "| variant | looks | zero-shot start | lowest in-sample objective | lowest withheld-sample objective | "
        f"kept by the withheld sample ×{config.keep_margin} (else in-sample ×{config.keep_margin_in_sample}) | "
        f"kept by both, the worse share ×{config.keep_margin} (`judge_in_sample`) | "
        "last step | best checkpoint (needs the ground truth) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in dict.fromkeys(label for variants in results.values() for label in variants):
        rows = [results[look][label] for look in results if label in results[look]]
        cells = [np.mean([r[0]["lab"] for r in rows]), np.mean([selected(r, "in_sample")["lab"] for r in rows])]
        held = [selected(r, "withheld")["lab"] for r in rows if "withheld" in r[0]]
        cells += [np.mean(held) if held else None, np.mean([kept(r, judge_in_sample=False)["lab"] for r in rows])]
        cells += [np.mean([kept(r, judge_in_sample=True)["lab"] for r in rows])]
        cells += [np.mean([r[-1]["lab"] for r in rows]), np.mean([min(p["lab"] for p in r) for r in rows])]
        lines.append(f"| {label} | {len(rows)} | " + " | ".join("–" if c is None else f"{c:.1f}" for c in cells) + " |")
    if margins:
        lines += ["", *margin_table(results, margin_variant, margins)]
    lines += ["", "## Per look: Lab · in-sample objective (· withheld-sample objective) at each checkpoint", ""]
    lines += ["| look | variant | " + " | ".join(f"step {s}" for s in steps) + " |"]
    lines += ["| --- | --- | " + " | ".join("---" for _ in steps) + " |"]
    for look, variants in results.items():
        for label, points in variants.items():
            at = {p["step"]: p for p in points}
            cells = [
                f"{p['lab']:.1f} · {p['in_sample']:.2f}" + (f" · {p['withheld']:.2f}" if "withheld" in p else "")
                if (p := at.get(step))
                else "–"
                for step in steps
            ]
            lines.append(f"| {look} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="learn_trajectory")
    parser.add_argument("--looks", default=",".join(bl.LOOKS))
    parser.add_argument("--held-out", type=int, default=2)
    parser.add_argument("--variants", default="", help="comma-separated labels from VARIANTS (default: all)")
    parser.add_argument("--every", type=int, default=EVERY, help="steps between checkpoints")
    parser.add_argument("--merge", default="", help="comma-separated result stems in --out to merge into --name")
    parser.add_argument("--margins", default="", help="comma-separated keep margins to replay, e.g. 0.5,0.7,0.9,1")
    parser.add_argument(
        "--margin-variant", default="fast + sample 5 withheld for validation", help="the variant --margins replays"
    )
    args = parser.parse_args()
    try:
        margins = [float(m) for m in args.margins.split(",") if m.strip()]
    except ValueError:
        parser.error(f"--margins must be comma-separated numbers, got {args.margins!r}")
    if any(not 0.0 < m <= 1.0 for m in margins):
        parser.error(f"each keep margin must be in (0, 1], got {args.margins!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        parts = [json.loads((args.out / f"{stem}.json").read_text()) for stem in args.merge.split(",")]
        results: dict[str, dict] = {}  # runs of the same look add their variants
        for part in parts:
            for look, variants in part["results"].items():
                results.setdefault(look, {}).update(variants)
        runs = [{**part["run"], "looks": list(part["results"])} for part in parts]
    else:
        args.looks = [name.strip() for name in args.looks.split(",") if name.strip()]
        unknown = [name for name in args.looks if name not in bl.ALL_LOOKS]
        if unknown:
            parser.error(f"unknown look(s) {', '.join(unknown)}; choose from {', '.join(bl.ALL_LOOKS)}")
        args.variants = [v for v in VARIANTS if not args.variants or v in args.variants.split(",")]
        if margins and (args.margin_variant not in args.variants or VARIANTS[args.margin_variant][2] is None):
            parser.error(
                f"--margins replays {args.margin_variant!r}, which this run does not record with a withheld sample"
            )
        started = time.perf_counter()
        results = run(args)
        minutes = (time.perf_counter() - started) / 60
        runs = [run_info(args, results, minutes)]
        (args.out / f"{args.name}.json").write_text(json.dumps({"run": runs[0], "results": results}, indent=1))
    try:
        text = markdown(results, runs, margins, args.margin_variant)
    except ValueError as error:
        parser.error(str(error))
    (args.out / f"{args.name}.md").write_text(text)
    print((args.out / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
