"""Shared fixtures: tiny seeded models for speed (after diffusers' fast tests), the real weights for a few checks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "0")

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import skimage.data  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from pipeline import Generator, LossNet, PersonalStyle, PersonalStylePipeline  # noqa: E402
from pipeline.losses import gram_matrix  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
TINY_GENERATOR = dict(code_dim=8, channels=(4, 8), num_res_blocks=1, decoder_channels=(4,), mlp_hidden=16)
TAPS = ("relu1_2", "relu2_2", "relu3_3")


@pytest.fixture(scope="session")
def loss_net() -> LossNet:
    """The real (converted HED-VGG16) loss network: 15 MB, loads in well under a second."""
    return LossNet.from_pretrained(WEIGHTS / "loss_net", dtype=torch.float32)


def tiny_generator(seed: int = 0, pattern_periods: tuple[float, ...] = (), color_curves: bool = False) -> Generator:
    """A tiny generator with non-zero random weights (zero-init layers re-drawn) so styles differ."""
    torch.manual_seed(seed)
    generator = Generator(**TINY_GENERATOR, pattern_periods=pattern_periods, color_curves=color_curves)
    for p in generator.parameters():
        torch.nn.init.normal_(p, 0.0, 0.2)
    return generator.eval()


def gram_targets(loss_net: LossNet, image: Image.Image) -> dict[str, torch.Tensor]:
    from pipeline.images import pil_to_tensor

    with torch.no_grad():
        feats = loss_net(pil_to_tensor(image.resize((64, 64))), TAPS)
    return {t: gram_matrix(f)[0] for t, f in feats.items()}


@pytest.fixture
def tiny_pipe(loss_net: LossNet) -> PersonalStylePipeline:
    """Tiny seeded pipeline with the bank {'photo', 'warm', 'cool'} (code_dim 8)."""
    pipe = PersonalStylePipeline(generator=tiny_generator(), loss_net=loss_net)
    g = torch.Generator().manual_seed(0)
    warm = Image.new("RGB", (64, 64), (220, 120, 40))
    cool = Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    pipe.styles = {
        "photo": PersonalStyle("photo", torch.zeros(8), gram=gram_targets(loss_net, portrait_image())),
        "warm": PersonalStyle("warm", torch.randn(8, generator=g), gram=gram_targets(loss_net, warm)),
        "cool": PersonalStyle("cool", torch.randn(8, generator=g), gram=gram_targets(loss_net, cool)),
    }
    return pipe


@pytest.fixture(scope="session")
def real_pipe() -> PersonalStylePipeline:
    """The shipped pipeline in weights/."""
    return PersonalStylePipeline.from_pretrained(WEIGHTS)


def portrait_image() -> Image.Image:
    """scikit-image's astronaut (Eileen Collins, NASA, public domain), 512x512 RGB."""
    return Image.fromarray(skimage.data.astronaut())


def hopper_image() -> Image.Image:
    """matplotlib's Grace Hopper sample photo (US Navy, public domain)."""
    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


@pytest.fixture
def portrait() -> Image.Image:
    return portrait_image()


@pytest.fixture
def hopper() -> Image.Image:
    return hopper_image()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tiny_pipe):
    """``build_demo(tiny_pipe)`` served on 127.0.0.1 with the app's queue, upload limits and session folders;
    closed afterwards."""
    import app  # gradio is imported only by the tests that serve the app

    demo = app.serve(app.build_demo(tiny_pipe), host="127.0.0.1", port=free_port(), prevent_thread_lock=True)
    try:
        yield demo
    finally:
        demo.close()
