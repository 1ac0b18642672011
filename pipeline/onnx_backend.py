"""ONNX Runtime inference of the generator's image path on CPU (faster there than PyTorch; see README).

The style code -> MLP -> per-layer scale/shift step (``Generator.norm_affine``, adapters included) stays in
PyTorch; the exported graph ``onnx/generator.onnx`` takes the reflect-padded ``image`` (1, 3, H, W) float32 in
[0, 1] with H, W multiples of ``Generator.multiple`` (dynamic) and that ``affine`` vector (1, ``affine_size``), and returns the
stylised (1, 3, H, W). Padding and cropping back happen here in PyTorch, exactly as ``Generator.forward`` does them.

``onnx/export.json`` records the sha256 of the ``generator/diffusion_pytorch_model.safetensors`` the graph was made
from; :meth:`OnnxGenerator.load` refuses (with one warning) a graph whose hash does not match the folder's
weights, and :meth:`OnnxGenerator.matches` refuses one whose generator was changed in memory after loading, so a
stale export never silently gives different results: the pipeline then runs PyTorch.

    python -m scripts.export_onnx weights        # writes weights/onnx/generator.onnx and export.json
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .generator import Generator

ONNX_FOLDER = "onnx"
MODEL_NAME = "generator.onnx"
RECORD_NAME = "export.json"
WEIGHTS_FILE = "generator/diffusion_pytorch_model.safetensors"
OPSET = 17
BACKEND_ENV = "PSS_BACKEND"  # "torch" forces PyTorch; anything else (or unset) uses ONNX Runtime where it applies

logger = logging.getLogger(__name__)
_warned: set[str] = set()


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torch_forced() -> bool:
    """True when ``PSS_BACKEND=torch`` asks for PyTorch everywhere."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() == "torch"


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """(B, C, H, W) -> bottom/right padded to multiples of ``multiple``, with ``Generator.forward``'s rule
    (reflect, or replicate where the image is too small to reflect). Padding commutes with its clamp."""
    h, w = image.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if not (pad_h or pad_w):
        return image
    mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode)


class AffineGenerator(nn.Module):
    """Export wrapper: ``forward(image, affine)`` = ``Generator.forward`` with the (1, ``affine_size``) ``norm_affine`` output
    given directly (a copy of the generator whose ``norm_affine`` passes it through), on a pre-padded image."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = copy.deepcopy(generator).float().eval()
        self.generator.norm_affine = lambda affine, norm_delta=None: affine

    def forward(self, image: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
        return self.generator(image, affine)


def export_onnx(weights_dir: str | os.PathLike, opset: int = OPSET) -> Path:
    """Export ``weights_dir/generator`` to ``weights_dir/onnx/generator.onnx`` (+ ``export.json``) -> the model path."""
    weights_dir = Path(weights_dir)
    weights = weights_dir / WEIGHTS_FILE
    generator = Generator.from_pretrained(weights_dir / "generator")
    folder = weights_dir / ONNX_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    side = 4 * generator.multiple
    image = torch.rand(1, 3, side, side + generator.multiple)
    affine = torch.zeros(1, generator.affine_size)
    model = folder / MODEL_NAME
    with warnings.catch_warnings():  # the trace fixes Generator.forward's pad branch to "none": inputs come padded
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter, chosen on purpose (no onnxscript)
        warnings.filterwarnings("ignore", message=".*(Constant folding|instance_norm).*")
        torch.onnx.export(
            AffineGenerator(generator),
            (image, affine),
            str(model),
            dynamo=False,
            opset_version=opset,
            input_names=["image", "affine"],
            output_names=["stylized"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "stylized": {2: "height", 3: "width"}},
        )
    import onnx

    record = {
        "generator_sha256": file_sha256(weights),
        "weights_file": WEIGHTS_FILE,
        "norm_params": generator.norm_params,
        "multiple": generator.multiple,
        "opset": opset,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
    }
    (folder / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n")
    return model


def parameter_state(generator: Generator) -> tuple[tuple[int, int], ...]:
    """Identity and in-place version of every parameter: changes when the weights change in memory."""
    return tuple((id(p), p._version) for p in generator.parameters())


class OnnxGenerator:
    """The exported graph of one generator; ``__call__(image, affine)`` runs it in ONNX Runtime on CPU."""

    def __init__(self, model: Path, generator: Generator):
        self.model = model
        self.multiple = generator.multiple
        self.norm_params = generator.norm_params
        self.bound = (id(generator), parameter_state(generator))
        self.sessions: dict[int, object] = {}

    @classmethod
    def load(cls, weights_dir: str | os.PathLike, generator: Generator) -> OnnxGenerator | None:
        """The export in ``weights_dir/onnx`` for ``generator`` (just loaded from ``weights_dir/generator``), or None
        (with one warning) when onnxruntime is missing or the export is absent, incomplete or stale."""
        folder = Path(weights_dir) / ONNX_FOLDER
        model, record_path = folder / MODEL_NAME, folder / RECORD_NAME
        if not model.is_file():
            return None
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            warn_once(f"{model}: onnxruntime is not installed; running the generator in PyTorch")
            return None
        weights = Path(weights_dir) / WEIGHTS_FILE
        try:
            record = json.loads(record_path.read_text())
            stale = record["generator_sha256"] != file_sha256(weights) or record["norm_params"] != generator.norm_params
        except (OSError, ValueError, KeyError, TypeError) as error:
            warn_once(
                f"{model}: unreadable export record {record_path.name} ({error}); running the generator in PyTorch"
            )
            return None
        if stale:
            warn_once(
                f"{model} was exported from other generator weights than {weights}; running the generator in "
                f"PyTorch (re-export with: python -m scripts.export_onnx {weights_dir})"
            )
            return None
        return cls(model, generator)

    def matches(self, generator: Generator) -> bool:
        """Whether ``generator`` is still the one this export was checked against, unchanged (else one warning)."""
        if (id(generator), parameter_state(generator)) == self.bound:
            return True
        warn_once(f"{self.model}: the generator changed after loading; running it in PyTorch")
        return False

    def session(self):
        """An ONNX Runtime session with as many intra-op threads as PyTorch uses (made once per thread count)."""
        threads = torch.get_num_threads()
        if threads not in self.sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[threads] = ort.InferenceSession(str(self.model), options, providers=["CPUExecutionProvider"])
        return self.sessions[threads]

    def __call__(self, image: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] and (1, affine_size) ``norm_affine`` output -> stylised (1, 3, H, W) float32 on CPU."""
        h, w = image.shape[-2:]
        padded = pad_to_multiple(image.float().cpu(), self.multiple)
        feeds = {
            "image": np.ascontiguousarray(padded.numpy()),
            "affine": np.ascontiguousarray(affine.float().cpu().numpy()),
        }
        (out,) = self.session().run(["stylized"], feeds)
        return torch.from_numpy(out)[:, :, :h, :w]
