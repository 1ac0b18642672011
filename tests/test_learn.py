"""Few-shot style learning (``pipeline/learn.py``) on the tiny seeded pipeline: 64 px, a handful of steps."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline import ImageError, PersonalStyle
from pipeline.learn import (
    PRESETS,
    LearnConfig,
    learn,
    load_inputs,
    mixture_start,
    prepare,
    preset,
    validation_objective,
    weighted_objective,
    withheld_count,
    zero_shot_style,
)
from pipeline.learn_loop import core_losses, init_state, validation_objectives
from pipeline.learn_start import bank_distances, measured_distances, zero_shot_distances

TINY = dict(size=64, image_side=96, batch_size=1, preview_side=48, preview_every=2)


def warm_samples(n: int = 3) -> list[Image.Image]:
    """Orange-tinted noise pictures: close to the tiny bank's 'warm' style."""
    rng = np.random.default_rng(1)
    base = np.array([220, 120, 40], np.float32)
    return [Image.fromarray(np.clip(base + rng.normal(0, 12, (72, 90, 3)), 0, 255).astype(np.uint8)) for _ in range(n)]


def tiny_config(**overrides) -> LearnConfig:
    return replace(PRESETS["fast"], **{**TINY, "steps": 4, **overrides})


def generator_state(pipe) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in pipe.generator.state_dict().items()}


def test_learn_style_returns_a_complete_style_and_leaves_the_base_weights(tiny_pipe, portrait, tmp_path):
    before = generator_state(tiny_pipe)
    style = tiny_pipe.learn_style(warm_samples(), steps=3, size=64, content=[portrait], name="mine")
    for name, tensor in tiny_pipe.generator.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert style.name == "mine" and style.code.shape == (8,) and style.norm_delta is None
    assert set(style.gram) == {"relu1_2", "relu2_2", "relu3_3"}
    meta = style.metadata
    assert meta["source"] == "learned" and meta["quality"] == "fast" and meta["samples"] == 3 and meta["steps"] == 3
    assert [h["step"] for h in meta["history"]] == [0, 1, 2, 3]
    assert set(meta["metrics"]) == {"style_loss", "zero_shot_style_loss", "input_style_loss"}
    assert len(style.previews) == 1 and max(style.previews[0].size) <= PRESETS["fast"].preview_side
    loaded = PersonalStyle.from_pretrained(style.save_pretrained(tmp_path / "mine"))
    assert torch.equal(loaded.code, style.code) and loaded.metadata["history"] == meta["history"]
    out = tiny_pipe(portrait.resize((64, 64)), style=loaded)
    assert out.images[0].size == (64, 64) and set(out.metrics[0]["style_loss"]) == set(style.gram)


def test_same_seed_same_style_other_seed_other_style(tiny_pipe, portrait):
    config = tiny_config(steps=3, adapters=True, adv_weight=0.05, eval_every=1)
    inputs = load_inputs(warm_samples(), content=[portrait])
    a, b = (learn(tiny_pipe, inputs, config, seed=7) for _ in range(2))
    c = learn(tiny_pipe, inputs, config, seed=8)
    assert torch.equal(a.code, b.code) and torch.equal(a.norm_delta, b.norm_delta)
    assert a.metadata["history"] == b.metadata["history"]
    assert not torch.equal(a.code, c.code)


LEARNS = dict(steps=20, code_lr=0.3, cycle_weight=0.0, eval_every=5)  # steps that beat the tiny start


def validated_steps(style: PersonalStyle) -> dict[int, float]:
    return {h["step"]: h["validation"] for h in style.metadata["history"] if "validation" in h}


def test_learning_lowers_the_objective_and_gram_loss_below_zero_shot(tiny_pipe, portrait):
    config = tiny_config(**LEARNS)
    style = learn(tiny_pipe, load_inputs(warm_samples(), content=[portrait]), config)
    validated = validated_steps(style)
    validation = list(validated.values())
    assert len(validation) == 5 and validation[-1] < 0.95 * validation[0]  # step 0 is the zero-shot start
    assert style.metadata["kept_step"] == min((s for s in validated if s), key=validated.get)
    metrics = style.metadata["metrics"]
    assert sum(metrics["style_loss"].values()) < sum(metrics["zero_shot_style_loss"].values()), metrics


