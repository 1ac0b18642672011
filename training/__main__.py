"""``python -m training encoder --config training/configs/encoder.json --out runs/encoder``: train (or resume)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .encoder import load_config, train_encoder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encoder", help="train the style encoder on random looks (resumes from OUT)")
    enc.add_argument("--config", type=Path, default=Path("training/configs/encoder.json"))
    enc.add_argument("--out", type=Path, default=Path("runs/encoder"))
    enc.add_argument("--steps", type=int, help="override the config's number of steps")
    enc.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.steps is not None:
        if args.steps < 1:
            parser.error("--steps must be positive")
        config.steps = args.steps
    train_encoder(config, args.out, threads=args.threads)


if __name__ == "__main__":
    main()
