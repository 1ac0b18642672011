from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def run_cli(*args, weights):
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--weights", str(weights), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


def test_styles_stylize_and_errors(tiny_pipe, portrait, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "w")
    portrait.resize((96, 80)).save(tmp_path / "me.jpg")
    listed = run_cli("styles", weights=tmp_path / "w")
    assert listed.returncode == 0 and listed.stdout.split() == ["cool", "photo", "warm"]
    done = run_cli(
        "stylize",
        str(tmp_path / "me.jpg"),
        "--style",
        "warm:0.5,cool:0.5",
        "-o",
        str(tmp_path / "out"),
        "--metrics-json",
        str(tmp_path / "m.json"),
        weights=tmp_path / "w",
    )
    assert done.returncode == 0, done.stderr
    written = list((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["me_warm0.5+cool0.5.png"]
    assert "me.jpg ->" in done.stdout and "ms)" in done.stdout
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics[0]["style_loss"].keys() == {"relu1_2", "relu2_2", "relu3_3"}

    unknown = run_cli(
        "stylize", str(tmp_path / "me.jpg"), "--style", "nope", "-o", str(tmp_path / "o2"), weights=tmp_path / "w"
    )
    assert unknown.returncode == 2 and "unknown style 'nope'" in unknown.stderr and not (tmp_path / "o2").exists()
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    bad = run_cli(
        "stylize", str(tmp_path / "bad.jpg"), "--style", "warm", "-o", str(tmp_path / "o3"), weights=tmp_path / "w"
    )
    assert bad.returncode == 2 and "bad.jpg" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("styles", weights=tmp_path / "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr


def test_learn_instant_writes_the_zero_shot_style(tiny_pipe, portrait, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "w")
    portrait.resize((96, 96)).save(tmp_path / "sample.png")
    done = run_cli(
        "learn",
        str(tmp_path / "sample.png"),
        "--content",
        str(tmp_path / "sample.png"),
        "--name",
        "now",
        "--out",
        str(tmp_path / "now"),
        "--quality",
        "instant",
        "--size",
        "64",
        weights=tmp_path / "w",
    )
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "now" / "style.json").read_text())
    assert meta["name"] == "now" and meta["quality"] == "instant" and meta["steps"] == 0 and meta["zero_shot_mix"]
    assert "saved" in done.stdout and "zero_shot_style_loss" in done.stdout
    assert "The instant mix: " in done.stdout and "%" in done.stdout
    listed = run_cli(
        "stylize",
        str(tmp_path / "sample.png"),
        "--style",
        str(tmp_path / "now"),
        "-o",
        str(tmp_path / "out"),
        weights=tmp_path / "w",
    )
    assert listed.returncode == 0, listed.stderr


def test_learn_says_which_state_it_kept(tiny_pipe, portrait, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "w")
    portrait.resize((96, 96)).save(tmp_path / "sample.png")
    args = ["learn", str(tmp_path / "sample.png"), "--name", "s", "--out", str(tmp_path / "s"), "--steps", "10"]
    args += ["--size", "64"]
    done = run_cli(*args, weights=tmp_path / "w")
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "s" / "style.json").read_text())
    assert meta["steps"] == 10 and meta["withheld"] == 0 and meta["kept_step"] == 10  # validated at step 10 only
    assert "Kept the last step (10)." in done.stdout and "The instant mix" not in done.stdout
