"""The training package: random looks (``training/looks.py``) and a real, tiny style-encoder run that trains,
checkpoints, resumes and exports (``training/encoder.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.style_encoder import StyleEncoder
from training.__main__ import main as training_main
from training.encoder import EncoderConfig, load_config, train_encoder
from training.looks import LOOKS, random_grade


def test_random_grades_are_deterministic_varied_and_in_range():
    photo = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    a = random_grade(np.random.default_rng(1))(photo)
    b = random_grade(np.random.default_rng(1))(photo)
    assert a.shape == photo.shape and a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    outputs = [random_grade(np.random.default_rng(seed))(photo) for seed in range(12)]
    means = np.array([o.mean((0, 1)) for o in outputs])
    assert means.std(0).min() > 0.02  # grades differ in colour, not only in detail


def test_procedural_looks_keep_the_size():
    photo = Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8))
    for name, look in LOOKS.items():
        assert look(photo).size == photo.size, name


@pytest.fixture
def tiny_run(tiny_pipe, tmp_path):
    """A saved tiny pipeline and six random photos: a complete encoder-training setup."""
    tiny_pipe.save_pretrained(tmp_path / "weights")
    rng = np.random.default_rng(0)
    (tmp_path / "content").mkdir()
    for i in range(6):
        coarse = rng.random((6, 8, 3)) * 255
        Image.fromarray(coarse.astype(np.uint8)).resize((256, 192), Image.BICUBIC).save(tmp_path / f"content/p{i}.jpg")
    config = EncoderConfig(
        weights=str(tmp_path / "weights"),
        content=str(tmp_path / "content"),
        validation=["p3", "p4"],
        exclude=["p5"],
        steps=2,
        looks_per_step=2,
        max_samples=2,
        targets_per_look=1,
        crop=32,
        validate_every=2,
        validation_looks=2,
        normalisation_looks=4,
    )
    return config, tmp_path / "run"


def test_encoder_training_checkpoints_resumes_and_exports(tiny_run):
    config, out = tiny_run
    torch.manual_seed(0)
    first = train_encoder(config, out)
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [0, 2] and all(np.isfinite(h["validation"]) for h in history)
    exported = StyleEncoder.from_pretrained(out / "style_encoder")
    assert tuple(exported.config.bank_names) == ("cool", "photo", "warm")
    assert torch.equal(exported.stat_std, first.stat_std) and exported.stat_std.min() > 0
    config.steps = 4
    resumed = train_encoder(config, out)
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [0, 2, 4]
    assert not torch.equal(resumed.lut_head.weight, first.lut_head.weight)


def test_the_command_line_reads_a_recipe_and_refuses_unknown_keys(tiny_run, tmp_path):
    config, out = tiny_run
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({**config.__dict__, "steps": 1, "validate_every": 1}))
    training_main(["encoder", "--config", str(recipe), "--out", str(out)])
    assert (out / "style_encoder" / "config.json").is_file()
    recipe.write_text(json.dumps({"stepz": 3}))
    with pytest.raises(ValueError, match=r"unknown encoder config keys \['stepz'\]"):
        load_config(recipe)


def test_the_shipped_recipe_keeps_the_benchmark_photos_out():
    config = load_config("training/configs/encoder.json")
    from benchmarks.bench_learn import HELD_OUT, SAMPLE_PHOTOS

    assert set(HELD_OUT) | set(SAMPLE_PHOTOS) <= set(config.exclude)
