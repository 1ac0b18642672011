"""The style encoder (``pipeline/style_encoder.py``): sample statistics -> bank mixture and colour LUT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.color import identity_lut
from pipeline.images import pil_to_tensor
from pipeline.style_encoder import STAT_DIM, STAT_SIDE, StyleEncoder, fit_for_statistics, sample_statistics


def photo(seed: int, tint=(1.0, 1.0, 1.0)) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    base = rng.random((6, 8, 3)) * np.array(tint)
    image = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8)).resize((120, 90), Image.BICUBIC)
    return pil_to_tensor(image)[0]


def test_statistics_have_the_documented_size_and_see_colour(loss_net):
    neutral = sample_statistics([photo(0), photo(1)], loss_net)
    warm = sample_statistics([photo(0, (1.0, 0.7, 0.3)), photo(1, (1.0, 0.7, 0.3))], loss_net)
    assert neutral.shape == warm.shape == (STAT_DIM,) and torch.isfinite(neutral).all()
    assert not torch.allclose(neutral, warm)
    # pooled over samples: the mean of each one's statistics
    one, two = sample_statistics([photo(0)], loss_net), sample_statistics([photo(1)], loss_net)
    assert torch.allclose(neutral, (one + two) / 2, atol=1e-5)


def test_statistics_need_a_sample(loss_net):
    with pytest.raises(ValueError, match="at least one sample"):
        sample_statistics([], loss_net)


def test_fit_for_statistics_shrinks_but_never_enlarges():
    big = torch.rand(3, 400, 300)
    assert fit_for_statistics(big).shape == (3, STAT_SIDE, 120)
    small = torch.rand(3, 64, 80)
    assert fit_for_statistics(small) is small


def test_a_fresh_encoder_predicts_an_even_mix_and_nearly_the_identity_lut():
    torch.manual_seed(0)
    encoder = StyleEncoder(bank_names=("photo", "warm", "cool"), lut_size=9, basis_luts=4)
    logits, lut = encoder(torch.randn(2, STAT_DIM))
    assert logits.shape == (2, 3) and torch.allclose(torch.softmax(logits, 1), torch.full((2, 3), 1 / 3))
    assert lut.shape == (2, 3, 9, 9, 9) and torch.allclose(lut, identity_lut(9).expand(2, -1, -1, -1, -1), atol=1e-3)


def test_the_encoder_round_trips_through_save_pretrained(tmp_path):
    torch.manual_seed(0)
    encoder = StyleEncoder(bank_names=("photo", "warm"), lut_size=5, basis_luts=2)
    encoder.stat_mean.fill_(0.5)
    encoder.save_pretrained(tmp_path / "enc")
    loaded = StyleEncoder.from_pretrained(tmp_path / "enc")
    assert tuple(loaded.config.bank_names) == ("photo", "warm")
    stats = torch.randn(1, STAT_DIM)
    for a, b in zip(encoder(stats), loaded(stats), strict=True):
        assert torch.equal(a, b)
