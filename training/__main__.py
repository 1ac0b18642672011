"""Training commands (each resumes from its ``--out`` folder):

python -m training pretrain --config training/configs/pretrain.json --out runs/pretrain
python -m training export runs/pretrain OUT [--styles a,b]   # a pipeline folder from a pretraining run
python -m training encoder --config training/configs/encoder.json --out runs/encoder
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import encoder, export, pretrain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encoder", help="train the style encoder on random looks (resumes from OUT)")
    enc.add_argument("--config", type=Path, default=Path("training/configs/encoder.json"))
    enc.add_argument("--out", type=Path, default=Path("runs/encoder"))
    enc.add_argument("--steps", type=int, help="override the config's number of steps")
    enc.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    pre = sub.add_parser("pretrain", help="pretrain the generator and its bank from before/after pairs")
    pre.add_argument("--config", type=Path, default=Path("training/configs/pretrain.json"))
    pre.add_argument("--out", type=Path, default=Path("runs/pretrain"))
    pre.add_argument("--steps", type=int, help="override the config's number of steps")
    pre.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    exp = sub.add_parser("export", help="write a pipeline folder from a pretraining run")
    exp.add_argument("run", type=Path)
    exp.add_argument("out", type=Path)
    exp.add_argument("--styles", help="comma-separated styles that ship (default: every style of the run)")
    args = parser.parse_args(argv)
    if args.command == "export":
        export.export(args.run, args.out, args.styles.split(",") if args.styles else None)
        return
    module = encoder if args.command == "encoder" else pretrain
    config = module.load_config(args.config)
    if args.steps is not None:
        if args.steps < 1:
            parser.error("--steps must be positive")
        config.steps = args.steps
    if args.command == "encoder":
        encoder.train_encoder(config, args.out, threads=args.threads)
    else:
        pretrain.pretrain(config, args.out, threads=args.threads)


if __name__ == "__main__":
    main()
