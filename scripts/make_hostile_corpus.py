"""Generate the hostile input corpus: broken, odd and malicious images and style folders, with a manifest.

    python -m scripts.make_hostile_corpus OUT_DIR

Everything is generated here from a seeded picture (nothing hand-picked). ``OUT_DIR/manifest.json`` lists each case:

    {"name": ..., "kind": "image" | "style", "path": relative path, "expect": "error" | "ok", "why": what it is}

``expect`` is the outcome class on every surface (Python API, CLI, the running app): "ok" means a correct result
(an RGB image of the input's size; the app shrinks to 1024 px first), "error" a clear error naming the input
(``ImageError``/``StyleError``, exit code 2, a ``gr.Error`` message), never a traceback or a crash. Style cases are
judged with a pipeline whose generator takes an 8-value code (the tests' tiny one).
``tests/test_reliability.py`` runs every case through all three surfaces.
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

CODE_DIM = 8  # the tests' tiny pipeline; style cases that should load use it
Case = dict[str, str]


# --- helpers ---------------------------------------------------------------------------------------------------
def picture(size: tuple[int, int] = (96, 64), seed: int = 0, noise: float = 20.0) -> Image.Image:
    """A seeded RGB picture: a smooth gradient plus noise (compresses like a photo, not like a flat colour)."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / max(w - 1, 1), y / max(h - 1, 1), 0.5 + 0.5 * np.sin((x + y) / 7.0)], axis=-1) * 200
    return Image.fromarray(np.clip(base + rng.normal(0, noise, (h, w, 3)) + 20, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit RGB) followed by a tiny IDAT: a bomb by header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_zero_bomb(width: int, height: int) -> bytes:
    """A genuine bilevel PNG of ``width`` x ``height`` all-black pixels, compressed row by row (a few KB on disk)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def flip_crc(png: bytes) -> bytes:
    """The same PNG with the IHDR checksum broken."""
    data = bytearray(png)
    data[29] ^= 0xFF  # IHDR CRC: 8 signature + 4 length + 4 type + 13 data
    return bytes(data)


def jpeg_zero_size(jpeg: bytes) -> bytes:
    """A JPEG whose start-of-frame claims 0 x 0 pixels."""
    data = bytearray(jpeg)
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\0\0\0\0"
    return bytes(data)


def big_exif(fill: int = 60_000) -> Image.Exif:
    """EXIF near the JPEG segment limit (64 KB): a long description, a bogus orientation, an odd maker note."""
    exif = Image.Exif()
    exif[0x010E] = "x" * fill  # ImageDescription
    exif[0x0112] = 9  # Orientation: not one of 1-8
    exif[0x927C] = b"\xff" * 512  # MakerNote
    return exif


# --- images ----------------------------------------------------------------------------------------------------
def image_cases() -> list[tuple[str, str, bytes, str, str]]:
    """(name, file name, content, expect, why)."""
    photo = picture()
    jpeg, png, webp = encode(photo, "JPEG", quality=90), encode(photo, "PNG"), encode(photo, "WEBP", quality=80)
    rng = np.random.default_rng(1)
    cmyk = encode(photo.convert("CMYK"), "JPEG", quality=90)
    deep = Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    frames = [picture(seed=s) for s in range(3)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray((rng.random((64, 96)) * 255).astype(np.uint8)))
    huge_text = photo.copy()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("comment", "A" * 3_000_000, zip=True)  # 3 MB of text, 3 KB compressed: a zTXt bomb
    ok, error = "ok", "error"
    return [
        ("jpeg", "photo.jpg", jpeg, ok, "a plain JPEG (the control case)"),
        ("png", "photo.png", png, ok, "a plain PNG"),
        ("webp", "photo.webp", webp, ok, "a plain WebP"),
        ("truncated-jpeg", "truncated.jpg", jpeg[: len(jpeg) // 2], error, "JPEG cut in half"),
        ("truncated-png", "truncated.png", png[: len(png) // 2], error, "PNG cut in half"),
        ("truncated-webp", "truncated.webp", webp[: len(webp) // 2], error, "WebP cut in half"),
        ("header-only-jpeg", "header.jpg", jpeg[:200], error, "JPEG headers with no scan data"),
        ("corrupt-png-crc", "bad_crc.png", flip_crc(png), error, "PNG with a broken IHDR checksum"),
        ("corrupt-jpeg-sof", "zero_size.jpg", jpeg_zero_size(jpeg), error, "JPEG frame header claiming 0x0"),
        (
            "corrupt-webp-chunk",
            "bad_chunk.webp",
            webp[:12] + b"VP8 " + b"\xff" * 4 + webp[20:],
            error,
            "WebP with a nonsense VP8 chunk size",
        ),
        ("garbage-jpeg-body", "garbage.jpg", jpeg[:20] + rng.bytes(4000), error, "JPEG magic then random bytes"),
        ("zero-bytes-jpg", "empty.jpg", b"", error, "empty file named .jpg"),
        ("zero-bytes-png", "empty.png", b"", error, "empty file named .png"),
        ("text-as-jpg", "notes.jpg", b"Dear diary,\nthis is not a picture.\n" * 20, error, "text renamed .jpg"),
        ("html-as-png", "page.png", b"<!doctype html><script>alert(1)</script>", error, "HTML renamed .png"),
        (
            "pdf-as-jpg",
            "scan.jpg",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
            error,
            "PDF renamed .jpg",
        ),
        ("zip-as-jpg", "archive.jpg", _zip_bytes(), error, "ZIP archive renamed .jpg"),
        ("pickle-as-png", "model.png", pickle.dumps({"weights": list(range(100))}), error, "pickle renamed .png"),
        (
            "svg-as-jpg",
            "vector.jpg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>',
            error,
            "SVG renamed .jpg (not a raster format we read)",
        ),
        (
            "bomb-header",
            "bomb_header.png",
            png_header_only(100_000, 100_000),
            error,
            "PNG header claiming 100000x100000 (10 GP)",
        ),
        (
            "bomb-real",
            "bomb_real.png",
            png_zero_bomb(12_000, 12_000),
            error,
            "a genuine 12000x12000 (144 MP) PNG of a few KB",
        ),
        (
            "ztxt-bomb",
            "huge_text.png",
            encode(huge_text, "PNG", pnginfo=info),
            error,
            "PNG with a 3 MB text chunk in 3 KB (Pillow refuses text over 1 MB)",
        ),
        ("one-pixel", "dot.png", encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), error, "1x1 image"),
        (
            "wide-strip",
            "strip.png",
            encode(picture((20_000, 20), noise=0), "PNG"),
            error,
            "20000x20 strip (1000:1; more than 64:1 is refused)",
        ),
        ("tall-strip", "tall.png", encode(picture((20, 2000), noise=0), "PNG"), error, "20x2000 strip (100:1)"),
        (
            "long-strip-ok",
            "banner.png",
            encode(picture((1000, 20), noise=0), "PNG"),
            ok,
            "1000x20 banner (50:1, under the limit)",
        ),
        ("cmyk-jpeg", "cmyk.jpg", cmyk, ok, "CMYK JPEG"),
        ("sixteen-bit-png", "deep.png", encode(deep, "PNG"), ok, "16-bit greyscale PNG"),
        (
            "palette-transparency",
            "palette.png",
            encode(palette, "PNG", transparency=0),
            ok,
            "palette PNG with a transparent index",
        ),
        ("rgba-webp", "alpha.webp", encode(rgba, "WEBP", lossless=True), ok, "WebP with an alpha channel"),
        ("animated-gif", "animated.gif", animated.getvalue(), ok, "3-frame animated GIF (first frame used)"),
        (
            "huge-exif",
            "exif.jpg",
            encode(photo, "JPEG", quality=90, exif=big_exif()),
            ok,
            "JPEG with 60 KB of EXIF and an invalid orientation",
        ),
        (
            "broken-icc",
            "icc.jpg",
            encode(photo, "JPEG", quality=90, icc_profile=b"not an ICC profile" * 8),
            ok,
            "JPEG with a garbage ICC profile",
        ),
        ("png-as-jpg", "really_png.jpg", png, ok, "PNG named .jpg"),
        ("jpeg-as-webp", "really_jpeg.webp", jpeg, ok, "JPEG named .webp"),
        ("webp-as-png", "really_webp.png", webp, ok, "WebP named .png"),
        ("png-as-txt", "really_png.txt", png, ok, "PNG named .txt"),
        (
            "tiff-float",
            "float.tif",
            encode(Image.fromarray(np.asarray(photo.convert("L"), np.float32) / 255), "TIFF"),
            ok,
            "32-bit float TIFF",
        ),
    ]


def _zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not inside")
    return buffer.getvalue()


# --- style folders ---------------------------------------------------------------------------------------------
def good_style_files(code_dim: int = CODE_DIM) -> dict[str, bytes]:
    """The two files of a valid style for the tiny pipeline (code only, one Gram target)."""
    g = torch.Generator().manual_seed(0)
    tensors = {"code": torch.randn(code_dim, generator=g), "gram.relu1_2": torch.rand(64, 64, generator=g).half()}
    config = {
        "format": "personal-style",
        "version": 1,
        "name": "fine",
        "code_dim": code_dim,
        "norm_params": None,
        "taps": ["relu1_2"],
        "previews": [],
    }
    return {"style.safetensors": _safetensors(tensors), "style.json": json.dumps(config).encode()}


def _safetensors(tensors: dict[str, torch.Tensor]) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        save_file(tensors, f"{tmp}/t.safetensors")
        return Path(f"{tmp}/t.safetensors").read_bytes()


def style_cases() -> list[tuple[str, dict[str, bytes], str, str]]:
    """(name, files, expect, why); ``files`` replace or extend a valid style's (an empty value deletes)."""
    good = good_style_files()
    config = json.loads(good["style.json"])
    code = {"gram.relu1_2": torch.rand(64, 64).half()}

    def cfg(**changes) -> bytes:
        return json.dumps({**config, **changes}).encode()

    def tensors(**values) -> bytes:
        return _safetensors({**code, **values})

    bogus_header = struct.pack("<Q", 2**60) + b"{}"
    return [
        ("style-ok", {}, "ok", "a valid style (the control case)"),
        ("style-bad-json", {"style.json": b'{"format": "personal-style", "version": 1,'}, "error", "truncated JSON"),
        ("style-json-list", {"style.json": b"[1, 2, 3]"}, "error", "JSON that is a list, not an object"),
        (
            "style-json-deep",
            {"style.json": b"[" * 200_000 + b"]" * 200_000},
            "error",
            "JSON nested 200000 deep (recursion)",
        ),
        ("style-json-binary", {"style.json": b"\xff\xfe\x00garbage"}, "error", "binary, not UTF-8"),
        ("style-wrong-format", {"style.json": cfg(format="other")}, "error", "'format' is not personal-style"),
        ("style-wrong-version", {"style.json": cfg(version=99)}, "error", "unsupported version"),
        ("style-code-dim-mismatch", {"style.json": cfg(code_dim=16)}, "error", "style.json says 16, tensor has 8"),
        ("style-code-2d", {"style.safetensors": tensors(code=torch.zeros(2, 4))}, "error", "code is 2-D"),
        (
            "style-code-short",
            {"style.safetensors": tensors(code=torch.zeros(5)), "style.json": cfg(code_dim=5)},
            "error",
            "consistent files, but a 5-value code for an 8-value generator",
        ),
        (
            "style-nan-code",
            {"style.safetensors": tensors(code=torch.full((CODE_DIM,), float("nan")))},
            "error",
            "NaN code",
        ),
        (
            "style-inf-adapter",
            {
                "style.safetensors": tensors(code=torch.zeros(CODE_DIM), norm_delta=torch.full((6,), float("inf"))),
                "style.json": cfg(norm_params=6),
            },
            "error",
            "infinite adapter values",
        ),
        (
            "style-gram-1d",
            {"style.safetensors": _safetensors({"code": torch.zeros(CODE_DIM), "gram.relu1_2": torch.zeros(64)})},
            "error",
            "1-D Gram target",
        ),
        ("style-no-code", {"style.safetensors": _safetensors({"other": torch.zeros(3)})}, "error", "no 'code' tensor"),
        (
            "style-pickle",
            {"style.safetensors": pickle.dumps({"code": [0.0] * CODE_DIM}, protocol=4)},
            "error",
            "a pickle disguised as safetensors",
        ),
        (
            "style-torch-save",
            {"style.safetensors": _torch_save_bytes()},
            "error",
            "a torch.save zip disguised as safetensors",
        ),
        ("style-bogus-header", {"style.safetensors": bogus_header}, "error", "safetensors header length 2^60"),
        (
            "style-truncated-weights",
            {"style.safetensors": good["style.safetensors"][:40]},
            "error",
            "safetensors cut short",
        ),
        ("style-empty-weights", {"style.safetensors": b""}, "error", "zero-byte safetensors"),
        ("style-missing-json", {"style.json": None}, "error", "style.json missing"),
        ("style-missing-weights", {"style.safetensors": None}, "error", "style.safetensors missing"),
        (
            "style-bad-previews",
            {"style.json": cfg(previews=[1, None, {"a": 2}])},
            "error",
            "previews that are not names",
        ),
        (
            "style-corrupt-preview",
            {"style.json": cfg(previews=["preview_0.png"]), "preview_0.png": b"\x89PNG broken"},
            "error",
            "a corrupt preview image",
        ),
        (
            "style-preview-traversal",
            {"style.json": cfg(previews=["../../../../etc/passwd"])},
            "ok",
            "a preview path escaping the folder (ignored: only names inside the folder are read)",
        ),
    ]


def _torch_save_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"code": torch.zeros(CODE_DIM)}, buffer)
    return buffer.getvalue()


