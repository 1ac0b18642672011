"""Export a pipeline folder's generator to ONNX for the CPU fast path (``pipeline/onnx_backend.py``).

    python -m scripts.export_onnx weights

Writes ``WEIGHTS_DIR/onnx/generator.onnx`` and ``WEIGHTS_DIR/onnx/export.json`` (sha256 of the generator's
safetensors it was made from, opset, torch and onnx versions), then checks the export against PyTorch. Re-run it
whenever ``WEIGHTS_DIR/generator`` changes: until then the pipeline runs the generator in PyTorch (with a warning).
Needs the ``onnx`` package (requirements-dev.txt) besides ``onnxruntime``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pipeline import Generator
from pipeline.onnx_backend import OPSET, OnnxGenerator, export_onnx

TOLERANCE = 2e-3  # max abs difference to PyTorch (outputs in [0, 1]); measured about 1e-6


def check_export(weights_dir: Path, size: tuple[int, int] = (75, 123)) -> float:
    """Max abs difference of the export to PyTorch on a random image of odd ``size`` with a random code."""
    generator = Generator.from_pretrained(weights_dir / "generator").eval()
    backend = OnnxGenerator.load(weights_dir, generator)
    if backend is None:
        raise SystemExit(f"{weights_dir}: the export did not load (see the warning above)")
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    code = torch.randn(1, generator.config.code_dim, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        return float((backend(image, generator.norm_affine(code)) - generator(image, code)).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="a save_pretrained pipeline folder (with generator/)")
    parser.add_argument("--opset", type=int, default=OPSET)
    args = parser.parse_args()
    model = export_onnx(args.weights, opset=args.opset)
    difference = check_export(args.weights)
    if difference > TOLERANCE:
        raise SystemExit(f"{model}: max abs difference to PyTorch {difference:.2e} exceeds {TOLERANCE:g}")
    print(f"wrote {model} ({model.stat().st_size / 1e6:.1f} MB); max abs difference to PyTorch {difference:.2e}")


if __name__ == "__main__":
    main()
