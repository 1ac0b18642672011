"""ONNX Runtime path of the generator: same outputs as PyTorch, used only where its export is current."""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import WEIGHTS, tiny_generator
from PIL import Image

from pipeline import Generator, PersonalStylePipeline
from pipeline.onnx_backend import (
    BACKEND_ENV,
    MODEL_NAME,
    ONNX_FOLDER,
    RECORD_NAME,
    WEIGHTS_FILE,
    OnnxGenerator,
    file_sha256,
)

TOLERANCE = 2e-3  # max abs difference to PyTorch on outputs in [0, 1]
needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="export needs the onnx package")


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> Path:
    """A folder with the tiny seeded generator and its ONNX export."""
    from pipeline.onnx_backend import export_onnx

    folder = tmp_path_factory.mktemp("tiny")
    tiny_generator().save_pretrained(folder / "generator")
    export_onnx(folder)
    return folder


def pipe_from(folder: Path, loss_net, styles) -> PersonalStylePipeline:
    """A pipeline on ``folder``'s generator with its export attached, as ``from_pretrained`` does."""
    pipe = PersonalStylePipeline(generator=Generator.from_pretrained(folder / "generator").eval(), loss_net=loss_net)
    pipe.styles = styles
    pipe.onnx_generator = OnnxGenerator.load(folder, pipe.generator)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def torch_and_onnx(pipe: PersonalStylePipeline, monkeypatch, run) -> tuple:
    """``run()`` with PSS_BACKEND=torch, then with the default backend."""
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert not pipe.onnx_ready()
    reference = run()
    monkeypatch.delenv(BACKEND_ENV)
    assert pipe.onnx_ready()
    return reference, run()


@needs_onnx
@pytest.mark.parametrize("size", [(67, 45), (128, 96)])
@pytest.mark.parametrize("adapters", [False, True])
def test_onnx_matches_torch_on_odd_sizes(tiny_export, tiny_pipe, monkeypatch, size, adapters):
    pipe = pipe_from(tiny_export, tiny_pipe.loss_net, tiny_pipe.styles)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    code = pipe.styles["warm"].code
    delta = torch.randn(pipe.generator.norm_params, generator=torch.Generator().manual_seed(1)) if adapters else None
    reference, fast = torch_and_onnx(pipe, monkeypatch, lambda: pipe.stylize_tensor(x, code, delta))
    assert fast.shape == reference.shape == x.shape
    assert (fast - reference).abs().max() < TOLERANCE
    assert (reference - x).abs().mean() > 0.05  # the style does something, so the match is not vacuous


@needs_onnx
def test_onnx_matches_torch_with_the_pattern_and_colour_branches(tmp_path):
    from pipeline.onnx_backend import export_onnx

    tiny_generator(pattern_periods=(3.0, 4.8), color_curves=True).save_pretrained(tmp_path / "generator")
    export_onnx(tmp_path)
    generator = Generator.from_pretrained(tmp_path / "generator").eval()
    onnx_generator = OnnxGenerator.load(tmp_path, generator)
    code = torch.randn(1, 8, generator=torch.Generator().manual_seed(2))
    for size in ((67, 45), (96, 128)):
        x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            reference = generator(x, code)
            fast = onnx_generator(x, generator.norm_affine(code))
        assert fast.shape == x.shape and (fast - reference).abs().max() < TOLERANCE
    silent = copy.deepcopy(generator)
    torch.nn.init.zeros_(silent.pattern_gate.weight)
    torch.nn.init.zeros_(silent.pattern_gate.bias)
    colourless = copy.deepcopy(generator)
    torch.nn.init.zeros_(colourless.color_amp.weight)
    with torch.no_grad():  # each branch changes the output, so the match above covers it
        assert (silent(x, code) - reference).abs().mean() > 0.02
        assert (colourless(x, code) - reference).abs().mean() > 0.02


@needs_onnx
def test_pipeline_options_work_on_onnx(tiny_export, tiny_pipe, portrait, monkeypatch):
    pipe = pipe_from(tiny_export, tiny_pipe.loss_net, tiny_pipe.styles)
    image = portrait.resize((70, 51))
    mask = Image.fromarray(np.tile(np.linspace(0, 255, 70, dtype=np.uint8), (51, 1)))
    options = dict(style={"warm": 0.6, "cool": 0.4}, strength=0.7, preserve_color=True, mask=mask, metrics=False)
    reference, fast = torch_and_onnx(pipe, monkeypatch, lambda: pipe(image, **options).images[0])
    assert fast.size == image.size
    assert np.abs(np.asarray(fast, int) - np.asarray(reference, int)).max() <= 1


