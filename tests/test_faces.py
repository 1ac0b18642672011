"""Face detection (BlazeFace) on portraits and non-faces, soft face masks, and face_protect / mask= in the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from conftest import ROOT
from PIL import Image

from pipeline.faces import detect_faces, face_mask
from pipeline.images import load_image

EXAMPLES = ROOT / "assets" / "examples"


def centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return load_image(EXAMPLES / "astronaut.jpg")


@pytest.fixture(scope="module")
def astronaut_face(astronaut) -> tuple[int, int, int, int]:
    boxes = detect_faces(astronaut)
    assert len(boxes) == 1
    return boxes[0]


def test_one_face_on_each_shipped_portrait(astronaut, astronaut_face):
    hopper = load_image(EXAMPLES / "grace_hopper.jpg")
    scale = hopper.width / 512  # the face sits at about (267, 220) on matplotlib's 512 x 600 original
    (hopper_face,) = detect_faces(hopper)
    assert np.hypot(*np.subtract(centre(hopper_face), (267 * scale, 220 * scale))) < 40 * scale
    assert 150 * scale < hopper_face[2] < 280 * scale
    scale = astronaut.width / 512  # about (222, 114) on scikit-image's 512 x 512 original
    assert np.hypot(*np.subtract(centre(astronaut_face), (222 * scale, 114 * scale))) < 25 * scale
    assert 70 * scale < astronaut_face[2] < 130 * scale


def test_two_faces_in_a_group_and_faces_in_grey():
    group = Image.new("RGB", (1024, 600), (128, 128, 128))
    group.paste(Image.fromarray(skimage.data.astronaut()), (0, 44))
    group.paste(load_image(EXAMPLES / "grace_hopper.jpg").resize((512, 600)), (512, 0))
    boxes = detect_faces(group)
    assert len(boxes) == 2 and centre(boxes[0])[0] > 512 > centre(boxes[1])[0]  # largest first
    assert len(detect_faces(Image.fromarray(skimage.data.astronaut()).convert("L"))) == 1


@pytest.mark.parametrize("name", ["brick", "gravel", "grass", "chelsea", "coffee"])
def test_no_face_on_texture_or_a_cat(name):
    assert detect_faces(Image.fromarray(getattr(skimage.data, name)())) == []


def test_face_mask_is_one_on_the_face_soft_at_the_edge_and_zero_away():
    box = (100, 80, 60, 60)
    mask = face_mask((320, 240), [box], feather=0.15)
    assert mask.shape == (240, 320) and mask.dtype == np.float32
    assert mask[110, 130] == 1.0 and mask[:, :40].max() == 0.0 and mask[:, 220:].max() == 0.0
    row = mask[110, 130:240]
    assert np.all(np.diff(row) <= 0) and 0 < row[40] < 1  # a smooth falloff, not a hard edge
    assert face_mask((32, 16), [], feather=0.15).max() == 0.0
    assert face_mask((320, 240), [(290, 200, 60, 60)])[230, 319] == 1.0  # boxes may run off the image


def test_a_turned_face_and_the_cameraman_are_found():
    turned = Image.fromarray(skimage.data.astronaut()).rotate(30)
    (box,) = detect_faces(turned)
    assert np.hypot(*np.subtract(centre(box), (159, 158))) < 20  # the face turned about the image centre
    (camera,) = detect_faces(Image.fromarray(skimage.data.camera()))
    assert np.hypot(*np.subtract(centre(camera), (220, 166))) < 20 and 70 < camera[2] < 120


def face_stats(out: Image.Image, image: Image.Image, mask: np.ndarray) -> float:
    """Mean |out - image| (0-255) where ``mask`` is set."""
    return float(np.abs(np.asarray(out, dtype=float) - np.asarray(image, dtype=float))[mask].mean())


def test_face_protect_keeps_the_face_and_nothing_else_changes(tiny_pipe, astronaut, astronaut_face):
    plain = tiny_pipe(astronaut, style="warm", metrics=False).images[0]
    half = tiny_pipe(astronaut, style="warm", face_protect=0.5, metrics=False)
    full = tiny_pipe(astronaut, style="warm", face_protect=1.0, metrics=False)
    assert full.faces == [[astronaut_face]] and plain.size == full.images[0].size
    soft = face_mask(astronaut.size, [astronaut_face])
    core, outside = soft > 0.99, soft == 0.0
    changes = [face_stats(out, astronaut, core) for out in (plain, half.images[0], full.images[0])]
    assert changes[0] > 8 and changes[2] < 0.05 * changes[0] and changes[2] < changes[1] < changes[0]
    for out in (half.images[0], full.images[0]):
        assert np.array_equal(np.asarray(out)[outside], np.asarray(plain)[outside])


def test_mask_restricts_the_style_to_painted_regions(tiny_pipe, astronaut):
    small = astronaut.resize((96, 64))
    plain = np.asarray(tiny_pipe(small, style="warm", metrics=False).images[0])
    painted = np.zeros((32, 48), np.float32)
    painted[:, 24:] = 1.0  # the right half, at half the image's resolution
    out = np.asarray(tiny_pipe(small, style="warm", mask=painted, metrics=False).images[0])
    assert np.array_equal(out[:, :46], np.asarray(small)[:, :46])  # unpainted: the input, exactly
    assert np.array_equal(out[:, 50:], plain[:, 50:])  # painted: the plain stylisation, exactly
    layer = Image.new("RGBA", (96, 64), (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), (0, 0, 48, 64))  # strokes on a transparent editor layer: the left half
    both = tiny_pipe([small, small], style="warm", mask=[painted, layer], metrics=False).images
    assert np.array_equal(np.asarray(both[0]), out)
    assert np.array_equal(np.asarray(both[1])[:, :46], plain[:, :46])
    assert np.array_equal(np.asarray(both[1])[:, 50:], np.asarray(small)[:, 50:])


def test_bad_face_protect_and_masks_are_refused(tiny_pipe, astronaut):
    small = astronaut.resize((64, 64))
    with pytest.raises(ValueError, match="face_protect must be a number in"):
        tiny_pipe(small, style="warm", face_protect=1.5)
    with pytest.raises(ValueError, match="2 masks for 1 images"):
        tiny_pipe(small, style="warm", mask=[np.ones((4, 4)), np.ones((4, 4))])
    with pytest.raises(ValueError, match="mask: float values"):
        tiny_pipe(small, style="warm", mask=np.full((4, 4), 2.0))


@pytest.mark.slow
def test_face_protect_with_the_real_weights(real_pipe, astronaut, astronaut_face):
    soft = face_mask(astronaut.size, [astronaut_face])
    style = next(name for name in sorted(real_pipe.styles) if name != "photo")
    plain = real_pipe(astronaut, style=style, metrics=False).images[0]
    kept = real_pipe(astronaut, style=style, face_protect=1.0, metrics=False).images[0]
    assert face_stats(kept, astronaut, soft > 0.99) < 0.25 * face_stats(plain, astronaut, soft > 0.99)
    assert np.array_equal(np.asarray(kept)[soft == 0], np.asarray(plain)[soft == 0])
