"""Export a pretraining run as the pipeline folder ``weights/`` (generator, loss net, discriminator, style bank).

    python -m scripts.export_weights runs/base weights --data data

Each bank style gets its learned code and the mean Gram targets of its style images (for metrics);
'photo' gets the Gram targets of the content photos.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from pipeline import Discriminator, Generator, LossNet, PersonalStyle, PersonalStylePipeline
from pipeline.train_config import TrainConfig
from pipeline.train_data import load_folder, style_targets

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = {
    "photo": "Identity: the photo as it is (strength 0 of every style).",
    "cartoon": "Flat posterised colours with dark outlines.",
    "halftone": "Pop-art halftone dots on saturated colour.",
    "neon": "Glowing coloured edges on black.",
    "noir": "High-contrast black and white with grain and vignette.",
    "pastel": "Faded pastel film with pink-lifted shadows.",
    "pencil": "Graphite sketch on warm paper.",
    "psychedelic": "Dense ornamental painting in blues and pinks (MATE 'Elephants').",
    "sepia": "Warm faded vintage print with vignette.",
    "stained_glass": "Flat superpixel cells with dark leading.",
    "teal_orange": "Cinematic teal shadows and orange highlights.",
    "tiles": "Glossy isometric tiles (GNOME 'Licorice').",
    "truchet": "Truchet-tile line patterns (GNOME 'Truchet').",
    "watercolor": "Soft edge-preserving watercolour wash.",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--loss-net", type=Path, default=Path("weights/loss_net"))
    args = parser.parse_args()
    state = json.loads((args.run / "state.json").read_text())
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in TrainConfig.__dataclass_fields__})
    loss_net = LossNet.from_pretrained(args.loss_net, dtype=torch.float32)
    generator = Generator.from_pretrained(args.run / "generator")
    discriminator = Discriminator.from_pretrained(args.run / "discriminator")
    codes = load_file(str(args.run / "codes.safetensors"))["codes"]
    pipe = PersonalStylePipeline(generator=generator, loss_net=loss_net, discriminator=discriminator)
    for index, name in enumerate(state["styles"]):
        folder = args.data / ("content" if name == "photo" else f"styles/{name}")
        gram = style_targets(loss_net, load_folder(folder, cfg.style_long_side))
        metadata = {"source": "built-in", "description": DESCRIPTIONS.get(name, ""), "pretrain_step": state["step"]}
        pipe.styles[name] = PersonalStyle(name, codes[index], None, gram, metadata)
    shutil.rmtree(args.out / "styles", ignore_errors=True)  # no stale styles from an earlier export
    pipe.save_pretrained(args.out)
    loss_net.half().save_pretrained(args.out / "loss_net")  # stored fp16 as converted; loaded back as fp32
    print(f"exported step {state['step']} with {len(pipe.styles)} styles to {args.out}")
    export_generator_onnx(args.out)


def export_generator_onnx(out: Path) -> None:
    """The ONNX Runtime export of the new generator (scripts/export_onnx.py), when the onnx package is installed."""
    if importlib.util.find_spec("onnx") is None:
        print(f"onnx is not installed: the CPU fast path stays off until `python -m scripts.export_onnx {out}`")
        return
    subprocess.run([sys.executable, "-m", "scripts.export_onnx", str(out.resolve())], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