@pytest.mark.parametrize("holdout", [0.2, 0.0])
def test_learning_returns_its_best_checkpoint_even_when_the_start_scored_lower(tiny_pipe, portrait, holdout):
    # a large learning rate: every checkpoint may validate worse than the start; the loop's best is returned anyway
    inputs = load_inputs(warm_samples(), content=[portrait])
    start = learn(tiny_pipe, inputs, tiny_config(steps=0, holdout=holdout))
    style = learn(tiny_pipe, inputs, tiny_config(steps=6, code_lr=3.0, eval_every=2, holdout=holdout))
    assert style.metadata["withheld"] == (1 if holdout else 0)
    validated = validated_steps(style)
    assert list(validated) == [0, 2, 4, 6]
    best = min((s for s in validated if s), key=validated.get)
    assert style.metadata["kept_step"] == best and not torch.equal(style.code, start.code)
    assert style.zero_shot is not None and torch.equal(style.zero_shot.code, start.code)


def test_zero_shot_picks_the_nearest_bank_style_as_a_convex_mixture(tiny_pipe, portrait):
    config = preset("fast", size=64)
    inputs = load_inputs(warm_samples(), content=[portrait])
    style = mixture_start(prepare(tiny_pipe, inputs, config, seed=0), tiny_pipe.styles, config, "zs")
    mix = style.metadata["mix"]
    assert max(mix, key=mix.get) == "warm" and math.isclose(sum(mix.values()), 1.0, rel_tol=1e-6)
    assert all(w >= 0 for w in mix.values())
    codes = {name: s.code for name, s in tiny_pipe.styles.items()}
    assert torch.allclose(style.code, sum(w * codes[n] for n, w in mix.items()), atol=1e-6)


def test_zero_shot_style_is_the_default_mixture(tiny_pipe, portrait):
    style = zero_shot_style(tiny_pipe, warm_samples(), content=[portrait], size=64)
    inputs = load_inputs(warm_samples(), content=[portrait])
    config = preset("fast", size=64)
    expected = mixture_start(prepare(tiny_pipe, inputs, config, seed=0), tiny_pipe.styles, config, "zs")
    assert style.metadata["source"] == "zero-shot" and torch.equal(style.code, expected.code)
    assert max(style.metadata["mix"], key=style.metadata["mix"].get) == "warm"
    assert set(style.gram) == {"relu1_2", "relu2_2", "relu3_3"}


def test_both_zero_shot_distances_add_the_two_kinds_relative_to_their_best(tiny_pipe, portrait):
    config = preset("fast", size=64)
    setup = prepare(tiny_pipe, load_inputs(warm_samples(), content=[portrait]), config, seed=0)
    bank = tiny_pipe.styles
    measured = measured_distances(setup, bank, config)
    targets = bank_distances(setup.targets.gram, bank)
    both = zero_shot_distances(setup, bank, config)
    assert set(both) == set(bank) and measured != targets
    for name in bank:
        expected = measured[name] / min(measured.values()) + targets[name] / min(targets.values())
        assert math.isclose(both[name], expected, rel_tol=1e-9), name


def test_instant_quality_is_the_zero_shot_start_without_steps(tiny_pipe, portrait):
    calls = []
    style = tiny_pipe.learn_style(
        warm_samples(),
        quality="instant",
        size=64,
        content=[portrait],
        name="now",
        callback=lambda step, total, losses, preview: calls.append((step, total, preview is not None)),
    )
    expected = zero_shot_style(tiny_pipe, warm_samples(), content=[portrait], size=64)
    assert torch.equal(style.code, expected.code) and style.norm_delta is None and style.name == "now"
    meta = style.metadata
    assert meta["source"] == "zero-shot" and meta["quality"] == "instant" and meta["steps"] == 0
    assert [h["step"] for h in meta["history"]] == [0] and calls == [(0, 0, True)]
    assert meta["zero_shot_mix"] == expected.metadata["mix"]
    assert meta["metrics"]["style_loss"] == meta["metrics"]["zero_shot_style_loss"]
    assert meta["metrics"]["style_loss"] != meta["metrics"]["input_style_loss"]


