"""The training package: looks (``training/looks``), a real, tiny style-encoder run that trains, checkpoints,
resumes and exports (``training/encoder.py``) and a real, tiny pretraining run from pairs (``training/pretrain.py``,
``training/export.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.style_encoder import StyleEncoder
from training.__main__ import main as training_main
from training.encoder import EncoderConfig, load_config, train_encoder
from training.looks import LOOKS, MARKS, PRESETS, random_grade
from training.pretrain import Pairs, PretrainConfig, pretrain


def test_random_grades_are_deterministic_varied_and_in_range():
    photo = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    a = random_grade(np.random.default_rng(1))(photo)
    b = random_grade(np.random.default_rng(1))(photo)
    assert a.shape == photo.shape and a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    outputs = [random_grade(np.random.default_rng(seed))(photo) for seed in range(12)]
    means = np.array([o.mean((0, 1)) for o in outputs])
    assert means.std(0).min() > 0.02  # grades differ in colour, not only in detail


def test_looks_are_deterministic_keep_the_size_and_change_the_photo():
    assert len(PRESETS) >= 12 and len(MARKS) >= 12 and not set(PRESETS) & set(MARKS)
    coarse = np.random.default_rng(0).random((6, 8, 3)) * 255
    photo = Image.fromarray(coarse.astype(np.uint8)).resize((128, 96), Image.BICUBIC)
    for name, look in LOOKS.items():
        out = look(photo)
        assert out.size == photo.size and out.mode == "RGB", name
        assert np.array_equal(np.asarray(out), np.asarray(look(photo))), name
        assert np.abs(np.asarray(out, np.float32) - np.asarray(photo, np.float32)).mean() > 3, name
        assert look.__doc__, name


def test_marks_scale_with_the_image():
    """A look drawn at twice the size, then halved, is close to the look drawn at the size (marks per 512 px)."""
    import skimage.data

    photo = Image.fromarray(skimage.data.astronaut()).resize((256, 256), Image.LANCZOS)
    big = photo.resize((512, 512), Image.LANCZOS)
    for name in ("pencil", "ink", "screentone", "mosaic", "woodcut"):
        small = np.asarray(MARKS[name](photo), np.float32)
        halved = np.asarray(MARKS[name](big).resize((256, 256), Image.LANCZOS), np.float32)
        mean_small, mean_halved = small.mean(), halved.mean()
        assert abs(mean_small - mean_halved) < 20, (name, mean_small, mean_halved)  # same share of ink


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


@pytest.fixture
def tiny_pretrain(tiny_pipe, tmp_path):
    """A saved tiny pipeline, six photos (one of them flat on its top half) and a two-step recipe."""
    tiny_pipe.save_pretrained(tmp_path / "weights")
    rng = np.random.default_rng(0)
    (tmp_path / "content").mkdir()
    for i in range(6):
        a = np.asarray(Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8)).resize((128, 96), Image.BICUBIC))
        if i == 0:
            a = a.copy()
            a[:60] = 200  # an exactly flat sky
        Image.fromarray(a).save(tmp_path / f"content/p{i}.jpg", quality=98)
    config = PretrainConfig(
        weights=str(tmp_path / "weights"),
        content=str(tmp_path / "content"),
        exclude=["p5"],
        validation=["p4"],
        looks=["sepia", "ink"],
        distill=["photo", "warm"],
        long_side=96,
        crop=32,
        batch=3,
        steps=2,
        checkpoint_every=1,
        validate_every=2,
    )
    return config, tmp_path / "run"


def test_batches_share_one_position_and_are_never_flat(tiny_pretrain):
    config, out = tiny_pretrain
    from pipeline import PersonalStylePipeline

    pairs = Pairs(config, PersonalStylePipeline.from_pretrained(config.weights), out / "pairs")
    assert pairs.stems[0] == "p0" and "p5" not in pairs.stems and pairs.val == [pairs.stems.index("p4")]
    rng = __import__("random").Random(0)
    ink = pairs.names.index("ink")
    for _ in range(30):
        x, y, (top, left) = pairs.batch([ink, ink, 0], rng)
        assert x.shape == y.shape == (3, 3, 32, 32)
        assert (x.flatten(2).std(2).amax(1) * 255 >= 2).all()  # p0's flat sky is never drawn where it is flat
        matches = [
            i for i in pairs.train if torch.equal(pairs.window(0, i, top, left, 32)[0], x[2])
        ]  # the photo style's crop is some training photo's window at the shared position
        assert matches


def test_pretraining_checkpoints_resumes_and_exports(tiny_pretrain, tmp_path):
    config, out = tiny_pretrain
    torch.manual_seed(0)
    pretrain(config, out)
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history["train"]] == [1, 2] and history["skipped"] == 0
    validation = history["validation"][-1]
    assert validation["step"] == 2 and set(validation) == {"step", "photo", "warm", "sepia", "ink"}
    assert all(np.isfinite(v).all() for k, v in validation.items() if k != "step")
    assert sorted(p.name.split("-")[0] for p in (out / "pairs").iterdir()) == ["ink", "photo", "sepia", "warm"]
    first = torch.load(out / "checkpoint.pt", weights_only=False)
    config.steps = 4
    pretrain(config, out)
    resumed = torch.load(out / "checkpoint.pt", weights_only=False)
    assert resumed["step"] == 4 and resumed["names"] == ["photo", "warm", "sepia", "ink"]
    assert not torch.equal(resumed["codes"], first["codes"])

    with pytest.raises(ValueError, match="photo"):
        training_main(["export", str(out), str(tmp_path / "some"), "--styles", "sepia,ink"])
    training_main(["export", str(out), str(tmp_path / "some"), "--styles", "photo,ink"])
    assert sorted(p.name for p in (tmp_path / "some" / "styles").iterdir()) == ["ink", "photo"]
    training_main(["export", str(out), str(tmp_path / "exported")])
    from pipeline import PersonalStylePipeline

    pipe = PersonalStylePipeline.from_pretrained(tmp_path / "exported")
    assert sorted(pipe.styles) == ["ink", "photo", "sepia", "warm"]
    assert pipe.styles["ink"].metadata["description"].startswith("Ink line art")
    assert torch.equal(pipe.styles["ink"].code, resumed["codes"][3])
    assert set(pipe.styles["sepia"].gram) == {"relu1_2", "relu2_2", "relu3_3"}
    state = pipe.generator.state_dict()
    assert all(torch.equal(state[k], v) for k, v in resumed["generator"].items())


def test_export_fits_the_starting_encoder_to_the_exported_bank():
    from pipeline.style_encoder import StyleEncoder
    from training.export import encoder_for_bank

    torch.manual_seed(0)
    encoder = StyleEncoder(bank_names=("cool", "photo", "warm"), hidden=16, lut_size=5, basis_luts=2)
    torch.nn.init.normal_(encoder.mix_head.weight)
    fitted = encoder_for_bank(encoder, ["ink", "photo", "warm"])
    assert fitted.config.bank_names == ("ink", "photo", "warm") and fitted.config.hidden == 16
    old, new = encoder.mix_head.weight, fitted.mix_head.weight
    assert torch.equal(new[1], old[1]) and torch.equal(new[2], old[2]) and not new[0].any()
    assert fitted.mix_head.bias[0] < encoder.mix_head.bias.min()  # a style it never saw starts unused
    stats = torch.randn(1, fitted.config.stat_dim)
    assert torch.equal(fitted(stats)[1], encoder(stats)[1])  # the colour LUT is untouched
    assert encoder_for_bank(encoder, ["cool", "photo", "warm"]) is encoder


def test_style_weights_set_how_often_a_style_is_drawn(tiny_pretrain):
    config, _ = tiny_pretrain
    config.style_weights = {"ink": 3.0}
    assert config.draw_weights() == [1.0, 1.0, 1.0, 3.0]  # photo, warm, sepia, ink
    for bad in ({"nope": 2.0}, {"ink": 0.0}):
        config.style_weights = bad
        with pytest.raises(ValueError, match="style_weights"):
            config.draw_weights()


def test_the_shipped_pretraining_recipe_never_trains_on_the_evaluation_photos():
    from benchmarks.bench_learn import HELD_OUT
    from training.pretrain import load_config as load_pretrain

    config = load_pretrain("training/configs/pretrain.json")
    evaluation = {p.stem for p in __import__("pathlib").Path("benchmarks/photos").glob("*.jpg")}
    assert len(evaluation) >= 8 and evaluation | set(HELD_OUT) <= set(config.exclude)
    assert set(config.style_names()) >= set(LOOKS)


def test_an_encoder_follows_its_styles_by_name_when_the_bank_grows():
    from training.encoder import grow_bank

    encoder = StyleEncoder(bank_names=("b", "photo"), hidden=16)
    state = encoder.state_dict()
    grown = grow_bank(state, ["b", "photo"], ["a", "b", "c", "photo"])
    assert torch.equal(grown["mix_head.weight"][1], state["mix_head.weight"][0])
    assert torch.equal(grown["mix_head.weight"][3], state["mix_head.weight"][1])
    assert grown["mix_head.weight"][[0, 2]].abs().sum() == 0
    assert grown["mix_head.bias"][[0, 2]].max() < state["mix_head.bias"].min()  # new styles start unused
    StyleEncoder(bank_names=("a", "b", "c", "photo"), hidden=16).load_state_dict(grown)
    assert grow_bank(state, ["b", "photo"], ["b", "photo"]) is state
