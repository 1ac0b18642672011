"""The launched app over loopback, driven by ``gradio_client`` as a remote user would (after gradio's own tests)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from conftest import ROOT
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from hub_server import FakeHub, User
from PIL import Image
from test_hub import use_endpoint

import app
import studio
from pipeline import PersonalStyle
from studio.ui.texts import EMPTY_LEARN_STATUS, learn_status

ASTRONAUT = ROOT / "assets" / "examples" / "astronaut.jpg"
HOPPER = ROOT / "assets" / "examples" / "grace_hopper.jpg"
TOKEN = "hf_appWRITE0123456789abcdefghijKLMNOPQ"


@pytest.fixture
def server(served) -> str:
    return served.local_url


def client(url: str) -> Client:
    """A new visitor: each client is its own Gradio session."""
    return Client(url, verbose=False, download_files=False)


def stylize(c: Client, image: Path, style: str, **kwargs) -> tuple:
    args = dict(mix_with="", mix_ratio=0.5, strength=1.0, preserve_color=False, face_protect=0.0, region=None) | kwargs
    return c.predict(handle_file(str(image)), style, *args.values(), api_name="/stylize")


def learn(c: Client, name: str = "mine", quality: str = "fast", steps: int = 2) -> tuple:
    samples, content = [handle_file(str(HOPPER))], [handle_file(str(ASTRONAUT))]
    return c.predict(samples, content, None, None, name, quality, steps, 64, 0, None, api_name="/learn")


def test_stylize_with_a_built_in_style_returns_image_and_metrics(server):
    image, table, chart = stylize(client(server), ASTRONAUT, "warm", strength=0.7, preserve_color=True)
    assert Image.open(image["path"]).size == Image.open(ASTRONAUT).size
    assert table["headers"] == ["measure", "input", "output"] and len(table["data"]) == 4
    assert [row[0] for row in table["data"]][-1] == "change from your photo (relu2_2 content)"
    assert all(isinstance(v, float) and v >= 0 for row in table["data"] for v in row[1:])
    assert len(chart["data"]) == 6 and chart["mark"] == "bar"


def test_painted_region_limits_the_style_to_it(server, tmp_path):
    size = Image.open(ASTRONAUT).size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), (0, 0, size[0] // 2, size[1]))  # paint the left half
    layer.save(tmp_path / "layer.png")
    region = {
        "background": handle_file(str(ASTRONAUT)),
        "layers": [handle_file(str(tmp_path / "layer.png"))],
        "composite": None,
        "id": None,
    }
    c = client(server)
    painted = np.asarray(Image.open(stylize(c, ASTRONAUT, "warm", region=region)[0]["path"]), dtype=float)
    plain = np.asarray(Image.open(stylize(c, ASTRONAUT, "warm")[0]["path"]), dtype=float)
    original = np.asarray(Image.open(ASTRONAUT).convert("RGB"), dtype=float)
    half = size[0] // 2
    assert np.abs(painted[:, half + 8 :] - original[:, half + 8 :]).mean() < 3  # unpainted: the input (JPEG noise)
    assert np.abs(painted[:, : half - 8] - plain[:, : half - 8]).mean() < 1  # painted: the plain stylised output
    assert np.abs(plain - original).mean() > 10


@pytest.mark.parametrize(
    "content, reason",
    [(b"GIF89a but not really a picture", "not a readable image"), (ASTRONAUT.read_bytes()[:4000], "truncated")],
    ids=["not-an-image", "truncated-jpeg"],
)
def test_bad_upload_gives_a_readable_error(server, tmp_path, content, reason):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(content)
    with pytest.raises(AppError) as info:
        stylize(client(server), bad, "warm")
    message = str(info.value)
    assert "holiday.jpg" in message and reason in message
    assert "Traceback" not in message and "/tmp/" not in message and str(tmp_path) not in message


def test_missing_selfie_and_unknown_style_are_readable_errors(server):
    c = client(server)
    with pytest.raises(AppError, match="upload a selfie first"):
        c.predict(None, "warm", "", 0.5, 1.0, False, 0.0, None, api_name="/stylize")
    with pytest.raises(AppError, match="unknown style 'nope'"):
        stylize(c, ASTRONAUT, "nope")


def test_learn_on_tiny_settings_then_stylize_with_it_in_that_session_only(server):
    me, someone_else = client(server), client(server)
    preview, status, losses, table, *_, chart, instant = learn(me)
    assert Image.open(preview["path"]).size == (320, 320)  # the learned look on the (shrunk) selfie given
    assert instant["visible"] and Image.open(instant["value"]["path"]).size == (320, 320)  # the instant mix beside it
    assert "**mine**: done after 2/2 steps" in status and "kept beside it as **mine-instant**" in status
    assert {row[1] for row in losses["data"]} == {"your samples"}  # one sample: validated on its own targets
    assert table["headers"] == ["measure", "input", "zero-shot", "learned"] and len(chart["data"]) == 9
    _, metrics, _ = stylize(me, ASTRONAUT, "mine")
    assert len(metrics["data"]) == 4
    learned_image, _, _ = stylize(me, ASTRONAUT, "mine")
    instant_image, _, _ = stylize(me, ASTRONAUT, "mine-instant")  # the visitor can keep either
    assert Image.open(learned_image["path"]).tobytes() != Image.open(instant_image["path"]).tobytes()
    with pytest.raises(AppError, match="unknown style 'mine'"):
        stylize(someone_else, ASTRONAUT, "mine")
    with pytest.raises(AppError, match="is a built-in style"):
        learn(me, name="warm")


def test_instant_quality_keeps_the_preview_mix_as_a_session_style(server):
    me = client(server)
    _, status, losses, table, *_ = learn(me, name="now", quality="instant", steps=0)
    assert "**now**: instant mix of built-in looks (" in status and "%" in status
    assert losses["data"] == []  # step 0 only: no loss curve to draw
    zero_shot, learned = ([row[i] for row in table["data"]] for i in (2, 3))
    assert zero_shot == learned  # no steps: the learned style is the zero-shot start
    _, metrics, _ = stylize(me, ASTRONAUT, "now")
    assert len(metrics["data"]) == 4


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        ({"kept_step": 0, "withheld": 1}, "Learning did not produce a usable step, so you get the instant mix."),
        ({"kept_step": 40, "withheld": 1}, "Kept step 40, the best on the withheld sample."),
        ({"kept_step": 40, "withheld": 2}, "Kept step 40, the best on the 2 withheld samples."),
        ({"kept_step": 60, "withheld": 1}, "done after 60/60 steps in 35 s. Selected"),
    ],
)
def test_learn_status_says_which_state_was_kept(meta, said):
    style = PersonalStyle("mine", torch.zeros(8), metadata={"history": [], **meta})
    assert said in learn_status(studio.LearnUpdate(60, 60, {}, None, 35.0, style=style))


def test_instant_preview_from_the_samples_names_its_mix_and_shows_the_samples(server):
    samples = [handle_file(str(HOPPER)), handle_file(str(ASTRONAUT))]
    preview, status, thumbs = client(server).predict(samples, None, None, api_name="/preview")
    assert Image.open(preview["path"]).size == Image.open(ASTRONAUT).size  # shown on the sample portrait
    assert status.startswith("Preview from your 2 samples: the closest mix of built-in looks (") and "%" in status
    assert thumbs["visible"] is True
    sizes = [Image.open(thumb["image"]["path"]).size for thumb in thumbs["value"]]  # small copies, in upload order
    aspects = [w / h for w, h in (Image.open(path).size for path in (HOPPER, ASTRONAUT))]
    assert [max(size) for size in sizes] == [studio.THUMB_SIDE] * 2
    assert [w / h for w, h in sizes] == [pytest.approx(a, rel=0.02) for a in aspects]
    preview, status, thumbs = client(server).predict(None, None, None, api_name="/preview")  # all removed
    assert (preview, status, thumbs["value"], thumbs["visible"]) == (None, EMPTY_LEARN_STATUS, [], False)


def test_push_with_a_token_then_another_visitor_loads_it_by_repo_id(server, monkeypatch, tmp_path):
    with FakeHub({TOKEN: User("alice")}) as hub:
        use_endpoint(monkeypatch, hub.url, tmp_path / "hf")
        me, visitor = client(server), client(server)
        with pytest.raises(AppError, match="not in the list of choices"):  # nothing learned in this session yet
            me.predict("mine", "alice/mine", False, TOKEN, api_name="/push")
        learn(me)
        with pytest.raises(AppError, match="sign in with Hugging Face, or paste a write token"):
            me.predict("mine", "alice/mine", False, "", api_name="/push")
        message = me.predict("mine", "alice/mine", False, TOKEN, api_name="/push")
        assert "alice/mine" in message and TOKEN not in message and "alice/mine" in hub.repos
        *_, loaded_message = visitor.predict("alice/mine", api_name="/load_style")
        assert "Loaded **mine**" in loaded_message
        _, metrics, _ = stylize(visitor, ASTRONAUT, "mine")
        assert len(metrics["data"]) == 4
        with pytest.raises(AppError, match="not a Hub repo id"):
            visitor.predict("../../etc", api_name="/load_style")


def test_queue_limits_and_upload_size_limit(served):
    limits = {fn.api_name: (fn.concurrency_limit, fn.concurrency_id) for fn in served.fns.values()}
    assert limits["stylize"][0] == limits["preview"][0] == app.STYLIZE_CONCURRENCY
    assert limits["stylize"][1] == limits["preview"][1] != limits["learn"][1] and limits["learn"][0] == 1
    assert served.max_file_size == 10 * 1024 * 1024
    huge = b"\xff\xd8" + b"\0" * (11 * 1024 * 1024)  # posted directly: gradio_client would refuse it itself
    answer = httpx.post(f"{served.local_url}gradio_api/upload", files={"files": ("huge.jpg", huge)}, timeout=60)
    assert answer.status_code == 413 and "maximum" in answer.text


def test_stop_ends_learning_early_and_keeps_the_best_so_far(server):
    me = client(server)
    samples, content = [handle_file(str(HOPPER))], [handle_file(str(ASTRONAUT))]
    job = me.submit(samples, content, None, None, "quick", "fast", 500, 64, 0, None, api_name="/learn")
    for _ in job:  # the first progress update: the loop is running
        me.predict(api_name="/stop")
        break
    status = job.result(timeout=120)[1]
    assert "**quick**: stopped early; kept the best so far" in status
    assert int(status.split(" after ")[1].split("/")[0]) < 500
    _, metrics, _ = stylize(me, ASTRONAUT, "quick")
    assert len(metrics["data"]) == 4


def test_download_a_learned_style_then_upload_it_in_a_new_session(server, tmp_path):
    me = client(server)
    learn(me, name="kept", quality="instant", steps=0)
    archive = me.predict("kept", api_name="/download_style")
    path = archive if isinstance(archive, str) else archive["path"]
    assert Path(path).name == "kept.zip" and Path(path).stat().st_size > 0
    later = client(server)  # the tab was closed: a fresh session that never learned it
    with pytest.raises(AppError, match="unknown style 'kept'"):
        stylize(later, ASTRONAUT, "kept")
    *_, message = later.predict(handle_file(path), api_name="/upload_style")
    assert "Loaded **kept**" in message
    image, metrics, _ = stylize(later, ASTRONAUT, "kept")
    mine, _, _ = stylize(me, ASTRONAUT, "kept")
    assert Image.open(image["path"]).tobytes() == Image.open(mine["path"]).tobytes()
    with pytest.raises(AppError, match="warm"):  # only the session's own styles can be downloaded
        later.predict("warm", api_name="/download_style")


@pytest.mark.parametrize(
    "case, message",
    [
        ("traversal", r"refused the path '\.\./\.\./escaped\.txt'"),
        ("claims 1 GB", "claims 1073741824 bytes"),
        ("extra file", "unexpected file 'model.pkl'"),
        ("pickle as weights", "not a readable safetensors file"),
    ],
)
def test_a_hostile_style_zip_is_refused_and_writes_nothing_outside_the_session(served, tmp_path, case, message):
    import io

    from test_style_archive import central_size_patched, make_zip

    real = tmp_path / "real"
    PersonalStyle("fine", torch.zeros(8)).save_pretrained(real)
    files = {p.name: p.read_bytes() for p in real.iterdir() if p.name != "README.md"}
    path = tmp_path / "evil.zip"
    if case == "traversal":
        make_zip(path, {**files, "../../escaped.txt": b"owned"})
    elif case == "claims 1 GB":
        buffer = io.BytesIO()
        make_zip(buffer, files)
        path.write_bytes(central_size_patched(buffer.getvalue(), 2**30))
    elif case == "extra file":
        make_zip(path, {**files, "model.pkl": b"\x80\x04K\x01."})
    else:
        make_zip(path, {**files, "style.safetensors": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01."})
    sessions = Path(served.GRADIO_CACHE) / "sessions"
    before = {p for p in Path(served.GRADIO_CACHE).rglob("*")}
    with pytest.raises(AppError, match=message):
        client(served.local_url).predict(handle_file(str(path)), api_name="/upload_style")
    created = {p for p in Path(served.GRADIO_CACHE).rglob("*")} - before
    assert all(sessions in p.parents or p.parent == sessions or "evil" in p.name or p.is_dir() for p in created), (
        created
    )
    assert not any(p.name in ("escaped.txt", "model.pkl") for p in Path(served.GRADIO_CACHE).rglob("*"))
    assert not (Path(served.GRADIO_CACHE).parent / "escaped.txt").exists()


def test_an_expected_error_is_one_log_line_and_no_traceback(server, tmp_path, caplog, capfd):
    import logging

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a picture")
    with caplog.at_level(logging.INFO, logger="personal_style_studio"):
        with pytest.raises(AppError, match="not a readable image"):
            stylize(client(server), bad, "warm")
    records = [r for r in caplog.records if r.name == "personal_style_studio"]
    assert [r.levelname for r in records] == ["INFO"] and "\n" not in records[0].getMessage()
    assert records[0].getMessage().startswith("refused in stylize: ")
    assert "Traceback" not in capfd.readouterr().err


def test_learning_progress_is_in_words_with_a_time_left_from_the_steps_pace():
    first = studio.LearnUpdate(1, 21, {"style": 19.6}, None, 20.0, pace_from=(1, 20.0))  # setup made step 1 slow
    assert learn_status(first) == "Learning your look: step 1 of 21, estimating the time left."
    later = studio.LearnUpdate(11, 21, {"style": 9.1}, None, 30.0, pace_from=(1, 20.0))
    assert later.eta == 10.0  # 1 s a step since step 1, not 30/11 s
    assert learn_status(later) == "Learning your look: step 11 of 21, about 10 s left."


def test_a_second_visitor_who_asks_to_learn_hears_that_another_run_holds_the_slot(tiny_pipe, tmp_path):
    from types import SimpleNamespace

    from studio.ui.handlers import Handlers

    handlers = Handlers(tiny_pipe, Image.new("RGB", (64, 64)), studio.SessionFiles(tmp_path))
    me = SimpleNamespace(session_hash="me")
    assert handlers.arm_stop(me) == gr_skip()  # nobody else is learning: the status stays as it is
    handlers.learning["other"] = None  # their run is still setting up
    assert handlers.arm_stop(me).startswith("Another visitor is learning a style right now. Yours starts when theirs")
    handlers.learning["other"] = studio.LearnUpdate(11, 21, {}, None, 30.0, pace_from=(1, 20.0))
    assert "in about 10 s" in handlers.arm_stop(me)
    handlers.learning = {"me": None}
    assert handlers.arm_stop(me) == gr_skip()  # one's own run does not make one wait


def gr_skip():
    import gradio as gr

    return gr.skip()
