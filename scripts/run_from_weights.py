"""Turn a pipeline folder (``weights/``) back into a pretraining run folder, so a further stage can start from it.

    python -m scripts.run_from_weights weights runs/shipped --data data
    python -m pipeline.train --data data --run runs/next --init runs/shipped ...

The run folder holds what ``pipeline.train`` reads from ``--init``: ``generator/``, ``discriminator/``,
``codes.safetensors`` (one row per style, ``photo`` first, then the data's style folders in sorted order, as
training orders them) and ``state.json`` (the style names, the step the bank was exported at, and a default config:
``--init`` reads only the names, and ``export_weights.py`` only the style images' size). It has no optimiser state:
``--init`` starts a fresh optimiser anyway. The bank must have exactly the data's styles.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import save_file

from pipeline import Discriminator, Generator, PersonalStyle
from pipeline.pipeline import PHOTO
from pipeline.train_config import TrainConfig


def run_from_weights(weights: Path, run: Path, data: Path) -> list[str]:
    """Write ``run`` from the pipeline folder ``weights``; returns the style names in training order."""
    style_dirs = sorted(p.name for p in (data / "styles").iterdir() if p.is_dir())
    names = [PHOTO] + style_dirs
    bank = sorted(p.name for p in (weights / "styles").iterdir() if (p / "style.json").is_file())
    if sorted(names) != bank:
        raise ValueError(f"{weights / 'styles'} holds {bank}, but {data / 'styles'} gives {names}")
    styles = [PersonalStyle.from_pretrained(weights / "styles" / name) for name in names]
    codes = torch.stack([style.code for style in styles])  # (S, code_dim)
    step = int(styles[1].metadata.get("pretrain_step", 0))
    if run.exists():
        raise FileExistsError(f"{run} exists; pick a new folder (a run folder is resumed, not overwritten)")
    tmp = run.with_name(run.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    Generator.from_pretrained(weights / "generator").save_pretrained(tmp / "generator")
    Discriminator.from_pretrained(weights / "discriminator").save_pretrained(tmp / "discriminator")
    save_file({"codes": codes.contiguous()}, str(tmp / "codes.safetensors"))
    config = TrainConfig(data=data, run=run)
    state = {
        "step": step,
        "elapsed_s": 0.0,
        "styles": names,
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "log": [],
        "source": str(weights),
    }
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    os.replace(tmp, run)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, default=Path("data"))
    args = parser.parse_args()
    names = run_from_weights(args.weights, args.run, args.data)
    print(f"{args.run}: {len(names)} styles from {args.weights}")


if __name__ == "__main__":
    main()
