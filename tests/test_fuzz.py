"""Fuzzing image and style loading with hypothesis: any bytes give a usable result or our own error, never a crash.

Bounded for CI (``FUZZ_EXAMPLES`` cases per test, 150 by default); the longer run in RELIABILITY.md is

    FUZZ_EXAMPLES=5000 OMP_NUM_THREADS=1 python -m pytest -q tests/test_fuzz.py

(a bounded run is derandomized, so CI is repeatable; a longer one draws new cases each time).
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file

from pipeline.images import ImageError, load_image, load_mask
from pipeline.style import PersonalStyle, StyleError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 150,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def seed_files() -> dict[str, bytes]:
    """Small valid files in every format we read; the fuzzer mutates these (random bytes rarely parse)."""
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8))
    files = {}
    for fmt, params in [
        ("JPEG", {"quality": 80}),
        ("PNG", {}),
        ("WEBP", {"quality": 70}),
        ("GIF", {}),
        ("TIFF", {}),
        ("BMP", {}),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **params)
        files[fmt] = buffer.getvalue()
    return files


SEEDS = seed_files()


@st.composite
def mutated_images(draw) -> bytes:
    """A seed file with some bytes overwritten, a slice cut out or inserted, or truncated; or plain random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip":
            data[at] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif how == "truncate":
            del data[at:]
        else:  # the first 64 bytes hold the dimensions and chunk sizes: hit them hardest
            data[draw(st.integers(0, min(63, max(len(data) - 1, 0))))] = draw(st.integers(0, 255))
        if not data:
            break
    return bytes(data)


def check_image_result(image: Image.Image) -> None:
    assert image.mode == "RGB" and min(image.size) >= 16 and image.width * image.height <= 40_000_000
    np.asarray(image)  # the pixels are really there


@FUZZ
@given(mutated_images())
def test_load_image_from_any_bytes(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = load_image(data)
        except ImageError as exc:
            assert str(exc).startswith(f"<{len(data)} bytes>: ")
            return
    check_image_result(image)


@FUZZ
@given(mutated_images(), st.integers(1, 64), st.integers(1, 64))
def test_load_mask_from_any_decodable_bytes(data, width, height):
    """Whatever a painted layer decodes to, ``load_mask`` gives a (H, W) mask in [0, 1] or a ValueError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                layer = opened.copy()
    except Exception:  # PIL's own refusals are not under test here; load_image's are, above
        return
    try:
        mask = load_mask(layer, (width, height))
    except ValueError:
        return
    assert mask.shape == (height, width) and mask.dtype == np.float32
    assert np.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1


@FUZZ
@given(
    st.lists(st.integers(0, 24), max_size=4).map(tuple),
    st.sampled_from(["uint8", "uint16", "float32", "float64", "int32", "bool"]),
    st.sampled_from([0.0, np.nan, np.inf, -1.0, 2.0, 0.5]),
)
def test_load_image_and_mask_from_any_array(shape, dtype, fill):
    rng = np.random.default_rng(0)
    array = np.asarray(rng.random(shape) * (255 if dtype in ("uint8", "int32") else 1)).astype(dtype)
    if array.size and dtype.startswith("float"):
        array.flat[0] = fill
    try:
        check_image_result(load_image(array))
    except ImageError:
        pass
    try:
        mask = load_mask(array, (8, 8))
        assert mask.shape == (8, 8) and np.isfinite(mask).all() and 0 <= mask.min() <= mask.max() <= 1
    except ValueError:
        pass


# --- styles ----------------------------------------------------------------------------------------------------
def safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        save_file(tensors, f"{tmp}/t.safetensors")
        return Path(f"{tmp}/t.safetensors").read_bytes()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
CONFIG_KEYS = ["format", "version", "name", "code_dim", "norm_params", "taps", "previews", "metrics"]


@st.composite
def style_configs(draw) -> bytes:
    """style.json: mostly the right keys with fuzzed values, sometimes mangled text."""
    config = {"format": "personal-style", "version": 1, "name": "x", "code_dim": 8, "previews": []}
    for key in draw(st.lists(st.sampled_from(CONFIG_KEYS), max_size=3)):
        config[key] = draw(json_values)
    text = json.dumps(config, allow_nan=True).encode()
    if draw(st.booleans()):
        return text
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.binary(max_size=8)) + text[at + draw(st.integers(0, 8)) :]


@st.composite
def style_weights(draw) -> bytes:
    """style.safetensors: tensors of fuzzed names, shapes, dtypes and values, sometimes with mangled bytes."""
    tensors = {}
    for name in draw(
        st.lists(
            st.sampled_from(["code", "norm_delta", "gram.relu1_2", "gram.x", "other"]),
            min_size=0,
            max_size=4,
            unique=True,
        )
    ):
        shape = draw(st.lists(st.integers(0, 9), max_size=3))
        dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.uint8]))
        value = torch.full(shape, draw(st.sampled_from([0.0, 1.5, float("nan"), float("inf"), -3.0])))
        tensors[name] = value.to(dtype) if dtype.is_floating_point else value.nan_to_num(0, 0, 0).to(dtype)
    data = safetensors_bytes(tensors) if tensors else struct.pack("<Q", 2) + b"{}"
    if draw(st.booleans()):
        return data
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(max_size=16)) + data[at + draw(st.integers(0, 16)) :]


@FUZZ
@given(style_configs(), style_weights(), st.booleans())
def test_style_folder_from_any_files(tmp_path_factory, config, weights, with_preview):
    folder = tmp_path_factory.mktemp("style")
    (folder / "style.json").write_bytes(config)
    (folder / "style.safetensors").write_bytes(weights)
    if with_preview:
        (folder / "preview_0.png").write_bytes(SEEDS["PNG"][:200])
    try:
        style = PersonalStyle.from_pretrained(folder)
    except StyleError as exc:
        assert str(exc)
        return
    assert style.code.dim() == 1 and torch.isfinite(style.code).all()
    assert style.norm_delta is None or torch.isfinite(style.norm_delta).all()
    assert all(g.dim() == 2 and torch.isfinite(g).all() for g in style.gram.values())


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_seed_format_loads(seed):
    """The fuzzer's starting points are valid (else it would only test the error path)."""
    check_image_result(load_image(SEEDS[seed]))
