"""One-call training from CSVs, shared by ``monai-fiqa train`` and the bundles' ``train.json``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from monai_fiqa.engine.ranking import pairwise_rank_loss
from monai_fiqa.engine.trainer import TrainConfig, train
from monai_fiqa.fthnet.dataset import FundusQualityDataset
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.io.quality_csv import read_quality_csv, split_by_source
from monai_fiqa.registry import create_model

__all__ = [
    "FTHNetData",
    "fthnet_datasets",
    "fthnet_loss",
    "fthnet_network",
    "fthnet_step_loss",
    "severity_kinds",
    "train_from_csvs",
]


def fthnet_loss(
    model: torch.nn.Module, batch: tuple[torch.Tensor, ...], severity_weight: float, rank_weight: float = 0.0
) -> torch.Tensor:
    """SmoothL1 on MOS / 100, plus the severity and ranking terms the batch and weights ask for.

    The batch is (images, MOS / 100[, severities, weights][, source groups]) as
    :class:`~monai_fiqa.fthnet.dataset.FundusQualityDataset` returns it.  The severity term (``severity_weight``)
    is SmoothL1 averaged over the (row, kind) pairs whose severity is known (synth rows; a site's CSV has none);
    the ranking term (``rank_weight``, needs the groups as the last element) is
    :func:`~monai_fiqa.engine.ranking.pairwise_rank_loss` within each source's copies.
    """
    x, y = batch[:2]
    with_severities = severity_weight > 0 and getattr(model, "severity_head", None) is not None and len(batch) >= 4
    if with_severities:
        score, severities = model.score_and_severities(x)
    else:
        score, severities = model(x), None
    loss = torch.nn.functional.smooth_l1_loss(score.float(), y, beta=0.05)
    if severities is not None:
        targets, weights = batch[2], batch[3]
        per_item = torch.nn.functional.smooth_l1_loss(severities.float(), targets, beta=0.05, reduction="none")
        loss = loss + severity_weight * (per_item * weights).sum() / weights.sum().clamp_min(1.0)
    if rank_weight > 0:
        loss = loss + rank_weight * pairwise_rank_loss(score, y, batch[-1])
    return loss


@dataclass
class FTHNetData:
    """The datasets of a run, split by source, and the split's sizes (test sources listed by path)."""

    train: FundusQualityDataset
    val: FundusQualityDataset | None
    split: dict


def severity_kinds(config: TrainConfig) -> tuple[str, ...]:
    """The degradation kinds the network's severity head regresses (none when the auxiliary loss is off)."""
    return tuple(DEGRADATIONS) if config.severity_weight > 0 else ()


def fthnet_network(config: TrainConfig) -> torch.nn.Module:
    """The network a run trains: ``config.model`` at ``config.img_size`` with the severity head of the kinds."""
    return create_model(config.model, img_size=config.img_size, severity_kinds=severity_kinds(config))


def fthnet_step_loss(config: TrainConfig) -> Callable[[torch.nn.Module, tuple], torch.Tensor]:
    """``loss(model, batch)`` with the config's severity and ranking weights."""
    return lambda m, b: fthnet_loss(m, b, config.severity_weight, config.rank_weight)


def fthnet_datasets(
    csvs: Sequence[str | Path],
    out: str | Path,
    config: TrainConfig,
    val_fraction: float = 0.1,
    folds: int = 0,
    fold: int = 0,
) -> FTHNetData:
    """Read the CSVs, split by source (or the paper's k-fold protocol) and build the datasets (cached in ``out``)."""
    records = [r for c in csvs for r in read_quality_csv(c)]
    if not records:
        raise ValueError("no labelled images in the given CSVs")
    if folds:
        train_r, val_r, test_r = split_by_source(records, (0.8, 0.15, 0.05), seed=config.seed, fold=fold)
    else:
        train_r, val_r = split_by_source(records, (1 - val_fraction, val_fraction), seed=config.seed)
        test_r = []
    print(f"{len(records)} images: train {len(train_r)}, val {len(val_r)}, test {len(test_r)} (split by source)")
    cache = Path(out) / "cache"  # decoded squares and zoom windows: a resumed run starts in seconds
    train_ds = FundusQualityDataset(
        train_r,
        config.img_size,
        train=True,
        seed=config.seed,
        zoom_prob=config.zoom_prob,
        severity_kinds=severity_kinds(config),
        cache_dir=cache,
        with_groups=config.rank_weight > 0,
    )
    val_ds = FundusQualityDataset(val_r, config.img_size, train=False, cache_dir=cache) if val_r else None
    split = {"train": len(train_r), "val": len(val_r), "test": [str(r.path) for r in test_r]}
    return FTHNetData(train_ds, val_ds, split)


def train_from_csvs(
    csvs: Sequence[str | Path],
    out: str | Path,
    config: TrainConfig,
    val_fraction: float = 0.1,
    folds: int = 0,
    fold: int = 0,
    resume: bool = False,
    max_minutes: float | None = None,
    init: str | Path | None = None,
) -> dict:
    """Read the CSVs, split by source, build datasets and train.

    Args:
        csvs: FQS/EyeQ-style or ``monai-fiqa synth`` CSVs.
        out: run folder.
        config: hyper-parameters.
        val_fraction: share of sources held out for validation (ignored with ``folds``).
        folds: use the paper's k-fold protocol (80/15/5 of sources per fold) when > 0.
        fold: which fold.
        resume: continue from ``out/last.pt``.
        max_minutes: wall-time budget.
        init: weights to start from (fine-tuning).

    Returns:
        Training history, with the split sizes under ``split``.
    """
    data = fthnet_datasets(csvs, out, config, val_fraction, folds, fold)
    history = train(
        data.train,
        data.val,
        out,
        config,
        resume=resume,
        max_minutes=max_minutes,
        init=init,
        model=fthnet_network(config),
        compute_loss=fthnet_step_loss(config),
    )
    history["split"] = data.split
    return history
