"""Time and peak memory of ``pipe(image, style=...)`` by resolution on this CPU, and tiled vs one-piece output.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_resolution [--sizes 256,512,1024,2048,3072] [--out FILE]

Every measurement runs in a fresh child process (this script with ``--child``) so peaks do not mix: the peak
resident set size is reset (``/proc/self/clear_refs``, Linux) after loading the pipeline and a warm-up call, and
the table reports ``VmHWM`` minus the resident size just before the call. Images are scikit-image's astronaut
resized to N x N. "auto" is the pipeline's own choice (one piece up to ``FULL_FRAME_PIXELS``, tiles above);
tiled rows are compared with the one-piece output at the same size: mean and max |difference| in 0-255 units,
over the whole image and over the bands where tiles overlap (where seams would show).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def kib(field: str) -> int:
    return int(re.search(field + r":\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def child(size: int, max_full_frame: int | None, weights: str, style: str, out: str) -> None:
    """Stylise one N x N image and print {"seconds", "peak_mb"} as JSON; save the output PNG to ``out``."""
    import skimage.data
    import torch
    from PIL import Image

    from pipeline import PersonalStylePipeline

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    pipe = PersonalStylePipeline.from_pretrained(weights)
    pipe.set_progress_bar_config(disable=True)
    if max_full_frame is not None:
        pipe.max_full_frame_pixels = max_full_frame
    image = Image.fromarray(skimage.data.astronaut()).resize((size, size), Image.Resampling.BICUBIC)
    pipe(image.resize((64, 64)), style=style, metrics=False)  # warm-up: one-time allocations
    Path("/proc/self/clear_refs").write_text("5")
    before = kib("VmRSS")
    start = time.perf_counter()
    result = pipe(image, style=style, metrics=False).images[0]
    seconds = time.perf_counter() - start
    peak_mb = (kib("VmHWM") - before) / 1024
    result.save(out)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def measure(size: int, max_full_frame: int | None, args: argparse.Namespace, out: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_resolution", "--child", str(size), "--weights", args.weights]
    command += ["--style", args.style]
    command += ["--save", str(out)] + ([] if max_full_frame is None else ["--max-full-frame", str(max_full_frame)])
    run = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(run.stdout.strip().splitlines()[-1])


def error_map(tiled: Path, full: Path) -> np.ndarray:
    """(H, W) |tiled - full| of two saved images, max over channels, in 0-255 units."""
    from PIL import Image

    a = np.asarray(Image.open(tiled), dtype=np.float32)
    b = np.asarray(Image.open(full), dtype=np.float32)
    return np.abs(a - b).max(axis=2)


def differences(error: np.ndarray) -> str:
    """'mean / max (all) | mean / max (tile overlaps)' of an ``error_map``."""
    from pipeline.tiling import OVERLAP, TILE, tile_spans

    band = np.zeros(error.shape, dtype=bool)
    for start, _ in tile_spans(error.shape[0], TILE, OVERLAP, 8)[1:]:
        band[start : start + OVERLAP] = True
    for start, _ in tile_spans(error.shape[1], TILE, OVERLAP, 8)[1:]:
        band[:, start : start + OVERLAP] = True
    return (
        f"{error.mean():.2f} / {error.max():.0f} | {error[band].mean():.2f} / {error[band].max():.0f}"
        if band.any()
        else f"{error.mean():.2f} / {error.max():.0f} | -"
    )


def save_diff_map(error: np.ndarray, path: Path) -> None:
    """An ``error_map`` (x4, clipped) as a grayscale PNG: seams would show as straight lines."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(4 * error, 0, 255).astype(np.uint8)).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024,2048,3072")
    parser.add_argument("--weights", default=str(ROOT / "weights"))
    parser.add_argument("--style", default="neon")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "resolution.md"))
    parser.add_argument("--child", type=int)
    parser.add_argument("--max-full-frame", type=int)
    parser.add_argument("--save")
    parser.add_argument("--diff-maps", type=Path, help="save each tiled row's |tiled - one piece| map here (x4, PNG)")
    parser.add_argument("--conditions", default="", help="how the machine was loaded, e.g. 'nothing else running'")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.max_full_frame, args.weights, args.style, args.save)
        return

    from pipeline.tiling import FULL_FRAME_PIXELS, OVERLAP, TILE

    lines = [
        "# Stylisation by resolution on this CPU",
        "",
        f"`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} python -m benchmarks.bench_resolution"
        f"{''.join(' ' + shlex.quote(a) for a in sys.argv[1:])}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores"
        + (f"; {args.conditions}" if args.conditions else "")
        + f"). Style {args.style!r}, weights `{Path(args.weights).name}`; one piece "
        f"up to {FULL_FRAME_PIXELS / 1e6:.1f} MP, above that {TILE} px tiles with {OVERLAP} px overlap. Peak = "
        "resident memory above the loaded pipeline during the call. Differences are to the one-piece output "
        "(0-255, max over channels).",
        "",
        "| size | path | time (s) | peak (MB) | vs one piece: mean / max | tile overlaps: mean / max |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            reference = Path(tmp) / f"{n}_full.png"
            rows = [("auto", None)] if n * n <= FULL_FRAME_PIXELS else [("one piece (forced)", 10**12), ("auto", None)]
            if n >= 1536:
                rows += [
                    ("tiles, stats from a 1024² copy", 1024 * 1024),
                    ("tiles, stats of the whole image", n * n - 1),
                ]
            for label, max_full_frame in rows:
                one_piece = max_full_frame == 10**12 or (max_full_frame is None and n * n <= FULL_FRAME_PIXELS)
                out = reference if one_piece else Path(tmp) / f"{n}_{len(label)}.png"
                result = measure(n, max_full_frame, args, out)
                if label == "auto":
                    side = round(FULL_FRAME_PIXELS**0.5)
                    label = "auto: one piece" if one_piece else f"auto: tiles, stats from a {side}² copy"
                diff = "- | -"
                if not one_piece:
                    error = error_map(out, reference)
                    diff = differences(error)
                    if args.diff_maps:
                        name = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
                        save_diff_map(error, args.diff_maps / f"{n}_{name}.png")
                lines.append(f"| {n} | {label} | {result['seconds']:.1f} | {result['peak_mb']:.0f} | {diff} |")
                print(lines[-1], flush=True)
    lines += [
        "",
        "Reading: 'tiles, stats of the whole image' isolates the tiling itself (overlap + blending); 'stats from a "
        "copy' rows add the approximation of the instance-norm statistics (taken from an area-downscaled copy), which "
        "is what bounds memory for large inputs. A seam would show as a larger error in the tile overlaps than over "
        "the whole image.",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
