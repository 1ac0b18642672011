from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from pipeline.style import PersonalStyle, StyleError, mix_styles


def make_style(name: str = "mine", dim: int = 8, adapter: int | None = 6) -> PersonalStyle:
    g = torch.Generator().manual_seed(0)
    return PersonalStyle(
        name,
        torch.randn(dim, generator=g),
        None if adapter is None else torch.randn(adapter, generator=g),
        {"relu1_2": torch.rand(4, 4, generator=g)},
        {"source": "learned", "history": [{"step": 1, "style": 0.5}]},
        [Image.new("RGB", (16, 16), (10, 20, 30))],
    )


def test_round_trip(tmp_path):
    style = make_style()
    style.save_pretrained(tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["preview_0.png", "style.json", "style.safetensors"]
    back = PersonalStyle.from_pretrained(tmp_path / "s")
    assert back.name == "mine" and torch.equal(back.code, style.code) and torch.equal(back.norm_delta, style.norm_delta)
    assert torch.allclose(back.gram["relu1_2"], style.gram["relu1_2"], atol=1e-3)  # stored fp16
    assert back.metadata["history"] == [{"step": 1, "style": 0.5}]
    assert np.array_equal(np.asarray(back.previews[0]), np.asarray(style.previews[0]))


def test_overwrite_is_atomic_and_leaves_no_temporaries(tmp_path):
    make_style("first").save_pretrained(tmp_path / "s")
    make_style("second", adapter=None).save_pretrained(tmp_path / "s")
    assert PersonalStyle.from_pretrained(tmp_path / "s").name == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_overwrite_killed_between_its_renames_is_recovered(tmp_path):
    make_style("previous").save_pretrained(tmp_path / "s")
    (tmp_path / "s").rename(tmp_path / ".s.old")  # what a kill right after the first rename leaves
    assert PersonalStyle.from_pretrained(tmp_path / "s").name == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_failed_save_keeps_the_old_style(tmp_path):
    make_style("keep").save_pretrained(tmp_path / "s")
    bad = make_style("bad")
    bad.metadata["oops"] = object()  # not JSON-serialisable: the save fails midway
    with pytest.raises(TypeError):
        bad.save_pretrained(tmp_path / "s")
    assert PersonalStyle.from_pretrained(tmp_path / "s").name == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def corrupt(path, what):
    if what == "json":
        (path / "style.json").write_text("{not json")
    elif what == "format":
        (path / "style.json").write_text(json.dumps({"format": "other", "version": 1}))
    elif what == "pickle":
        (path / "style.safetensors").write_bytes(b"\x80\x04\x95pickle-in-disguise" * 10)
    elif what == "shape":
        save_file({"code": torch.zeros(5)}, str(path / "style.safetensors"))
    elif what == "nan":
        save_file(
            {"code": torch.full((8,), float("nan")), "norm_delta": torch.zeros(6)}, str(path / "style.safetensors")
        )
    elif what == "missing":
        (path / "style.safetensors").unlink()


@pytest.mark.parametrize(
    "what, message",
    [
        ("json", "style.json: not valid JSON"),
        ("format", "'format' must be"),
        ("pickle", "not a readable safetensors"),
        ("shape", "code_dim=8"),
        ("nan", "NaN"),
        ("missing", "style.safetensors: missing"),
    ],
)
def test_bad_style_files_name_the_problem(tmp_path, what, message):
    make_style().save_pretrained(tmp_path / "s")
    corrupt(tmp_path / "s", what)
    with pytest.raises(StyleError, match=message):
        PersonalStyle.from_pretrained(tmp_path / "s")


def test_mix_normalises_weights_and_fills_missing_adapters():
    a, b = make_style("a"), make_style("b", adapter=None)
    b.code = torch.zeros(8)
    mixed = mix_styles([(a, 1.0), (b, 3.0)])
    assert torch.allclose(mixed.code, 0.25 * a.code)
    assert torch.allclose(mixed.norm_delta, 0.25 * a.norm_delta)
    with pytest.raises(StyleError, match="different code sizes"):
        mix_styles([(a, 1.0), (make_style("c", dim=4), 1.0)])
    with pytest.raises(StyleError, match="not all zero"):
        mix_styles([(a, 0.0)])
