"""WiSE-FT weight interpolation: exact endpoints, a layer the base lacks counts as zeros, bad inputs refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monai_fiqa.cli import main
from monai_fiqa.engine.weight_average import interpolate_state_dicts


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 1, 1))


def test_interpolation_is_linear_and_keeps_integer_buffers() -> None:
    a = _net(0).state_dict()
    b = {k: (v + 1.0 if v.is_floating_point() else v + 5) for k, v in a.items()}
    mid = interpolate_state_dicts(a, b, 0.25)
    for k, v in a.items():
        if v.is_floating_point():
            assert torch.allclose(mid[k], v + 0.25)
        else:
            assert torch.equal(mid[k], b[k])
    assert all(torch.equal(interpolate_state_dicts(a, b, 0.0)[k], a[k]) for k in a if a[k].is_floating_point())
    assert all(torch.equal(interpolate_state_dicts(a, b, 1.0)[k], b[k]) for k in a)


def test_a_layer_the_base_lacks_counts_as_zeros() -> None:
    a = {"w": torch.ones(3)}
    b = {"w": torch.ones(3) * 3, "new": torch.full((2,), 4.0)}
    out = interpolate_state_dicts(a, b, 0.5)
    assert torch.allclose(out["w"], torch.full((3,), 2.0)) and torch.allclose(out["new"], torch.full((2,), 2.0))


def test_mismatched_networks_and_alpha_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        interpolate_state_dicts({"w": torch.ones(2)}, {"w": torch.ones(2)}, 1.5)
    with pytest.raises(ValueError, match="lack"):
        interpolate_state_dicts({"w": torch.ones(2), "v": torch.ones(1)}, {"w": torch.ones(2)}, 0.5)
    with pytest.raises(ValueError, match="shape"):
        interpolate_state_dicts({"w": torch.ones(2)}, {"w": torch.ones(3)}, 0.5)


def test_command_line_writes_a_loadable_state_dict(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(2)}, tmp_path / "a.pt")
    torch.save({"w": torch.full((2,), 2.0)}, tmp_path / "b.pt")
    assert main(["interpolate-weights", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--alpha", "0.5",
                 "--out", str(tmp_path / "m.pt")]) == 0  # fmt: skip
    out = torch.load(tmp_path / "m.pt", weights_only=True)
    assert torch.allclose(out["w"], torch.ones(2))