# --- writing ---------------------------------------------------------------------------------------------------
def write_corpus(out: Path) -> list[Case]:
    """Write every case under ``out/images`` and ``out/styles`` plus ``out/manifest.json``; returns the manifest."""
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    manifest: list[Case] = []
    for name, filename, content, expect, why in image_cases():
        (out / "images" / filename).write_bytes(content)
        manifest.append(dict(name=name, kind="image", path=f"images/{filename}", expect=expect, why=why))
    for name, changes, expect, why in style_cases():
        folder = out / "styles" / name
        folder.mkdir(parents=True)
        for filename, content in {**good_style_files(), **changes}.items():
            if content is not None:
                (folder / filename).write_bytes(content)
        manifest.append(dict(name=name, kind="style", path=f"styles/{name}", expect=expect, why=why))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def outcome_table(out: Path, manifest: list[Case]) -> str:
    """A markdown table: each case, what it is, and what ``load_image``/``PersonalStyle.from_pretrained`` plus the
    8-value-code check make of it (the message a user sees, with the corpus folder cut from it)."""
    import warnings

    from pipeline.images import ImageError, load_image
    from pipeline.style import PersonalStyle, StyleError

    rows = ["| case | what | expected | outcome (Python API) |", "| --- | --- | --- | --- |"]
    for case in manifest:
        path = out / case["path"]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if case["kind"] == "image":
                    result = "ok: RGB {}x{}".format(*load_image(path).size)
                else:
                    style = PersonalStyle.from_pretrained(path)
                    if style.code_dim != CODE_DIM:
                        raise StyleError(
                            f"style {style.name!r} has a {style.code_dim}-value code; this generator takes {CODE_DIM}"
                        )
                    result = f"ok: {style.name!r}"
        except (ImageError, StyleError) as exc:
            result = "error: " + str(exc).replace(str(out) + "/", "")[:140]
        rows.append(f"| {case['name']} | {case['why']} | {case['expect']} | {result.replace('|', '/')} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to (re)create")
    parser.add_argument("--table", action="store_true", help="also print each case's outcome as a markdown table")
    args = parser.parse_args(argv)
    manifest = write_corpus(args.out)
    kinds = {k: sum(c["kind"] == k for c in manifest) for k in ("image", "style")}
    print(f"{args.out}: {kinds['image']} image files, {kinds['style']} style folders; manifest.json")
    if args.table:
        print(outcome_table(args.out, manifest))


if __name__ == "__main__":
    main()
