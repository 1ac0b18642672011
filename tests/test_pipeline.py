from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline import PersonalStyle, PersonalStylePipeline, StyleError


def test_output_sizes_match_inputs_including_odd(tiny_pipe, portrait):
    images = [portrait.resize((67, 45)), portrait.resize((128, 97)), portrait]
    out = tiny_pipe(images, style="warm")
    assert [im.size for im in out.images] == [im.size for im in images]
    assert len(out.metrics) == 3 and set(out.metrics[0]["style_loss"]) == {"relu1_2", "relu2_2", "relu3_3"}


def test_save_load_round_trip_gives_identical_output(tiny_pipe, portrait, tmp_path):
    x = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    before = tiny_pipe.stylize_tensor(x, tiny_pipe.styles["cool"].code)
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    loaded = PersonalStylePipeline.from_pretrained(tmp_path / "pipe")
    assert sorted(loaded.styles) == ["cool", "photo", "warm"]
    for name, param in tiny_pipe.generator.state_dict().items():
        assert torch.equal(param, loaded.generator.state_dict()[name]), name
    after = loaded.stylize_tensor(x, loaded.styles["cool"].code)
    assert torch.allclose(before, after, atol=1e-5, rtol=0)  # same weights; conv kernels may differ in the last bit


def test_strength_zero_is_the_photo_style(tiny_pipe, portrait):
    small = portrait.resize((64, 64))
    zero = np.asarray(tiny_pipe(small, style="warm", strength=0.0).images[0]).astype(int)
    photo = np.asarray(tiny_pipe(small, style="photo").images[0]).astype(int)
    full = np.asarray(tiny_pipe(small, style="warm").images[0]).astype(int)
    assert np.abs(zero - photo).max() <= 1
    assert np.abs(full - photo).mean() > 5  # the style does something, so the check above is not vacuous


def test_mix_is_between_its_parts(tiny_pipe, portrait):
    small = portrait.resize((64, 64))
    mixed = tiny_pipe.resolve_style({"warm": 3.0, "cool": 1.0})
    expected = 0.75 * tiny_pipe.styles["warm"].code + 0.25 * tiny_pipe.styles["cool"].code
    assert torch.allclose(mixed.code, expected)
    a = np.asarray(tiny_pipe(small, style={"warm": 1.0}).images[0])
    b = np.asarray(tiny_pipe(small, style="warm").images[0])
    assert np.array_equal(a, b)


def test_preserve_color_keeps_input_chroma(tiny_pipe, portrait):
    small = portrait.resize((64, 64))
    out = tiny_pipe(small, style="warm", preserve_color=True).images[0]
    cb_in = np.asarray(small.convert("YCbCr"))[..., 1:].astype(float)
    cb_out = np.asarray(out.convert("YCbCr"))[..., 1:].astype(float)
    cb_plain = np.asarray(tiny_pipe(small, style="warm").images[0].convert("YCbCr"))[..., 1:].astype(float)
    assert np.abs(cb_out - cb_in).mean() < 0.5 * np.abs(cb_plain - cb_in).mean()


@pytest.mark.parametrize(
    "style, message",
    [("nope", "unknown style 'nope'"), ({"warm": -1.0}, "non-negative"), (3, "style must be")],
)
def test_bad_style_is_a_clear_error(tiny_pipe, portrait, style, message):
    with pytest.raises(StyleError, match=message):
        tiny_pipe(portrait, style=style)


def test_bad_strength_and_code_size(tiny_pipe, portrait):
    with pytest.raises(ValueError, match="strength"):
        tiny_pipe(portrait, style="warm", strength=1.5)
    with pytest.raises(StyleError, match="8"):
        tiny_pipe(portrait, style=PersonalStyle("big", torch.zeros(64)))


def test_missing_weights_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        PersonalStylePipeline.from_pretrained(tmp_path)


def test_metrics_zero_for_the_style_image_itself(tiny_pipe):
    from conftest import gram_targets

    from pipeline.images import pil_to_tensor

    image = Image.fromarray((np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8))
    style = PersonalStyle("self", torch.zeros(8), gram=gram_targets(tiny_pipe.loss_net, image))
    x = pil_to_tensor(image)
    metrics = tiny_pipe.style_metrics(x, x, style)
    assert all(v < 1e-3 for v in metrics["input_style_loss"].values())  # fp16-stored targets
    assert metrics["content_loss"] == 0.0
    other = tiny_pipe.style_metrics(x, x, tiny_pipe.styles["warm"])
    assert min(other["input_style_loss"].values()) > 0.1


def test_metrics_of_a_thin_image_are_finite(tiny_pipe):
    thin = torch.rand(1, 3, 3, 900)  # 300:1 -> 1 px high at the metrics' 256 px long side
    metrics = tiny_pipe.style_metrics(thin, thin, tiny_pipe.styles["warm"])
    values = [*metrics["style_loss"].values(), *metrics["input_style_loss"].values(), metrics["content_loss"]]
    assert all(math.isfinite(v) for v in values) and metrics["content_loss"] == 0.0


def test_a_style_lut_grades_the_output_and_follows_strength(tiny_pipe, portrait):
    from pipeline import PersonalStyle
    from pipeline.color import identity_lut

    image = portrait.resize((48, 40))
    photo = tiny_pipe.styles["photo"]
    lut = identity_lut(9)
    lut[2] = lut[2] * 0.2  # blue down to a fifth: a strong warm grade
    graded = PersonalStyle("graded", photo.code, gram=photo.gram, color_lut=lut)
    plain = np.asarray(tiny_pipe(image, style="photo").images[0], np.float32)
    full = np.asarray(tiny_pipe(image, style=graded).images[0], np.float32)
    half = np.asarray(tiny_pipe(image, style=graded, strength=0.5).images[0], np.float32)
    assert np.abs(full[..., :2] - plain[..., :2]).max() <= 1.0  # red and green untouched
    assert np.allclose(full[..., 2], plain[..., 2] * 0.2, atol=1.5)
    assert np.allclose(half[..., 2], plain[..., 2] * 0.6, atol=1.5)


def test_session_styles_resolve_first_and_a_session_never_reads_folders(tiny_pipe, tmp_path):
    mine = PersonalStyle("mine", torch.ones(8))
    assert tiny_pipe.resolve_style("mine", session={"mine": mine}) is mine
    assert tiny_pipe.resolve_style("cool", session={"mine": mine}) is tiny_pipe.styles["cool"]
    folder = tiny_pipe.styles["cool"].save_pretrained(tmp_path / "cool-folder")
    assert tiny_pipe.resolve_style(str(folder)).name == "cool"  # the library reads a folder it is given
    with pytest.raises(StyleError, match="unknown style .*; pick one from the list"):
        tiny_pipe.resolve_style(str(folder), session={"mine": mine})  # an app visitor cannot name a server path
