"""Style archives (``pipeline/style_archive.py``): a round trip, and hostile zips refused with nothing written."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
import torch

from pipeline.color import identity_lut
from pipeline.style import PersonalStyle, StyleError
from pipeline.style_archive import read_style_archive, write_style_archive


@pytest.fixture
def style() -> PersonalStyle:
    g = torch.Generator().manual_seed(0)
    return PersonalStyle(
        "mine",
        torch.randn(8, generator=g),
        gram={"relu1_2": torch.rand(4, 4, generator=g)},
        metadata={"source": "learned"},
        color_lut=identity_lut(5) ** 2,
    )


def real_files(style: PersonalStyle, tmp_path) -> dict[str, bytes]:
    folder = style.save_pretrained(tmp_path / "real")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def make_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_round_trip_keeps_code_lut_and_name(style, tmp_path):
    path = write_style_archive(style, tmp_path / "out" / "mine.zip")
    names = sorted(zipfile.ZipFile(path).namelist())
    assert names == ["README.md", "style.json", "style.safetensors"]
    back = read_style_archive(path, tmp_path / "into")
    assert back.name == "mine" and torch.equal(back.code, style.code) and torch.equal(back.color_lut, style.color_lut)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.zip"]  # no temporaries left


def test_files_inside_one_folder_are_accepted(style, tmp_path):
    files = real_files(style, tmp_path)
    make_zip(tmp_path / "a.zip", {f"mine/{name}": data for name, data in files.items()})
    assert read_style_archive(tmp_path / "a.zip", tmp_path / "into").name == "mine"


def central_size_patched(data: bytes, size: int) -> bytes:
    """The zip bytes with every central-directory entry's uncompressed size claiming ``size``."""
    out, start = bytearray(data), 0
    while (at := out.find(b"PK\x01\x02", start)) >= 0:
        out[at + 24 : at + 28] = struct.pack("<I", size)
        start = at + 4
    return bytes(out)


@pytest.mark.parametrize(
    "case, message",
    [
        ("traversal", r"refused the path '\.\./style\.json'"),
        ("absolute", "refused the path '/etc/style.json'"),
        ("extra file", "unexpected file 'model.pkl'"),
        ("pickle as weights", "not a readable safetensors file"),
        ("missing weights", "no style.safetensors"),
        ("claims 1 GB", "claims 1073741824 bytes"),
        ("too many files", "at most 12"),
        ("two folders", "more than one folder"),
        ("link", "a link"),
        ("not a zip", "not a readable .zip file"),
        ("bad json", "not valid JSON"),
    ],
)
def test_hostile_archives_are_refused_and_leave_nothing(style, tmp_path, case, message):
    files = real_files(style, tmp_path)
    path = tmp_path / "hostile.zip"
    if case == "traversal":
        make_zip(path, {"style.safetensors": files["style.safetensors"], "../style.json": files["style.json"]})
    elif case == "absolute":
        make_zip(path, {"style.safetensors": files["style.safetensors"], "/etc/style.json": files["style.json"]})
    elif case == "extra file":
        make_zip(path, {**files, "model.pkl": b"\x80\x04K\x01."})
    elif case == "pickle as weights":
        make_zip(path, {**files, "style.safetensors": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01."})
    elif case == "missing weights":
        make_zip(path, {"style.json": files["style.json"]})
    elif case == "claims 1 GB":
        buffer = io.BytesIO()
        make_zip(buffer, files)
        path.write_bytes(central_size_patched(buffer.getvalue(), 2**30))
    elif case == "too many files":
        make_zip(path, {**files, **{f"preview_{i}.png": b"x" for i in range(12)}})
    elif case == "two folders":
        make_zip(path, {"a/style.safetensors": files["style.safetensors"], "b/style.json": files["style.json"]})
    elif case == "link":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
            link = zipfile.ZipInfo("preview_0.png")
            link.external_attr = (0o120777 << 16) | 0
            archive.writestr(link, "/etc/passwd")
    elif case == "not a zip":
        path.write_bytes(b"PK\x03\x04 this is not really a zip")
    elif case == "bad json":
        make_zip(path, {**files, "style.json": b"{not json"})
    into = tmp_path / "into"
    with pytest.raises(StyleError, match=message):
        read_style_archive(path, into)
    assert not into.exists() or list(into.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["real", "hostile.zip", *(["into"] if into.exists() else [])]
    )
