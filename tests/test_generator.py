from __future__ import annotations

import pytest
import torch
from conftest import TINY_GENERATOR, tiny_generator

from pipeline import Discriminator, Generator
from pipeline.augment import diff_augment
from pipeline.generator import COLOR_TERMS, PATTERN_ANGLES, pattern_image


@pytest.mark.parametrize("size", [(8, 8), (17, 31), (33, 5), (64, 48)])
def test_any_size_round_trips_shape(size):
    g = tiny_generator()
    x = torch.rand(2, 3, *size)
    y = g(x, torch.randn(2, 8))
    assert y.shape == x.shape
    assert 0.0 <= y.min() and y.max() <= 1.0


def test_fresh_generator_is_identity_and_codes_matter():
    g = Generator(**TINY_GENERATOR)
    x = torch.rand(1, 3, 16, 16).clamp(0.01, 0.99)
    assert torch.allclose(g(x, torch.randn(8)), x, atol=1e-5)  # zero-initialised head and style MLP output
    trained = tiny_generator()
    a, b = trained(x, torch.randn(8)), trained(x, torch.randn(8))
    assert (a - b).abs().mean() > 1e-3


def test_adapter_changes_output_and_wrong_sizes_are_errors():
    g = tiny_generator()
    x, code = torch.rand(1, 3, 16, 16), torch.randn(8)
    delta = torch.zeros(1, g.norm_params)
    assert torch.equal(g(x, code, delta), g(x, code))
    assert not torch.allclose(g(x, code, delta + 0.5), g(x, code))
    with pytest.raises(ValueError, match="takes 8"):
        g(x, torch.randn(9))
    with pytest.raises(ValueError, match="adapter"):
        g(x, code, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="decoder_channels"):
        Generator(channels=(4, 8, 16), decoder_channels=(4,))


def test_save_load_round_trip(tmp_path):
    g = tiny_generator()
    g.save_pretrained(tmp_path / "g")
    assert (tmp_path / "g" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = Generator.from_pretrained(tmp_path / "g")
    x, code = torch.rand(1, 3, 20, 12), torch.randn(8)
    assert torch.allclose(g(x, code), loaded(x, code), atol=1e-6)


def test_pattern_image_is_the_weighted_sum_of_plane_waves():
    periods, (h, w), origin = (3.0, 7.5), (13, 21), (40, 8)
    weights = torch.randn(2, 3, len(periods) * len(PATTERN_ANGLES), 2, generator=torch.Generator().manual_seed(0))
    rows = torch.arange(h, dtype=torch.float64)[:, None] + origin[0]
    cols = torch.arange(w, dtype=torch.float64)[None, :] + origin[1]
    expected = torch.zeros(2, 3, h, w, dtype=torch.float64)
    waves = [(p, a) for p in periods for a in PATTERN_ANGLES]
    for k, (period, angle) in enumerate(waves):
        a = torch.deg2rad(torch.tensor(angle, dtype=torch.float64))
        phase = 2 * torch.pi * (cols * torch.cos(a) + rows * torch.sin(a)) / period
        ws, wc = weights[:, :, k, 0, None, None].double(), weights[:, :, k, 1, None, None].double()
        expected += ws * torch.sin(phase) + wc * torch.cos(phase)
    got = pattern_image(weights, h, w, periods, origin)
    assert got.shape == (2, 3, h, w)
    assert (got.double() - expected).abs().max() < 1e-4


def test_grown_pattern_branch_starts_silent_then_draws_texture_on_flat_regions(tmp_path):
    plain = tiny_generator()
    grown = plain.grow(pattern_periods=(4.0, 6.0))
    flat = torch.full((1, 3, 40, 40), 0.5)
    x, code = torch.rand(1, 3, 24, 32), torch.randn(8)
    assert (grown(x, code) - plain(x, code)).abs().max() < 1e-6  # wave weights start at zero: same output
    assert set(grown.state_dict()) - set(plain.state_dict()) == {
        "pattern_amp.weight",
        "pattern_gate.weight",
        "pattern_gate.bias",
    }
    torch.nn.init.normal_(grown.pattern_amp.weight, 0.0, 0.5)
    inner = (slice(None), slice(None), slice(12, 28), slice(12, 28))  # away from the borders' padding
    with torch.no_grad():
        assert plain(flat, code)[inner].std(dim=(2, 3)).max() < 1e-4  # convs on a flat image: flat inside
        assert grown(flat, code)[inner].std(dim=(2, 3)).min() > 1e-2  # the pattern branch draws a texture there
    grown.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert list(loaded.config.pattern_periods) == [4.0, 6.0]
    assert torch.allclose(loaded(x, code), grown(x, code), atol=1e-6)


def test_grown_color_branch_starts_silent_then_learns_an_exact_grey_look(tmp_path):
    plain = tiny_generator()
    grown = plain.grow(color_curves=True)
    x, code = torch.rand(2, 3, 24, 32).clamp(0.05, 0.95), torch.randn(8)
    assert (grown(x, code) - plain(x, code)).abs().max() < 1e-6  # the colour map starts at zero: same output
    assert set(grown.state_dict()) - set(plain.state_dict()) == {"color_amp.weight"}
    assert grown.affine_size == grown.norm_params + 3 * (COLOR_TERMS + 1)
    # a weight set that turns the convolutions' residual off (gain 1 - 1), cancels logit(x) and adds a luminance
    # tone curve: every pixel grey, whatever the convs do
    curves = torch.zeros(3, COLOR_TERMS + 1)
    curves[:, -1] = -1.0
    curves[:, 1:4] = 9.0 * torch.tensor([0.3, 0.59, 0.11])
    curves[:, 0] = -4.5
    curves[[0, 1, 2], [10, 11, 12]] = -1.0
    with torch.no_grad():
        grown.color_amp.weight.zero_()
        grown.color_amp.weight[:, 0] = torch.cat([curves[:, :-1].flatten(), curves[:, -1]])  # code entry 0 drives it
        out = grown(x, torch.nn.functional.one_hot(torch.tensor(0), 8).float())
    luma = (x * torch.tensor([0.3, 0.59, 0.11])[:, None, None]).sum(1, keepdim=True)
    assert (out - torch.sigmoid(9 * (luma - 0.5))).abs().max() < 1e-3
    grown.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert loaded.config.color_curves and torch.allclose(loaded(x, code), grown(x, code), atol=1e-6)
    both = tiny_generator(pattern_periods=(4.0,), color_curves=True)  # both branches side by side
    assert both.norm_affine(code).shape == (1, both.affine_size) and both(x, code).shape == x.shape


def test_grow_and_pattern_config_errors_are_clear():
    with pytest.raises(ValueError, match="change trained weights"):
        tiny_generator().grow(channels=(4, 16))
    with pytest.raises(ValueError, match="pattern_periods"):
        Generator(**TINY_GENERATOR, pattern_periods=(1.0,))
    with pytest.raises(ValueError, match="pattern_periods"):
        Generator(**TINY_GENERATOR, pattern_periods=("8",))


def test_discriminator_patch_logits_depend_on_code():
    torch.manual_seed(0)
    d = Discriminator(code_dim=8, channels=(8, 16))
    x = torch.rand(2, 3, 32, 32)
    out = d(x, torch.randn(2, 8))
    assert out.shape == (2, 1, 8, 8)
    assert not torch.allclose(out, d(x, torch.randn(2, 8)))


def test_diff_augment_is_differentiable_and_seeded():
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, torch.Generator().manual_seed(0))
    b = diff_augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
