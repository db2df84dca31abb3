"""The generic training loop: resume where it stopped, stop cleanly on a time budget, keep the best validation."""

from __future__ import annotations

import json

import torch
from torch import nn
from torch.utils.data import Dataset

from monai_fiqa.engine.trainer import TrainConfig, train


class _Pairs(Dataset):
    """(x, y) with y = mean(x): a rule a linear model learns in a few steps."""

    def __init__(self, n: int = 32) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 1, 4, 4, generator=g)
        self.targets = self.x.mean(dim=(1, 2, 3))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.targets[i : i + 1]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 1))


def _cfg(**kw: object) -> TrainConfig:
    base = {"model": "linear", "batch_size": 4, "steps": 6, "warmup_steps": 1, "val_every": 2, "ckpt_every": 1}
    return TrainConfig(**{**base, **kw})


def test_resume_continues_from_the_checkpointed_step(tmp_path):
    data = _Pairs()
    train(data, data, tmp_path, _cfg(steps=3), model=_model())
    first = torch.load(tmp_path / "last.pt", weights_only=True)
    assert first["step"] == 3
    hist = train(data, data, tmp_path, _cfg(steps=6), resume=True, model=_model())
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["step"] == 6
    assert [v["step"] for v in hist["val"]] == [2, 3, 4, 6]  # the first run's validations are kept, none repeated
    # the optimiser went on from its saved state: Adam counted all six steps
    assert int(next(iter(last["optimizer"]["state"].values()))["step"]) == 6
    assert not torch.equal(first["model"]["1.weight"], last["model"]["1.weight"])


def test_max_minutes_stops_after_a_checkpoint(tmp_path):
    data = _Pairs()
    train(data, None, tmp_path, _cfg(steps=100, ckpt_every=50), max_minutes=0.0, model=_model())
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["step"] == 1  # the budget was spent after the first step, and that step was saved
    assert (tmp_path / "best_model.pt").is_file()


def test_best_model_is_the_best_validation(tmp_path):
    data = _Pairs()
    scripted = iter([0.2, 0.9, 0.5])

    def evaluate(_model: nn.Module, _data: Dataset) -> dict[str, float]:
        return {"srcc": next(scripted)}

    train(data, data, tmp_path, _cfg(keep_val_weights=True), model=_model(), evaluate=evaluate)
    best = torch.load(tmp_path / "best_model.pt", weights_only=True)
    at4 = torch.load(tmp_path / "val_step4.pt", weights_only=True)
    at6 = torch.load(tmp_path / "val_step6.pt", weights_only=True)
    assert all(torch.equal(best[k], at4[k]) for k in best)  # 0.9 at step 4
    assert not all(torch.equal(best[k], at6[k]) for k in best)
    assert json.loads((tmp_path / "history.json").read_text())["val"][1]["srcc"] == 0.9
