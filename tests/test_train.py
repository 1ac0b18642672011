"""A real (tiny) pretraining run on generated data: it trains, checkpoints, resumes and exports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, WEIGHTS
from PIL import Image, ImageOps
from safetensors.torch import load_file

from pipeline import Generator, PersonalStylePipeline
from pipeline.loss_net import LossNet
from pipeline.train import style_weights, train
from pipeline.train_config import TrainConfig
from pipeline.train_data import load_pairs, style_targets

TINY_GENERATOR = {"channels": [4, 8], "decoder_channels": [4], "num_res_blocks": 1}
TINY_RUN = dict(loss_net=WEIGHTS / "loss_net", batch_size=2, crop=32, style_long_side=64)  # every tiny run's base


def make_data(root):
    rng = np.random.default_rng(0)
    (root / "content").mkdir(parents=True)
    for i in range(3):
        Image.fromarray((rng.random((80, 96, 3)) * 255).astype(np.uint8)).save(root / "content" / f"c{i}.jpg")
    for name, color in (("red", (200, 30, 30)), ("stripes", None)):
        folder = root / "styles" / name
        folder.mkdir(parents=True)
        if color:
            Image.new("RGB", (64, 64), color).save(folder / "a.jpg")
        else:
            Image.fromarray(np.tile((np.arange(64) // 4 % 2 * 255).astype(np.uint8), (64, 1))).convert("RGB").save(
                folder / "a.jpg"
            )


def test_train_checkpoints_resumes_and_exports(tmp_path):
    make_data(tmp_path / "data")
    cfg = dict(
        TINY_RUN,
        data=tmp_path / "data",
        run=tmp_path / "run",
        adv_start=1,
        lr=0.1,
        color_map_peak_weight=1.0,
        anisotropy_weight=1.0,
        transposed_targets=True,
        smear_weight=1.0,
        generator=TINY_GENERATOR,
    )
    train(TrainConfig(steps=3, focus=2.0, **cfg))
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["step"] == 3 and state["styles"] == ["photo", "red", "stripes"]
    # focus sampling tracks one output/input Gram-loss ratio per style; photo is never drawn, so it stays 1
    assert len(state["ratios"]) == 3 and state["ratios"][0] == 1.0 and state["ratios"][1:] != [1.0, 1.0]
    train(TrainConfig(steps=5, focus=2.0, **cfg))
    resumed = json.loads((tmp_path / "run" / "state.json").read_text())
    assert resumed["step"] == 5 and resumed["ratios"] != state["ratios"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.export_weights",
            str(tmp_path / "run"),
            str(tmp_path / "w"),
            "--data",
            str(tmp_path / "data"),
        ],
        check=True,
        cwd=ROOT,
    )
    pipe = PersonalStylePipeline.from_pretrained(tmp_path / "w")
    assert sorted(pipe.styles) == ["photo", "red", "stripes"]
    out = pipe(Image.new("RGB", (40, 30), (0, 128, 255)), style="red")
    assert out.images[0].size == (40, 30)

    # the exported folder turns back into a run that a further stage can start from
    from scripts.run_from_weights import run_from_weights

    assert run_from_weights(tmp_path / "w", tmp_path / "back", tmp_path / "data") == ["photo", "red", "stripes"]
    assert torch.equal(
        load_file(str(tmp_path / "back" / "codes.safetensors"))["codes"],
        load_file(str(tmp_path / "run" / "codes.safetensors"))["codes"],
    )
    train(TrainConfig(steps=1, init=str(tmp_path / "back"), **dict(cfg, run=tmp_path / "next", generator={})))
    assert json.loads((tmp_path / "next" / "state.json").read_text())["step"] == 1
    with pytest.raises(FileExistsError, match="back"):
        run_from_weights(tmp_path / "w", tmp_path / "back", tmp_path / "data")
    (tmp_path / "data" / "styles" / "blue").mkdir()
    with pytest.raises(ValueError, match="blue"):
        run_from_weights(tmp_path / "w", tmp_path / "again", tmp_path / "data")


def test_init_with_generator_overrides_grows_the_pattern_branch(tmp_path):
    make_data(tmp_path / "data")
    cfg = dict(TINY_RUN, data=tmp_path / "data", adv_weight=0.0, lr=0.05)
    train(TrainConfig(run=tmp_path / "a", steps=2, generator=TINY_GENERATOR, **cfg))
    grown = {"pattern_periods": [4.0, 8.0]}
    train(TrainConfig(run=tmp_path / "b", init=str(tmp_path / "a"), steps=2, generator=grown, **cfg))
    before = Generator.from_pretrained(tmp_path / "a" / "generator")
    after = Generator.from_pretrained(tmp_path / "b" / "generator")
    assert list(after.config.pattern_periods) == [4.0, 8.0] and after.config.channels == before.config.channels
    assert after.pattern_amp.weight.abs().max() > 0  # the new branch trained (its wave weights start at zero)
    with pytest.raises(ValueError, match="change trained weights"):
        train(
            TrainConfig(run=tmp_path / "c", init=str(tmp_path / "a"), steps=1, generator={"channels": [4, 16]}, **cfg)
        )
    # texture stage: only the pattern branch and the named styles' codes move
    train(
        TrainConfig(
            run=tmp_path / "t", init=str(tmp_path / "a"), steps=3, generator=grown, texture_styles="stripes", **cfg
        )
    )
    textured = Generator.from_pretrained(tmp_path / "t" / "generator")
    for name, value in before.state_dict().items():
        assert torch.equal(textured.state_dict()[name], value), name
    assert textured.pattern_amp.weight.abs().max() > 0
    codes = [load_file(str(tmp_path / run / "codes.safetensors"))["codes"] for run in ("a", "t")]
    assert torch.equal(codes[0][:2], codes[1][:2]) and not torch.equal(codes[0][2], codes[1][2])  # photo, red | stripes
    with pytest.raises(ValueError, match="pattern or colour branch"):
        train(TrainConfig(run=tmp_path / "u", init=str(tmp_path / "a"), steps=1, texture_styles="stripes", **cfg))
    with pytest.raises(ValueError, match="needs --init"):
        train(
            TrainConfig(
                run=tmp_path / "w", steps=1, generator={**TINY_GENERATOR, **grown}, texture_styles="stripes", **cfg
            )
        )
    with pytest.raises(ValueError, match="not among"):
        train(TrainConfig(run=tmp_path / "v", init=str(tmp_path / "b"), steps=1, texture_styles="plaid", **cfg))
    # --stage-params all: the whole generator trains for the named styles (no branch needed); other codes stay
    train(
        TrainConfig(
            run=tmp_path / "s", init=str(tmp_path / "a"), steps=3, texture_styles="stripes", stage_params="all", **cfg
        )
    )
    staged = Generator.from_pretrained(tmp_path / "s" / "generator")
    assert not staged.config.pattern_periods
    assert not torch.equal(staged.state_dict()["head.conv.weight"], before.state_dict()["head.conv.weight"])
    staged_codes = load_file(str(tmp_path / "s" / "codes.safetensors"))["codes"]
    assert torch.equal(codes[0][:2], staged_codes[:2]) and not torch.equal(codes[0][2], staged_codes[2])
    # --stage-params color on a grown colour branch: held styles' branch outputs are unchanged exactly (projection)
    train(
        TrainConfig(
            run=tmp_path / "k",
            init=str(tmp_path / "a"),
            steps=4,
            generator={"color_curves": True},
            texture_styles="stripes",
            stage_params="color",
            paired_weight=0.0,
            **cfg,
        )
    )
    colored = Generator.from_pretrained(tmp_path / "k" / "generator")
    for name, value in before.state_dict().items():
        assert torch.equal(colored.state_dict()[name], value), name
    k_codes = load_file(str(tmp_path / "k" / "codes.safetensors"))["codes"]
    with torch.no_grad():
        held = colored.color_amp(k_codes[:2])  # photo, red: their colour maps stay zero although the branch trained
        assert held.abs().max() < 1e-5 and colored.color_amp(k_codes[2:]).abs().max() > 1e-3
    # --branch-decay pulls the branch's code map toward the --init weights' (zero here): a smaller change
    stage = dict(init=str(tmp_path / "a"), generator={"color_curves": True}, texture_styles="stripes", **cfg)
    norms = {}
    for decay in (0.0, 1000.0):
        train(TrainConfig(run=tmp_path / f"d{decay}", steps=6, stage_params="color", branch_decay=decay, **stage))
        norms[decay] = Generator.from_pretrained(tmp_path / f"d{decay}" / "generator").color_amp.weight.norm().item()
    assert 0 < norms[1000.0] < 0.8 * norms[0.0], norms  # measured 0.68 after 6 steps; without the pull, 1
    with pytest.raises(ValueError, match="stage-params"):
        train(
            TrainConfig(
                run=tmp_path / "x",
                init=str(tmp_path / "a"),
                steps=1,
                texture_styles="stripes",
                stage_params="most",
                **cfg,
            )
        )


def test_style_weights_focus_on_styles_still_far_from_their_target():
    ratios = torch.tensor([1.0, 0.5, 1.0, 8.0, 0.01])  # photo first: never sampled
    assert style_weights(ratios, 0.0) == [1.0, 1.0, 1.0, 1.0]
    weights = style_weights(ratios, 2.0)
    assert weights == pytest.approx([0.25, 1.0, 16.0, 0.0625])  # clamped to [0.25, 4] before the power


def test_transposed_style_targets_have_no_direction():
    loss_net = LossNet.from_pretrained(WEIGHTS / "loss_net", dtype=torch.float32)
    rows = torch.zeros(3, 64, 64)
    rows[:, ::4] = 1.0  # horizontal lines
    columns = rows.transpose(-1, -2)
    plain = style_targets(loss_net, [rows]), style_targets(loss_net, [columns])
    both = style_targets(loss_net, [rows], transposed=True), style_targets(loss_net, [columns], transposed=True)
    assert any(not torch.allclose(plain[0][t], plain[1][t], rtol=1e-2) for t in plain[0])  # Grams see direction
    assert all(torch.allclose(both[0][t], both[1][t], rtol=1e-4, atol=1e-6) for t in both[0])


def test_paired_loss_learns_a_look_made_from_the_content_photos(tmp_path):
    data = tmp_path / "data"
    make_data(data)
    rng = np.random.default_rng(1)
    for i in range(3):  # smooth photos (the tiny generator cannot copy pixel noise)
        small = Image.fromarray((rng.random((5, 6, 3)) * 255).astype(np.uint8))
        small.resize((96, 80), Image.Resampling.BICUBIC).save(data / "content" / f"c{i}.jpg", quality=95)
    invert = data / "styles" / "invert"  # made by a known function from the content photos, as fetch_data's looks are
    invert.mkdir()
    for i in range(3):
        ImageOps.invert(Image.open(data / "content" / f"c{i}.jpg")).save(invert / f"c{i}.jpg", quality=95)
    pairs = load_pairs(data / "content", invert, 64)
    assert len(pairs) == 3 and pairs[0].shape == (6, 53, 64)
    assert (pairs[0][:3] + pairs[0][3:] - 1).abs().mean() < 0.05  # aligned: content + inverted = 1
    assert load_pairs(data / "content", data / "styles" / "red", 64) == []  # no exemplar made from a content photo
    cfg = dict(
        TINY_RUN,
        data=data,
        lr=0.02,
        code_lr=0.02,
        mlp_lr=0.02,
        adv_weight=0.0,
        cycle_weight=0.0,
        style_weight=0.0,
        content_weight=0.0,
        color_weight=0.0,
        generator=TINY_GENERATOR,
    )
    errors = {}
    for weight in (0.0, 20.0):
        run = tmp_path / f"run{weight}"
        train(TrainConfig(run=run, steps=60, paired_weight=weight, **cfg))
        generator = Generator.from_pretrained(run / "generator")
        code = load_file(str(run / "codes.safetensors"))["codes"][1:2]  # photo, invert, red, stripes
        with torch.no_grad():
            out = generator(pairs[0][None, :3], code)
        errors[weight] = (out[0] - pairs[0][3:]).abs().mean().item()
        logged = json.loads((run / "state.json").read_text())["log"]
        assert ("paired" in logged[-1]) == bool(weight)
    assert errors[20.0] < 0.7 * errors[0.0], errors
    (invert / "c0.jpg").unlink()
    Image.new("RGB", (40, 40)).save(invert / "c0.jpg")
    with pytest.raises(ValueError, match="differs from its content photo"):
        load_pairs(data / "content", invert, 64)