def test_validation_withholds_a_fifth_of_the_samples_from_three_up():
    assert [withheld_count(n, 0.2) for n in (1, 2, 3, 5, 10, 20)] == [0, 0, 1, 1, 2, 4]
    assert withheld_count(5, 0.0) == 0 and withheld_count(3, 0.9) == 2  # always one left to fit


def test_the_loop_fits_the_first_samples_and_validates_on_the_withheld_one(tiny_pipe, portrait):
    warm, cool = warm_samples(4), Image.new("RGB", (90, 72), (40, 90, 220))
    inputs = load_inputs([*warm, cool], content=[portrait])
    setup = prepare(tiny_pipe, inputs, tiny_config(), seed=0)
    assert len(setup.samples) == 4
    for tap, all_five in setup.targets.gram.items():  # per-sample means: all = (4 fitted + 1 withheld) / 5
        mixed = (4 * setup.train_targets.gram[tap] + setup.validation_targets.gram[tap]) / 5
        assert torch.allclose(all_five, mixed, rtol=1e-5, atol=1e-7), tap
    assert setup.validation_targets.color[:3].argmax() == 2 and setup.train_targets.color[:3].argmax() == 0
    same = prepare(tiny_pipe, inputs, tiny_config(holdout=0.0), seed=0)
    assert len(same.samples) == 5 and same.train_targets is same.validation_targets is same.targets
    # the zero-shot start sees every sample either way; only what validation scores against differs
    style = learn(tiny_pipe, inputs, tiny_config(steps=1))
    in_sample = learn(tiny_pipe, inputs, tiny_config(steps=1, holdout=0.0))
    assert style.metadata["withheld"] == 1 and in_sample.metadata["withheld"] == 0
    assert style.metadata["zero_shot_mix"] == in_sample.metadata["zero_shot_mix"]
    start = mixture_start(setup, tiny_pipe.styles, tiny_config(), "zs")
    state = init_state(tiny_pipe, setup, start, tiny_config(), 0)
    assert style.metadata["history"][0]["validation"] == pytest.approx(
        validation_objective(setup, state, tiny_config())
    )
    assert style.metadata["history"][0]["validation"] != in_sample.metadata["history"][0]["validation"]
    # both judges score one stylisation of the fixed crops: the same numbers as the training losses on them
    both = validation_objectives(setup, state, tiny_config(), [setup.validation_targets, setup.train_targets])
    for value, targets in zip(both, (setup.validation_targets, setup.train_targets)):
        losses, _ = core_losses(setup, state, setup.eval_batch, targets)
        if state.norm_delta is not None:
            losses["adapter"] = state.norm_delta.pow(2).mean()
        assert value == pytest.approx(float(weighted_objective(losses, tiny_config())), rel=1e-6)
    assert both[0] != pytest.approx(both[1])


def test_negative_steps_are_a_clear_error():
    with pytest.raises(ValueError, match="LearnConfig.steps must be 0 .* or more, got -1"):
        LearnConfig(steps=-1)


def test_holdout_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match=r"LearnConfig.holdout must be in \[0, 1\), got 1.0"):
        LearnConfig(holdout=1.0)


def test_callback_sees_progress_and_stops_with_the_best_style(tiny_pipe, portrait):
    calls = []

    def callback(step: int, total: int, losses: dict[str, float], preview: Image.Image | None) -> bool:
        calls.append((step, total, sorted(losses), preview))
        return step == 10

    style = tiny_pipe.learn_style(warm_samples(), steps=12, size=64, content=[portrait], callback=callback)
    assert [c[0] for c in calls] == list(range(0, 11)) and all(c[1] == 12 for c in calls)
    assert isinstance(calls[0][3], Image.Image)  # step 0: the zero-shot preview and its validation objective
    assert calls[0][2] == ["validation"]
    assert {"style", "content", "color", "tv", "objective"} <= set(calls[1][2])
    assert calls[9][3] is None and isinstance(calls[10][3], Image.Image)  # a preview every preview_every (10) steps
    assert style.metadata["cancelled"] and style.metadata["steps"] == 10 and torch.isfinite(style.code).all()


