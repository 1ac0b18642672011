"""Safe loading: every mode and container we expect from phones and the web, written as real files here."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from pipeline.images import ImageError, load_image, load_mask


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def rgb(image: Image.Image, xy: tuple[int, int]) -> np.ndarray:
    return np.asarray(image, dtype=int)[xy[1], xy[0]]


def two_tone(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    two_tone().save(path, "JPEG", exif=exif, quality=95)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (20, 40)
    assert rgb(image, (10, 5))[0] > 200 and rgb(image, (10, 35))[2] > 200  # red now on top, blue below


def test_sources_path_bytes_bytearray_file_object_array(tmp_path):
    data = encode(two_tone(), "PNG")
    (tmp_path / "a.png").write_bytes(data)
    array = np.asarray(two_tone())
    for source in (tmp_path / "a.png", str(tmp_path / "a.png"), data, bytearray(data), io.BytesIO(data), array):
        image = load_image(source)
        assert image.size == (40, 20) and tuple(rgb(image, (5, 5))) == (255, 0, 0)


def test_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (0, 0, 16, 32))
    la = Image.new("LA", (32, 32), (0, 0))
    palette = Image.new("P", (32, 32), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 16, 32))
    for image, params in ((rgba, {}), (la, {}), (palette, {"transparency": 1})):
        loaded = load_image(encode(image, "PNG", **params))
        assert tuple(rgb(loaded, (24, 8))) == (255, 255, 255), image.mode
    assert tuple(rgb(load_image(encode(rgba, "PNG")), (4, 4))) == (0, 0, 0)
    assert rgba.mode == "RGBA"  # a PIL input is never modified
    assert load_image(rgba).mode == "RGB"


def test_cmyk_jpeg_and_palette_and_bilevel_and_grey():
    cmyk = load_image(encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95))
    assert np.abs(rgb(cmyk, (16, 16)) - [255, 0, 0]).max() < 12
    palette = Image.new("RGB", (32, 32), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.abs(rgb(load_image(encode(palette, "GIF")), (3, 3)) - [10, 200, 30]).max() < 8
    assert tuple(rgb(load_image(encode(Image.new("1", (32, 32), 1), "PNG")), (1, 1))) == (255, 255, 255)
    assert tuple(rgb(load_image(encode(Image.new("L", (32, 32), 77), "PNG")), (1, 1))) == (77, 77, 77)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_is_scaled_by_its_full_range(fmt):
    ramp = np.zeros((32, 32), np.uint16)
    ramp[:, :16], ramp[:, 16:] = 65535, 32768
    image = Image.fromarray(ramp)
    assert image.mode.startswith("I;16")
    loaded = load_image(encode(image, fmt))
    assert tuple(rgb(loaded, (0, 0))) == (255, 255, 255) and rgb(loaded, (20, 0))[0] == 128
    dark = load_image(encode(Image.fromarray(np.full((32, 32), 200, np.uint16)), fmt))
    assert rgb(dark, (0, 0))[0] == 1  # 200/65535 is nearly black, not 200/255


def test_16_bit_rgb_png_and_float_tiff():
    bgr16 = np.zeros((32, 32, 3), np.uint16)
    bgr16[..., 2] = 65535  # red, in OpenCV's BGR order
    bgr16[..., 1] = 32896
    ok, png16 = cv2.imencode(".png", bgr16)
    assert ok
    assert tuple(rgb(load_image(png16.tobytes()), (5, 5))) == (255, 128, 0)
    floats = np.full((32, 32), 0.5, np.float32)
    assert rgb(load_image(encode(Image.fromarray(floats), "TIFF")), (0, 0))[0] == 128


def test_lab_tiff_and_icc_profiles():
    lab = load_image(encode(Image.new("LAB", (32, 32), (255, 128, 128)), "TIFF"))
    assert np.abs(rgb(lab, (0, 0)) - 255).max() <= 3  # L = 100, a = b = 0 is white
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour = Image.new("RGB", (32, 32), (200, 60, 20))
    tagged = load_image(encode(colour, "PNG", icc_profile=srgb))
    assert np.abs(rgb(tagged, (0, 0)) - [200, 60, 20]).max() <= 1
    with pytest.warns(UserWarning, match="ICC"):
        broken = load_image(encode(colour, "PNG", icc_profile=b"not a profile" * 10))
    assert tuple(rgb(broken, (0, 0))) == (200, 60, 20)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_gives_first_frame_with_a_warning(fmt):
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with pytest.warns(UserWarning, match="animated image; using its first frame"):
        image = load_image(data)
    assert np.abs(rgb(image, (16, 16)) - [255, 0, 0]).max() < 8


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A few-kB PNG whose header claims ``width`` x ``height``: its zeros would inflate to width * height * 3 bytes."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    pixels = png_chunk(b"IDAT", zlib.compress(bytes(1_000_000), 9))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + png_chunk(b"IEND", b"")


def test_decompression_bombs_are_refused_from_the_header():
    with pytest.raises(ImageError, match="8000x6000 is 48 MP; the limit is 40 MP"):
        load_image(png_bomb(8000, 6000))
    with pytest.raises(ImageError, match="possible decompression bomb"):  # Pillow's own guard, from 89 MP
        load_image(png_bomb(100_000, 100_000), max_pixels=10**12)
    with pytest.raises(ImageError, match="limit is 0 MP"):
        load_image(Image.new("RGB", (100, 100)), max_pixels=5000)
    with pytest.raises(ImageError, match="limit"):
        load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=5000)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_raise_a_clear_error(fmt):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8))
    data = encode(noise, fmt)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(data[: len(data) // 2])


def test_other_bad_inputs_name_the_problem(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(b"definitely not an image" * 10)
    with pytest.raises(ImageError, match="too small"):
        load_image(Image.new("RGB", (8, 64)))
    with pytest.raises(ImageError, match="finite floats"):
        load_image(np.full((32, 32), np.nan))
    with pytest.raises(ImageError, match="expected an"):
        load_image(np.zeros((32, 32, 2), np.uint8))
    assert rgb(load_image(np.full((32, 32, 3), 65535, np.uint16)), (0, 0))[0] == 255


def test_load_mask_accepts_painted_layers_arrays_and_any_size():
    layer = Image.new("RGBA", (20, 10), (0, 0, 0, 0))  # an editor layer: white strokes on transparency
    layer.paste((255, 255, 255, 255), (0, 0, 10, 10))
    mask = load_mask(layer, (40, 20))
    assert mask.shape == (20, 40) and mask.dtype == np.float32
    assert mask[:, :18].min() == 1.0 and mask[:, 22:].max() == 0.0  # exact away from the resized edge
    assert np.array_equal(load_mask(np.eye(4, dtype=bool), (4, 4)), np.eye(4, dtype=np.float32))
    assert load_mask(np.full((4, 4), 255, np.uint8), (4, 4)).min() == 1.0
    assert load_mask(Image.new("L", (4, 4), 0), (8, 8)).max() == 0.0
    assert np.allclose(load_mask(np.full((4, 4), 0.25), (4, 4)), 0.25)


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((4, 4, 2)), "expected an"),
        (np.full((4, 4), 1.5), r"in \[0, 1\]"),
        (np.full((4, 4), np.nan), "finite"),
        (np.zeros((4, 4), np.int64), "bool, uint8 or float"),
        ("mask.png", "PIL image or a numpy array"),
    ],
)
def test_load_mask_rejects_bad_masks(mask, message):
    with pytest.raises(ValueError, match=message):
        load_mask(mask, (4, 4))
