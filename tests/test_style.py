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
    files = ["README.md", "preview_0.png", "style.json", "style.safetensors"]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == files
    card = (tmp_path / "s" / "README.md").read_text()  # a model card in every saved folder, not only on a push
    assert card.startswith("---\n") and "library_name: personal-style-studio" in card and "# mine" in card
    assert 'PersonalStyle.from_pretrained("path/to/this/folder"' in card
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


def test_a_colour_lut_round_trips_and_mixes_with_identity_for_styles_without_one(tmp_path):
    from pipeline.color import identity_lut

    graded = make_style("graded")
    graded.color_lut = identity_lut(5) ** 2
    graded.save_pretrained(tmp_path / "g")
    back = PersonalStyle.from_pretrained(tmp_path / "g")
    assert (
        torch.equal(back.color_lut, graded.color_lut)
        and json.loads((tmp_path / "g/style.json").read_text())["lut_size"] == 5
    )
    plain = make_style("plain")
    mixed = mix_styles([(back, 1.0), (plain, 3.0)])
    assert torch.allclose(mixed.color_lut, 0.25 * graded.color_lut + 0.75 * identity_lut(5))
    assert mix_styles([(plain, 1.0)]).color_lut is None
    other = make_style("other")
    other.color_lut = identity_lut(9)
    with pytest.raises(StyleError, match="colour LUTs of different sizes"):
        mix_styles([(back, 1.0), (other, 1.0)])


@pytest.mark.parametrize(
    "lut, message",
    [
        (torch.rand(3, 4, 4), "'color_lut' must have 4 dimension"),
        (torch.rand(3, 4, 4, 5), r"shape \(3, n, n, n\)"),
        (torch.rand(3, 1, 1, 1), r"n in \[2, 65\]"),
        (torch.full((3, 3, 3, 3), float("nan")), "NaN or infinite"),
    ],
)
def test_bad_colour_luts_are_refused(lut, message):
    with pytest.raises(StyleError, match=message):
        PersonalStyle("x", torch.zeros(8), color_lut=lut)


def test_a_lut_whose_size_disagrees_with_style_json_is_refused(tmp_path):
    from pipeline.color import identity_lut

    style = make_style()
    style.color_lut = identity_lut(5)
    style.save_pretrained(tmp_path / "s")
    config = json.loads((tmp_path / "s/style.json").read_text())
    (tmp_path / "s/style.json").write_text(json.dumps({**config, "lut_size": 9}))
    with pytest.raises(StyleError, match="lut_size=9"):
        PersonalStyle.from_pretrained(tmp_path / "s")