def test_non_finite_losses_recover_then_stop_with_the_best_state(tiny_pipe, portrait):
    # a learning rate of 1e30 overflows the generator's instance norms after any update: those steps are NaN
    config = tiny_config(steps=12, code_lr=1e30)
    inputs = load_inputs(warm_samples(), content=[portrait])
    style = learn(tiny_pipe, inputs, config)
    zero_shot = mixture_start(prepare(tiny_pipe, inputs, config, seed=0), tiny_pipe.styles, config, "zs")
    history = style.metadata["history"]
    recovered = [h for h in history if "recovered" in h]
    assert style.metadata["recoveries"] == 3 and len(recovered) == 3 and len(history) < 13
    assert torch.equal(style.code, zero_shot.code)  # the best state is the zero-shot start
    lrs = [h["lr"] for h in history[1:] if "recovered" not in h]
    assert lrs[1] < 0.6 * lrs[0]  # halved after the first recovery


def test_pairs_add_a_paired_loss_and_adapters_have_the_generator_size(tiny_pipe, portrait):
    before = portrait.resize((80, 80))
    after = Image.fromarray((np.asarray(before) * np.array([1.0, 0.7, 0.4])).astype(np.uint8))
    style = tiny_pipe.learn_style(
        warm_samples(2), quality="balanced", steps=2, size=64, content=[portrait], pairs=[(before, after)]
    )
    assert style.metadata["pairs"] == 1 and all("pair" in h for h in style.metadata["history"][1:])
    assert style.norm_delta is not None and style.norm_delta.numel() == tiny_pipe.generator.norm_params


