from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import monai_fiqa
from monai_fiqa.networks import FTHNet, soft_pool2d


def _naive_softpool(x: torch.Tensor, k: int) -> torch.Tensor:
    e = torch.exp(x)
    return F.avg_pool2d(x * e, k) / F.avg_pool2d(e, k)


def test_softpool_matches_definition_and_is_stable():
    x = torch.randn(2, 3, 24, 24)
    assert torch.allclose(soft_pool2d(x, 12), _naive_softpool(x, 12), atol=1e-5)
    big = x * 50 + 100  # exp(200) overflows float32 in the textbook form
    assert not torch.isfinite(_naive_softpool(big, 12)).all()
    out = soft_pool2d(big, 12)
    assert torch.isfinite(out).all()
    # a soft maximum: between the window mean and the window max
    assert (out <= F.max_pool2d(big, 12) + 1e-3).all() and (out >= F.avg_pool2d(big, 12) - 1e-3).all()
    with pytest.raises(ValueError, match="multiple"):
        soft_pool2d(x, 7)


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(("name", "paper"), [("fthnet_s", 5.66e6), ("fthnet_l", 14.88e6), ("fthnet_s_detail", 5.66e6)])
def test_parameter_counts_match_the_paper_within_3_percent(name, paper):
    n = _params(monai_fiqa.create_model(name))
    assert abs(n / paper - 1) < 0.03, f"{name}: {n} parameters vs {paper:.0f} in the paper"


def test_architecture_shapes():
    m = monai_fiqa.create_model("fthnet_s")
    assert m.backbone.channels == [32, 64, 128, 256]
    assert m.target_dims == [384, 192, 96, 48, 24, 1]  # V = 4 x 96, five target layers
    info = monai_fiqa.model_info("fthnet_s")
    assert info.input_size == (3, 384, 384) and info.family == "fthnet"


def test_tiny_forward_backward_and_per_sample_weights():
    torch.manual_seed(0)
    m = monai_fiqa.create_model("fthnet_tiny")
    x = torch.randn(4, 3, 64, 64)
    y = m(x)
    assert y.shape == (4, 1) and torch.isfinite(y).all()
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    # the target network's weights depend on the image: one sample's output does not depend on the batch
    m.eval()
    with torch.no_grad():
        assert torch.allclose(m(x)[1:2], m(x[1:2]), atol=1e-5)


def test_tiny_model_learns_a_simple_quality_rule():
    """Sharp vs blurred noise images: a few steps of SmoothL1 should separate them (the loop is wired right)."""
    torch.manual_seed(0)
    m = monai_fiqa.create_model("fthnet_tiny")
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    sharp = torch.randn(8, 3, 64, 64)
    blurred = F.avg_pool2d(torch.randn(8, 3, 64, 64), 5, stride=1, padding=2) * 2
    x = torch.cat([sharp, blurred])
    y = torch.cat([torch.full((8, 1), 0.9), torch.full((8, 1), 0.2)])
    for _ in range(60):
        loss = F.smooth_l1_loss(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        p = m(x).squeeze(1).numpy()
    assert p[:8].min() > p[8:].max()


def test_rejects_bad_img_size():
    with pytest.raises(ValueError, match="multiple of 32"):
        FTHNet(img_size=100)


def test_torchscript_export_matches_eager():
    m = monai_fiqa.create_model("fthnet_tiny").eval()
    x = torch.randn(2, 3, 64, 64)
    traced = torch.jit.trace(m, x)
    with torch.no_grad():
        assert np.allclose(traced(x).numpy(), m(x).numpy(), atol=1e-5)


def test_severity_head_adds_few_parameters_and_keeps_the_score_path():
    kinds = ("defocus", "haze", "noise")
    torch.manual_seed(0)
    plain = monai_fiqa.create_model("fthnet_s")
    torch.manual_seed(0)
    headed = monai_fiqa.create_model("fthnet_s", severity_kinds=kinds)
    extra = sum(p.numel() for p in headed.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 384 * len(kinds) + len(kinds)  # one Linear on V
    tiny = monai_fiqa.create_model("fthnet_tiny", severity_kinds=kinds).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        score, sev, no_map = tiny.outputs(x)
        assert torch.equal(score, tiny(x)) and no_map is None
    assert sev.shape == (2, 3) and float(sev.min()) >= 0 and float(sev.max()) <= 1


@pytest.mark.slow
def test_bf16_training_loss_matches_fp32_within_2_percent():
    """The shipped recipe's bf16 autocast step: same batch, same weights, loss within 2 % of fp32 (FTHNet-S, 384)."""
    from monai_fiqa.engine.trainer import training_step_loss
    from monai_fiqa.fthnet.recipe import fthnet_loss

    torch.manual_seed(0)
    kinds = ("defocus", "haze", "noise")
    m = monai_fiqa.create_model("fthnet_s", severity_kinds=kinds).eval()
    g = torch.Generator().manual_seed(1)
    batch = (torch.randn(2, 3, 384, 384, generator=g), torch.rand(2, 1, generator=g), torch.rand(2, 3, generator=g))
    batch = (*batch, torch.ones(2, 3))
    with torch.no_grad():
        fp32 = training_step_loss(lambda mm, b: fthnet_loss(mm, b, 0.5), "fp32")(m, batch).item()
        bf16 = training_step_loss(lambda mm, b: fthnet_loss(mm, b, 0.5), "bf16")(m, batch).item()
    assert fp32 > 0
    assert abs(bf16 - fp32) / fp32 < 0.02
    with pytest.raises(ValueError, match="precision"):
        training_step_loss(lambda mm, b: fthnet_loss(mm, b, 0.5), "fp16")


def test_detail_channels_carry_what_blur_removes_and_keep_the_colour():
    from monai.networks.layers import GaussianFilter

    from monai_fiqa.fthnet.blocks import DetailChannels

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    out = DetailChannels(sigma=2.0)(x)
    assert out.shape == (2, 6, 64, 64) and torch.equal(out[:, :3], x)  # the RGB input passes untouched
    flat = DetailChannels(sigma=2.0)(torch.full((1, 3, 32, 32), 0.7))
    assert flat[:, 3:].abs().max() < 1e-4  # a uniform image has no detail
    blurred = DetailChannels(sigma=2.0)(GaussianFilter(2, 2.0)(x))
    assert blurred[:, 3:].pow(2).mean() < 0.3 * out[:, 3:].pow(2).mean()


def test_the_detail_model_keeps_the_score_path_and_exports():
    m = monai_fiqa.create_model("fthnet_tiny", detail_sigma=1.0).eval()
    x = torch.randn(2, 3, 64, 64)
    assert m(x).shape == (2, 1)
    traced = torch.jit.trace(m, x)
    assert torch.allclose(traced(x), m(x), atol=1e-5)
