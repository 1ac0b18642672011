"""The app's work functions (``studio/``) on the tiny seeded pipeline, without any UI."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import TAPS
from hub_server import FakeHub, User
from PIL import Image
from test_hub import use_endpoint

import studio
from pipeline import ImageError, PersonalStyle, StyleError

TOKEN = "hf_studioWRITE0123456789abcdefghijKLMN"


@pytest.fixture
def mine(tiny_pipe) -> PersonalStyle:
    return PersonalStyle("mine", torch.full((8,), 0.5), gram=tiny_pipe.styles["warm"].gram)


def test_stylize_returns_the_image_a_metrics_table_and_chart_data(tiny_pipe, portrait):
    image = portrait.resize((96, 80))
    result = studio.stylize(tiny_pipe, image, tiny_pipe.styles["warm"], strength=0.8, preserve_color=True)
    assert result.image.size == image.size
    assert list(result.table.columns) == ["measure", "input", "output"]
    assert list(result.table["measure"]) == [*map(studio.charts.tap_row, TAPS), studio.CONTENT_ROW]
    assert studio.charts.tap_row("relu2_2") == "distance to the style: texture (relu2_2)"
    assert result.table["input"].iloc[-1] == 0.0 and result.table["output"].iloc[-1] > 0
    assert result.table["output"].iloc[0] == pytest.approx(result.metrics["style_loss"]["relu1_2"], rel=1e-3)
    assert list(result.chart["bar"]) == [f"{tap} {image}" for tap in TAPS for image in ("input", "output")]
    assert (result.chart["distance"] >= 0).all()


def test_resolve_style_prefers_the_session_and_mixes_two(tiny_pipe, mine):
    session = {"mine": mine}
    assert studio.resolve_style(tiny_pipe, "mine", session) is mine
    mixed = studio.resolve_style(tiny_pipe, "mine", session, mix_with="warm", mix_ratio=0.25)
    assert torch.allclose(mixed.code, 0.75 * mine.code + 0.25 * tiny_pipe.styles["warm"].code)
    assert mixed.name == "75% mine + 25% warm"
    assert studio.resolve_style(tiny_pipe, "warm", {}, mix_with="", mix_ratio=0.5) is tiny_pipe.styles["warm"]


@pytest.mark.parametrize(
    "name, mix_with, ratio, error, message",
    [
        ("mine", "", 0.0, StyleError, "unknown style 'mine'"),  # another session's style is not visible here
        ("", "", 0.0, studio.StudioError, "pick a style"),
        ("warm", "cool", 1.5, studio.StudioError, "mix ratio"),
        ("warm", "nope", 0.5, StyleError, "unknown style 'nope'"),
    ],
)
def test_resolve_style_errors(tiny_pipe, name, mix_with, ratio, error, message):
    with pytest.raises(error, match=message):
        studio.resolve_style(tiny_pipe, name, {}, mix_with=mix_with, mix_ratio=ratio)


def test_style_gallery_has_one_small_thumbnail_per_built_in_look(tiny_pipe, portrait):
    gallery = studio.style_gallery(tiny_pipe, portrait, side=48)
    assert [name for _, name in gallery] == ["warm", "cool"]  # not "photo": it changes nothing
    assert all(thumb.size == (48, 48) for thumb, _ in gallery)


def test_upload_errors_name_the_upload_not_the_server_path(tmp_path, portrait):
    folder = tmp_path / "server-cache-0123"
    folder.mkdir()
    not_image, truncated = folder / "upload1", folder / "upload2"
    not_image.write_bytes(b"%PDF-1.4 this is not a picture")
    portrait.save(truncated, format="JPEG")
    truncated.write_bytes(truncated.read_bytes()[:2000])
    for path, name, reason in [(not_image, "notes.pdf", "not a readable image"), (truncated, "me.jpg", "truncated")]:
        with pytest.raises(ImageError, match=reason) as info:
            studio.load_upload(path, name)
        assert name in str(info.value) and str(folder) not in str(info.value)
    assert studio.load_upload(_saved(portrait, tmp_path / "ok.png"), "ok.png", max_side=100).size == (100, 100)


def _saved(image: Image.Image, path):
    image.save(path)
    return path


@pytest.mark.parametrize("name", ["", "  ", "a/b", "x" * 65, "warm"])
def test_check_style_name_refuses_empty_odd_long_and_built_in_names(tiny_pipe, name):
    with pytest.raises(studio.StudioError):
        studio.check_style_name(name, tiny_pipe)


@pytest.mark.parametrize("repo_id", ["noslash", "a/b/c", "../etc", "/abs/path", "user/ bad"])
def test_check_repo_id_refuses_paths_and_malformed_ids(repo_id):
    with pytest.raises(studio.StudioError, match="not a Hub repo id"):
        studio.check_repo_id(repo_id)


@pytest.mark.parametrize("repo_id", ["", "  ", None])
def test_an_empty_repo_id_asks_for_one(repo_id):
    with pytest.raises(studio.StudioError, match=r"^type a Hub repo id first, like 'user-or-org/style-name'$"):
        studio.check_repo_id(repo_id)


def test_zero_shot_preview_is_instant_keeps_the_portrait_size_and_names_its_mix(tiny_pipe, portrait, hopper):
    preview, mix = studio.zero_shot_preview(tiny_pipe, [hopper.resize((96, 112))], portrait.resize((80, 64)))
    assert preview.size == (80, 64)
    assert set(mix) <= set(tiny_pipe.styles) and sum(mix.values()) == pytest.approx(1.0)


def test_describe_mix_puts_the_largest_share_first_and_drops_traces():
    assert studio.describe_mix({"noir": 0.3, "pencil": 0.696, "sepia": 0.004}) == "70% pencil, 30% noir"
    assert studio.describe_mix({}) == ""


def test_sample_thumbnails_shrink_to_the_long_side_and_never_grow():
    big, small = Image.new("RGBA", (900, 300)), Image.new("L", (40, 90))
    thumbs = studio.sample_thumbnails([big, small], side=120)
    assert [t.size for t in thumbs] == [(120, 40), (40, 90)] and {t.mode for t in thumbs} == {"RGB"}


def test_loss_history_is_the_validation_relative_to_the_start():
    def update(step, total, losses, withheld=1):
        return studio.LearnUpdate(step, total, losses, None, 1.0, withheld=withheld)

    assert studio.loss_history([update(0, 0, {"validation": 2.0})]).empty  # the instant quality: no steps
    assert studio.loss_history([update(1, 60, {"style": 3.0})]).empty  # no validated start
    start = update(0, 60, {"validation": 2.0})
    steps = [update(s, 60, {"style": 40.0, "objective": 30.0}) for s in range(1, 10)]
    history = studio.loss_history([start, *steps, update(10, 60, {"style": 5.0, "validation": 1.2})])
    assert set(history["line"]) == {"the withheld sample"}
    assert list(history["step"]) == [0, 10] and list(history["relative"]) == [1.0, pytest.approx(0.6)]
    own = studio.loss_history([update(0, 5, {"validation": 2.0}, withheld=0)])
    assert set(own["line"]) == {"your samples"}


@pytest.mark.parametrize(
    ("meta", "last", "said"),
    [
        ({"kept_step": 0, "withheld": 1}, 20, "did not produce a usable step, so you get the instant mix"),
        ({"kept_step": 10, "withheld": 1}, 20, "Kept step 10, the best on the withheld sample."),
        ({"kept_step": 10, "withheld": 2}, 20, "Kept step 10, the best on the 2 withheld samples."),
        ({"kept_step": 20, "withheld": 0}, 20, ""),
    ],
)
def test_describe_kept_names_the_returned_checkpoint(meta, last, said):
    text = studio.describe_kept(meta, last)
    assert said in text if said else text == ""


def test_learn_stream_reports_each_step_then_the_style(tiny_pipe, portrait, hopper):
    bank = dict(tiny_pipe.styles)
    updates = list(
        studio.learn_stream(
            tiny_pipe, [hopper.resize((96, 112))], name="mine", content=[portrait.resize((96, 96))], steps=2, size=64
        )
    )
    assert [(u.step, u.total) for u in updates] == [(0, 2), (1, 2), (2, 2), (2, 2)]
    assert all(u.style is None for u in updates[:-1]) and updates[-1].style.name == "mine"
    assert updates[0].preview is not None and updates[0].eta is None  # step 0: the zero-shot preview, at once
    assert updates[1].eta is None and updates[2].eta is not None  # paced from step 1, which also pays the setup
    assert updates[1].losses and updates[2].preview is not None
    assert tiny_pipe.styles == bank  # a learned style belongs to its session, never to the shared bank
    assert {u.withheld for u in updates[:-1]} == {0}  # one sample: judged on its own targets
    history = studio.loss_history(updates[:-1])
    assert list(history.columns) == ["step", "line", "relative"]
    assert list(history[history["line"] == "your samples"]["step"]) == [0, 2]  # validated at the end
    assert list(history[history["step"] == 0]["relative"]) == [1.0]
    table, chart = studio.learned_metrics(updates[-1].style)
    assert list(table.columns) == ["measure", "input", "zero-shot", "learned"] and len(chart) == 9


def test_learn_stream_stops_when_asked_and_keeps_the_best_so_far(tiny_pipe, portrait, hopper):
    stop = threading.Event()
    updates = []
    for update in studio.learn_stream(
        tiny_pipe,
        [hopper.resize((96, 112))],
        name="mine",
        content=[portrait.resize((96, 96))],
        steps=50,
        size=64,
        stop=stop,
    ):
        updates.append(update)
        stop.set()
    assert updates[-1].style is not None and updates[-1].style.metadata["cancelled"] is True
    assert updates[-1].step < 50


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(samples=[]), "upload 1–20 style samples"),
        (dict(quality="ultra"), "quality must be one of"),
        (dict(content=[Image.new("RGB", (64, 64))] * 9), "at most 8 selfies"),
    ],
)
def test_learn_stream_checks_its_inputs(tiny_pipe, hopper, kwargs, message):
    args = {"samples": [hopper], "name": "mine", **kwargs}
    with pytest.raises(studio.StudioError, match=message):
        next(studio.learn_stream(tiny_pipe, **args))


def test_on_gpu_changes_nothing_without_the_spaces_package():
    def work(x: int) -> int:
        return x + 1

    assert studio.on_gpu(duration=5)(work) is work


def test_push_needs_a_token_and_never_falls_back_to_the_servers(mine, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_serverTOKEN")
    with pytest.raises(studio.StudioError, match="sign in"):
        studio.push_style(mine, "alice/mine", "")


def test_push_then_load_by_repo_id_on_a_local_hub(tiny_pipe, mine, monkeypatch, tmp_path):
    with FakeHub({TOKEN: User("alice")}) as hub:
        use_endpoint(monkeypatch, hub.url, tmp_path / "hf")
        assert studio.push_style(mine, "alice/secret", TOKEN, private=True).endswith("alice/secret")
        assert hub.repos["alice/secret"].private
        assert studio.push_style(mine, "alice/mine", TOKEN).endswith("alice/mine")
        with pytest.raises(studio.StudioError) as info:
            studio.push_style(mine, "bob/mine", TOKEN)  # another user's namespace
        assert TOKEN not in str(info.value)
        loaded = studio.load_hub_style(tiny_pipe, "alice/mine")
        assert torch.equal(loaded.code, mine.code) and loaded.name == "mine"
        with pytest.raises(studio.StudioError, match="alice/nothing"):
            studio.load_hub_style(tiny_pipe, "alice/nothing")


def test_face_protect_and_a_painted_region_reach_the_pipeline(tiny_pipe, portrait):
    from pipeline.faces import detect_faces

    warm = tiny_pipe.styles["warm"]
    plain = np.asarray(studio.stylize(tiny_pipe, portrait, warm).image, dtype=float)
    kept = np.asarray(studio.stylize(tiny_pipe, portrait, warm, face_protect=1.0).image, dtype=float)
    (x, y, w, h), *_ = detect_faces(portrait)
    centre = np.s_[y + h // 3 : y + 2 * h // 3, x + w // 3 : x + 2 * w // 3]
    original = np.asarray(portrait, dtype=float)
    assert np.abs(kept[centre] - original[centre]).mean() < 2 < np.abs(plain[centre] - original[centre]).mean()
    strokes = Image.new("RGBA", portrait.size, (0, 0, 0, 0))
    strokes.paste((255, 255, 255, 255), (0, 0, 100, 100))
    region = studio.stylize(tiny_pipe, portrait, warm, mask=strokes).image
    assert np.abs(np.asarray(region, dtype=float)[300:, 300:] - original[300:, 300:]).mean() < 1


def test_load_region_merges_layers_and_ignores_an_empty_canvas(tmp_path):
    empty, stroke = Image.new("RGBA", (40, 30)), Image.new("RGBA", (40, 30))
    stroke.paste((255, 255, 255, 255), (0, 0, 10, 10))
    empty.save(tmp_path / "empty.png")
    stroke.save(tmp_path / "stroke.png")
    assert studio.load_region([tmp_path / "empty.png"]) is None and studio.load_region([]) is None
    region = studio.load_region([tmp_path / "empty.png", tmp_path / "stroke.png"])
    assert region.getpixel((5, 5)) == (255, 255, 255, 255) and region.getpixel((20, 20))[3] == 0
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="painted region"):
        studio.load_region([tmp_path / "junk.png"])


def test_closeness_says_how_much_closer_the_result_is_in_words():
    metrics = {"input_style_loss": {"a": 1.0, "b": 2.0}, "style_loss": {"a": 0.5, "b": 0.6}}
    assert studio.closeness(metrics) == "60% closer to the style than your photo"
    worse = {"input_style_loss": {"a": 1.0}, "style_loss": {"a": 1.2}}
    assert studio.closeness(worse) == "no closer to the style than your photo"
    assert studio.closeness({}) == "no distance to the style measured"


def test_closeness_reads_the_metrics_table_as_the_page_shows_it(tiny_pipe, portrait):
    result = studio.stylize(tiny_pipe, portrait.resize((64, 64)), tiny_pipe.styles["warm"])
    assert studio.closeness_of_table(result.table) == studio.closeness(result.metrics)
