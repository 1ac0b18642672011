"""Export a pretraining run (``training/pretrain.py``) as a pipeline folder: the trained generator and one bank
style per look (its code, the mean Gram matrices of its targets for the app's metrics, a description), next to the
starting folder's loss net, discriminator and style encoder (its mixture head fitted to the exported bank by style
name; retrain it on the new bank with ``python -m training encoder``), then the ONNX Runtime graph.

    python -m training export runs/pretrain OUT [--styles photo,noir,...]

``--styles`` names the bank styles that ship (the built-in menu); the rest of the run's styles are left out, so a
look the generator does not yet draw recognisably is not offered under its name.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pipeline import PersonalStyle, PersonalStylePipeline
from pipeline.images import pil_to_tensor
from pipeline.learn_objective import STYLE_TAPS, mean_grams
from pipeline.losses import gram_matrix
from pipeline.pipeline import PHOTO
from pipeline.style_encoder import StyleEncoder

from . import looks
from .encoder import grow_bank
from .pretrain import Pairs, PretrainConfig
from .run_folder import CHECKPOINT

GRAM_PHOTOS = 12  # training photos whose targets give a style's Gram matrices
GRAM_SIDE = 256


def description(name: str, pipe: PersonalStylePipeline) -> str:
    """A look's one-line description: its function's docstring, else the starting bank's."""
    if name in looks.LOOKS:
        return (looks.LOOKS[name].__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return pipe.styles[name].metadata.get("description", "") if name in pipe.styles else ""


def mean_gram(pipe: PersonalStylePipeline, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Mean Gram matrix per loss-net tap over (H, W, 3) uint8 images at a ``GRAM_SIDE`` long side."""
    tensors = []
    for a in images:
        image = Image.fromarray(a)
        image.thumbnail((GRAM_SIDE, GRAM_SIDE), Image.Resampling.LANCZOS)
        tensors.append(pil_to_tensor(image))
    with torch.no_grad():
        grams = [{t: gram_matrix(f)[0] for t, f in pipe.loss_net(x, STYLE_TAPS).items()} for x in tensors]
    return mean_grams(grams)


def encoder_for_bank(encoder: StyleEncoder, bank: list[str]) -> StyleEncoder:
    """The starting folder's style encoder with its mixture head following ``bank`` by name (a style it never saw
    starts unused): it runs on the exported bank at once; retrain it there (``python -m training encoder``)."""
    if list(encoder.config.bank_names) == bank:
        return encoder
    grown = StyleEncoder.from_config({**encoder.config, "bank_names": tuple(bank)})
    grown.load_state_dict(grow_bank(encoder.state_dict(), list(encoder.config.bank_names), bank))
    return grown


def export(run: Path, out: Path, keep: list[str] | None = None) -> Path:
    """Write the pipeline folder ``out`` from ``run/checkpoint.pt`` with the styles ``keep`` (default: all of the
    run's); returns ``out``."""
    state = torch.load(run / CHECKPOINT, weights_only=False)
    config = PretrainConfig(**state["config"])
    pipe = PersonalStylePipeline.from_pretrained(config.weights)
    pairs = Pairs(config, pipe, run / "pairs")
    if pairs.names != state["names"]:
        raise ValueError(f"{run}: the checkpoint's styles {state['names']} differ from its recipe's {pairs.names}")
    keep = list(pairs.names) if keep is None else keep
    unknown = [name for name in keep if name not in pairs.names]
    if unknown or PHOTO not in keep:
        raise ValueError(f"--styles must include {PHOTO!r} and name styles of the run {pairs.names}; got {unknown}")
    styles = {}
    for index, name in enumerate(pairs.names):
        if name not in keep:
            continue
        targets = [pairs.target(index, photo) for photo in pairs.train[:GRAM_PHOTOS]]
        metadata = {"source": "built-in", "description": description(name, pipe), "pretrain_step": state["step"]}
        styles[name] = PersonalStyle(name, state["codes"][index].clone(), None, mean_gram(pipe, targets), metadata)
    pipe.generator.load_state_dict(state["generator"])
    pipe.styles = styles
    if pipe.style_encoder is not None:
        pipe.register_modules(style_encoder=encoder_for_bank(pipe.style_encoder, sorted(styles)))
    shutil.rmtree(out / "styles", ignore_errors=True)  # no stale styles from an earlier export
    pipe.save_pretrained(out)
    pipe.loss_net.half().save_pretrained(out / "loss_net")  # stored fp16 as converted; loaded back as fp32
    print(f"exported step {state['step']} with {len(styles)} styles to {out}")
    if importlib.util.find_spec("onnx") is None:
        print(f"onnx is not installed: the CPU fast path stays off until `python -m scripts.export_onnx {out}`")
    else:
        root = Path(__file__).resolve().parents[1]
        subprocess.run([sys.executable, "-m", "scripts.export_onnx", str(out.resolve())], check=True, cwd=root)
    return out