@needs_onnx
def test_large_images_take_the_torch_tiled_path(tiny_export, tiny_pipe, monkeypatch):
    pipe = pipe_from(tiny_export, tiny_pipe.loss_net, tiny_pipe.styles)
    pipe.max_full_frame_pixels = 48 * 48
    calls = []
    monkeypatch.setattr(OnnxGenerator, "__call__", lambda self, *args: calls.append(args))
    out = pipe.stylize_tensor(torch.rand(1, 3, 64, 72), pipe.styles["warm"].code)
    assert out.shape == (1, 3, 64, 72) and not calls
    pipe.stylize_tensor(torch.rand(1, 3, 40, 40), pipe.styles["warm"].code)
    assert len(calls) == 1


@needs_onnx
def test_stale_export_falls_back_to_torch_with_a_warning(tiny_export, tiny_pipe, tmp_path, caplog):
    folder = tmp_path / "stale"
    (folder / ONNX_FOLDER).mkdir(parents=True)
    for name in (MODEL_NAME, RECORD_NAME):
        (folder / ONNX_FOLDER / name).write_bytes((tiny_export / ONNX_FOLDER / name).read_bytes())
    tiny_generator(seed=1).save_pretrained(folder / "generator")  # other weights than the export was made from
    with caplog.at_level(logging.WARNING, logger="pipeline.onnx_backend"):
        pipe = pipe_from(folder, tiny_pipe.loss_net, tiny_pipe.styles)
    assert pipe.onnx_generator is None and not pipe.onnx_ready()
    assert "exported from other generator weights" in caplog.text and "python -m scripts.export_onnx" in caplog.text
    x = torch.rand(1, 3, 40, 56)
    code = pipe.styles["cool"].code
    expected = pipe.generator(x.contiguous(memory_format=torch.channels_last), code[None])
    assert torch.equal(pipe.stylize_tensor(x, code), expected)


@needs_onnx
def test_generator_changed_in_memory_falls_back_to_torch(tiny_export, tiny_pipe, caplog):
    pipe = pipe_from(tiny_export, tiny_pipe.loss_net, tiny_pipe.styles)
    assert pipe.onnx_ready()
    with torch.no_grad():
        pipe.generator.head.conv.bias.add_(0.5)
    with caplog.at_level(logging.WARNING, logger="pipeline.onnx_backend"):
        assert not pipe.onnx_ready()
    assert "changed after loading" in caplog.text


def test_no_export_means_torch(tiny_pipe, tmp_path):
    tiny_pipe.generator.save_pretrained(tmp_path / "generator")
    assert OnnxGenerator.load(tmp_path, tiny_pipe.generator) is None
    assert tiny_pipe.onnx_generator is None and not tiny_pipe.onnx_ready()


def test_shipped_export_is_current_and_matches_torch(real_pipe, monkeypatch):
    record = json.loads((WEIGHTS / ONNX_FOLDER / RECORD_NAME).read_text())
    assert record["generator_sha256"] == file_sha256(WEIGHTS / WEIGHTS_FILE)
    assert real_pipe.onnx_generator is not None
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    style = real_pipe.styles["neon"]
    reference, fast = torch_and_onnx(real_pipe, monkeypatch, lambda: real_pipe.stylize_tensor(x, style.code))
    assert (fast - reference).abs().max() < TOLERANCE


def test_save_pretrained_keeps_the_export(real_pipe, tmp_path):
    real_pipe.save_pretrained(tmp_path / "copy")
    loaded = PersonalStylePipeline.from_pretrained(tmp_path / "copy")
    assert loaded.onnx_generator is not None and loaded.onnx_ready()


def test_hub_uploads_and_downloads_carry_the_export():
    from huggingface_hub.utils import filter_repo_objects

    from pipeline.hub import PIPELINE_PATTERNS

    files = [p.relative_to(WEIGHTS).as_posix() for p in WEIGHTS.rglob("*") if p.is_file()]
    kept = set(filter_repo_objects(files, allow_patterns=PIPELINE_PATTERNS))
    assert {f"{ONNX_FOLDER}/{MODEL_NAME}", f"{ONNX_FOLDER}/{RECORD_NAME}", WEIGHTS_FILE} <= kept