def bad_inputs() -> dict[str, tuple[dict, type[Exception], str]]:
    """Named bad calls: (learn_style kwargs, expected error type, message pattern)."""
    ok = Image.new("RGB", (80, 80), (200, 100, 50))
    return {
        "no samples": ({"samples": []}, ValueError, "at least one sample"),
        "21 samples": ({"samples": [ok] * 21}, ValueError, "at most 20 sample"),
        "tiny sample": ({"samples": [ok, Image.new("RGB", (100, 40))]}, ImageError, "sample 2 of 2: .*64 px or more"),
        "not an image": ({"samples": [b"not an image"]}, ImageError, "sample 1 of 1: .*not a readable image"),
        "missing file": ({"samples": ["/nonexistent/nope.jpg"]}, ImageError, "no such file"),
        "one-image pair": ({"samples": [ok], "pairs": [(ok,)]}, ValueError, "pair 1 has 1 image"),
        "mismatched pair": (
            {"samples": [ok], "pairs": [(ok, Image.new("RGB", (80, 160)))]},
            ValueError,
            "pair 1: before is 80x80 but after is 80x160",
        ),
        "non-image in a pair": ({"samples": [ok], "pairs": [(ok, b"junk")]}, ImageError, "pair 1 after: "),
        "unknown quality": (
            {"samples": [ok], "quality": "ultra"},
            ValueError,
            "quality must be one of instant, fast, balanced, best; got 'ultra'",
        ),
        "zero steps": ({"samples": [ok], "steps": 0}, ValueError, "steps must be a positive integer"),
        "small size": ({"samples": [ok], "size": 32}, ValueError, "size must be an integer of at least 64"),
        "empty content": ({"samples": [ok], "content": []}, ValueError, "at least one content"),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_is_a_clear_error(tiny_pipe, case):
    kwargs, error, message = bad_inputs()[case]
    with pytest.raises(error, match=message):
        tiny_pipe.learn_style(kwargs.pop("samples"), **kwargs)


def test_presets_grow_and_overrides_apply():
    fast, balanced, best = (PRESETS[q] for q in ("fast", "balanced", "best"))
    assert not fast.adapters and balanced.adapters and best.adapters
    assert fast.steps < balanced.steps < best.steps and fast.size <= balanced.size <= best.size
    assert 160 <= fast.size <= 192
    custom = preset("balanced", steps=5, size=96)
    assert custom.steps == 5 and custom.size == 96 and custom.image_side >= 96


def test_a_failed_save_leaves_nothing_half_written(tiny_pipe, portrait, tmp_path):
    style = tiny_pipe.learn_style(warm_samples(2), steps=1, size=64, content=[portrait])
    target = style.save_pretrained(tmp_path / "mine")
    saved = json.loads((target / "style.json").read_text())
    style.metadata["bad"] = object()  # not JSON: the write fails after the tensors were written
    with pytest.raises(TypeError):
        style.save_pretrained(tmp_path / "mine")
    with pytest.raises(TypeError):
        style.save_pretrained(tmp_path / "other")
    assert json.loads((target / "style.json").read_text()) == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_real_weights_learn_at_small_size(real_pipe, portrait):
    before = generator_state(real_pipe)
    style = real_pipe.learn_style(warm_samples(2), quality="balanced", steps=2, size=64, content=[portrait])
    assert style.code.shape == (real_pipe.generator.config.code_dim,)
    assert style.norm_delta.shape == (real_pipe.generator.norm_params,)
    assert all(torch.equal(t, before[k]) for k, t in real_pipe.generator.state_dict().items())
    out = real_pipe(portrait.resize((96, 96)), style=style)
    assert out.images[0].size == (96, 96)


@pytest.fixture
def encoder_pipe(tiny_pipe):
    """The tiny pipeline with a tiny seeded style encoder over its bank."""
    import copy

    from pipeline.style_encoder import StyleEncoder

    torch.manual_seed(0)
    pipe = copy.copy(tiny_pipe)
    pipe.style_encoder = StyleEncoder(bank_names=("cool", "photo", "warm"), lut_size=9, basis_luts=4)
    torch.nn.init.normal_(pipe.style_encoder.mix_head.weight, std=0.1)
    yield pipe
    pipe.style_encoder = None


def test_with_a_style_encoder_instant_is_its_mix_and_lut(encoder_pipe, portrait):
    style = encoder_pipe.learn_style(warm_samples(), quality="instant", size=64, content=[portrait])
    mix = style.metadata["zero_shot_mix"]
    assert set(mix) <= {"cool", "photo", "warm"} and math.isclose(sum(mix.values()), 1.0, rel_tol=1e-6)
    assert style.color_lut is not None and style.color_lut.shape == (3, 9, 9, 9)
    codes = {name: s.code for name, s in encoder_pipe.styles.items()}
    assert torch.allclose(style.code, sum(w * codes[n] for n, w in mix.items()), atol=1e-6)
    missing = encoder_pipe.style_encoder.register_to_config(bank_names=("photo", "sepia"))  # noqa: F841
    with pytest.raises(ValueError, match="weighs bank styles this pipeline lacks: sepia"):
        encoder_pipe.learn_style(warm_samples(), quality="instant", size=64, content=[portrait])


def warm_grade(image: Image.Image) -> Image.Image:
    """A strong warm film grade: red lifted, green a little down, blue to under half."""
    a = np.asarray(image.convert("RGB"), np.float32) / 255
    a = np.stack([0.12 + 0.88 * a[..., 0], 0.9 * a[..., 1], 0.05 + 0.4 * a[..., 2]], -1)
    return Image.fromarray((a * 255 + 0.5).astype(np.uint8))


def test_fast_moves_the_mean_colour_most_of_the_way_to_a_strong_grade(tiny_pipe, portrait):
    import skimage.data
    from conftest import hopper_image
    from skimage.color import rgb2lab

    others = [Image.fromarray(a) for a in (skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket())]
    others += [hopper_image(), others[1].transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((0, 0, 400, 300))]
    samples = [warm_grade(image.resize((128, 96))) for image in others]
    photo = portrait.resize((96, 96))

    def chroma(image: Image.Image) -> np.ndarray:  # mean CIELAB a*, b*: the cast, whatever the samples' brightness
        return rgb2lab(np.asarray(image, np.float32) / 255).mean((0, 1))[1:]

    look = chroma(warm_grade(photo))
    style = tiny_pipe.learn_style(samples, quality="fast", size=64, content=[portrait])
    start = chroma(tiny_pipe(photo, style=style.zero_shot).images[0])
    learned = chroma(tiny_pipe(photo, style=style).images[0])
    before, after = np.linalg.norm(start - look), np.linalg.norm(learned - look)
    assert after < 0.5 * before, (start, learned, look)  # more than half the way
