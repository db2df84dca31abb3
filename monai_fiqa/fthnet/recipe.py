"""One-call training from CSVs, shared by ``monai-fiqa train`` and the bundles' ``train.json``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from monai_fiqa.engine.ranking import NO_GROUP, pairwise_rank_loss
from monai_fiqa.engine.trainer import TrainConfig, predict_scores, train
from monai_fiqa.fthnet.dataset import WINDOW_GROUP_BASE, FundusQualityDataset, ladder_key
from monai_fiqa.fthnet.degradation_map import regional_masks
from monai_fiqa.fthnet.inferer import FTHNetInferer
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.preprocessing import fov_square_box
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord, read_quality_csv, split_by_source
from monai_fiqa.metrics.functional import pixel_auroc, plcc, rmse, srcc
from monai_fiqa.registry import create_model

__all__ = [
    "FTHNetData",
    "degradation_map_loss",
    "evaluate_fthnet",
    "fthnet_datasets",
    "fthnet_loss",
    "fthnet_network",
    "fthnet_step_loss",
    "ladder_spearman",
    "map_auroc",
    "severity_kinds",
    "train_from_csvs",
]


# Score gaps (MOS / 100) at or below which a pair is a tie and not ranked.  Whole photographs of one source differ
# by several kinds at once, so a gap of under 2 points says little about which looks worse.  The windows of one
# photograph differ only by how much of its degraded region they hold; their labels put the more covered window
# lower in 98.5 % of run 10's pairs, yet half of those gaps were under 2 points
# (docs/experiments/fundus_fthnet.md, run 10), so windows are ranked from half a point on.
PHOTO_TIE_GAP, WINDOW_TIE_GAP = 0.02, 0.005


class _Batch(NamedTuple):
    """The parts of a batch of :class:`~monai_fiqa.fthnet.dataset.FundusQualityDataset` items (``None``: absent)."""

    images: torch.Tensor
    mos: torch.Tensor
    severities: torch.Tensor | None
    severity_weights: torch.Tensor | None
    degradation_map: torch.Tensor | None
    groups: torch.Tensor | None


def _parts(batch: Sequence[torch.Tensor]) -> _Batch:
    """Name the optional elements of a batch by their shapes: groups (B,), the map target (B, 2, h, w), then the
    severities and their weights (B, K) - the item layout of the dataset."""
    rest = list(batch[2:])
    groups = rest.pop() if rest and rest[-1].ndim == 1 else None
    target_map = rest.pop() if rest and rest[-1].ndim == 4 else None
    severities, weights = rest if rest else (None, None)
    return _Batch(batch[0], batch[1], severities, weights, target_map, groups)


# A cell is "in the region" when its target exceeds the lowest target of its photograph by this much (a regional
# step's severity above the global floor); see _region_balanced.
REGION_STEP = 0.05


def _region_balanced(target: torch.Tensor, fov: torch.Tensor) -> torch.Tensor:
    """Cell weights that give a photograph's degraded region and the rest of its field of view half its weight each.

    Why: a regional degradation covers a median 6 % of the field of view and only a fifth of the training rows have
    one, so under plain per-cell weights a constant map of each photograph's global severity is nearly optimal, and
    the head learned that (flat maps, validation AUROC 0.58-0.60 after 500 steps; docs/experiments/fundus_fthnet.md,
    run 11 stage 3).  A photograph without a region keeps its field-of-view weights; every photograph keeps its
    total weight.
    """
    inside = fov > 0.5
    floor = torch.where(inside, target, torch.full_like(target, float("inf"))).amin(dim=(1, 2, 3), keepdim=True)
    raised = inside & (target > floor + REGION_STEP)
    n_in = inside.sum(dim=(1, 2, 3), keepdim=True).float()
    n_raised = raised.sum(dim=(1, 2, 3), keepdim=True).float()
    n_rest = n_in - n_raised
    scale = torch.where(raised, n_in / (2.0 * n_raised.clamp_min(1.0)), n_in / (2.0 * n_rest.clamp_min(1.0)))
    has_region = (n_raised > 0) & (n_rest > 0)
    return torch.where(has_region & inside, fov * scale, fov)


def degradation_map_loss(logits: torch.Tensor, target_map: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the map head's (B, 1, h, w) logits against the (B, 2, H, W) uint8 target and weight
    (:func:`~monai_fiqa.fthnet.degradation_map.degradation_target`, brought to the head's grid by averaging),
    weighted by each cell's share of the field of view, with a photograph's degraded region and the rest of its
    field of view weighted equally (:func:`_region_balanced`); 0 for a batch without a weighted cell."""
    pooled = torch.nn.functional.adaptive_avg_pool2d(target_map.float() / 255.0, logits.shape[-2:])
    target, fov = pooled[:, :1], pooled[:, 1:]
    # the target is averaged inside the field of view only (it is 0 outside): a cell on its edge keeps its pixels'
    # severity; the clamp only absorbs rounding
    target = (target / fov.clamp_min(1e-6)).clamp(0.0, 1.0)
    weight = _region_balanced(target, fov)
    per_cell = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    return (per_cell * weight).sum() / weight.sum().clamp_min(1.0)


def fthnet_loss(
    model: torch.nn.Module,
    batch: Sequence[torch.Tensor],
    severity_weight: float,
    rank_weight: float = 0.0,
    map_weight: float = 0.0,
) -> torch.Tensor:
    """SmoothL1 on MOS / 100, plus the severity, ranking and degradation-map terms the batch and weights ask for.

    The batch is (images, MOS / 100[, severities, weights][, map target][, groups]) as
    :class:`~monai_fiqa.fthnet.dataset.FundusQualityDataset` returns it.  The severity term (``severity_weight``)
    is the squared error averaged over the (row, kind) pairs whose severity is known (synth rows; a site's CSV has
    none) - squared, because most of a row's severities are exactly 0 and an L1-type loss settles on predicting
    that median everywhere.  The ranking term (``rank_weight``, needs the groups) is
    :func:`~monai_fiqa.engine.ranking.pairwise_rank_loss` within each group (a severity ladder, one source's
    copies or one photograph's windows; ties as :data:`PHOTO_TIE_GAP` / :data:`WINDOW_TIE_GAP` say): on the score
    against the MOS and on each kind's severity output against its severity.  The map term (``map_weight``, needs
    the map target and the network's map head) is :func:`degradation_map_loss`.
    """
    b = _parts(batch)
    out = model.outputs(b.images) if hasattr(model, "outputs") else None
    score = out.score if out is not None else model(b.images)
    loss = torch.nn.functional.smooth_l1_loss(score.float(), b.mos, beta=0.05)
    severities = out.severities if out is not None and b.severities is not None and severity_weight > 0 else None
    if severities is not None:
        per_item = torch.nn.functional.mse_loss(severities.float(), b.severities, reduction="none")
        weights = b.severity_weights
        loss = loss + severity_weight * (per_item * weights).sum() / weights.sum().clamp_min(1.0)
    if map_weight > 0 and b.degradation_map is not None and out is not None and out.degradation_logits is not None:
        loss = loss + map_weight * degradation_map_loss(out.degradation_logits, b.degradation_map)
    if rank_weight > 0 and b.groups is not None:
        tie = torch.where(b.groups >= WINDOW_GROUP_BASE, WINDOW_TIE_GAP, PHOTO_TIE_GAP)
        loss = loss + rank_weight * pairwise_rank_loss(score, b.mos, b.groups, min_gap=tie)
        if severities is not None:
            loss = loss + rank_weight * _severity_rank_loss(
                severities.float(), b.severities, b.severity_weights, b.groups
            )
    return loss


def _severity_rank_loss(
    severities: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, groups: torch.Tensor
) -> torch.Tensor:
    """Sum over kinds of the pairwise ranking of each kind's severity output within the groups (a sum: a batch of
    a few ladders has pairs of a few kinds only, and a mean over all kinds would dilute them).

    A pair is ordered by its true severity of that kind whatever else differs, so source groups take part as well
    as ladders; rows whose severity of the kind is unknown (weight 0) take part in no pair.
    """
    terms = []
    for k in range(severities.shape[1]):
        known = torch.where(weights[:, k] > 0, groups, torch.full_like(groups, NO_GROUP))
        terms.append(pairwise_rank_loss(severities[:, k], targets[:, k], known))
    return torch.stack(terms).sum()


def ladder_spearman(scores: Sequence[float], records: Sequence[QualityRecord]) -> dict[str, float]:
    """Mean per-ladder Spearman of score against the varied kind's severity, per kind (``monai-fiqa synth
    --ladder-rungs`` rows; the others are ignored).  Perfect ranking is -1: the score falls as severity rises."""
    ladders: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        key = ladder_key(r)
        if key is not None:
            ladders[key].append(i)
    per_kind: dict[str, list[float]] = defaultdict(list)
    for members in ladders.values():
        severity = [float(records[i].row["ladder_severity"]) for i in members]
        if len(members) >= 3 and np.ptp(severity) > 0:
            per_kind[records[members[0]].row["ladder_kind"]].append(srcc(np.asarray(scores)[members], severity))
    return {kind: float(np.nanmean(values)) for kind, values in sorted(per_kind.items())}


def map_auroc(model: torch.nn.Module, records: Sequence[QualityRecord], img_size: int, limit: int = 96) -> float:
    """Mean pixel AUROC of ``1 - quality map`` against the degraded region, over the first ``limit`` records that
    are degraded in part of their field of view (NaN without any): does the map point at the bad region?"""
    inferer = FTHNetInferer(img_size, tta=False)
    model.eval()
    aurocs = []
    for record in records:
        masks = regional_masks(record)
        if masks is None:
            continue
        region, fov = masks
        image = read_rgb(record.path)[0]
        qmap = inferer.quality_map(image, fov_square_box(image, fov=fov), model)
        aurocs.append(pixel_auroc(1.0 - qmap, region, fov))
        if len(aurocs) == limit:
            break
    return float(np.mean(aurocs)) if aurocs else float("nan")


def evaluate_fthnet(model: torch.nn.Module, data: FundusQualityDataset, batch_size: int = 16) -> dict[str, float]:
    """SRCC / PLCC / RMSE against the MOS, where the set holds severity ladders their per-kind Spearman, and where
    it holds regional degradations the coarse map's pixel AUROC.

    ``selection`` (what picks ``best_model.pt``) is the mean of the terms the set allows, each 1 when perfect and
    0 at chance: the SRCC, the negated mean ladder Spearman over kinds, and 2 x map AUROC - 1.  The shipped model
    must order photographs, rank every kind and say where a photograph is bad.
    """
    scores = predict_scores(model, data, batch_size)
    truth = data.targets.numpy() * 100.0
    metrics: dict[str, float] = {"srcc": srcc(scores, truth), "plcc": plcc(scores, truth), "rmse": rmse(scores, truth)}
    metrics["n"] = len(truth)
    ladders = ladder_spearman(scores, data.records)
    metrics.update({f"ladder_{kind}": round(rho, 4) for kind, rho in ladders.items()})
    metrics["ladder"] = -float(np.mean(list(ladders.values()))) if ladders else float("nan")
    metrics["map_auroc"] = map_auroc(model, data.records, data.img_size)
    terms = [metrics["srcc"], metrics["ladder"], 2.0 * metrics["map_auroc"] - 1.0]
    metrics["selection"] = float(np.mean([t for t in terms if np.isfinite(t)]))
    return metrics


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
    """The network a run trains: ``config.model`` at ``config.img_size`` with the severity head of the kinds, and
    the degradation-map head when the map loss is on."""
    return create_model(
        config.model,
        img_size=config.img_size,
        severity_kinds=severity_kinds(config),
        **({"degradation_map": True} if config.map_weight > 0 else {}),
    )


def fthnet_step_loss(config: TrainConfig) -> Callable[[torch.nn.Module, tuple], torch.Tensor]:
    """``loss(model, batch)`` with the config's severity, ranking and map weights."""
    return lambda m, b: fthnet_loss(m, b, config.severity_weight, config.rank_weight, config.map_weight)


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
    cache = Path(out) / "cache"  # decoded squares and window views: a resumed run starts in seconds
    train_ds = FundusQualityDataset(
        train_r,
        config.img_size,
        train=True,
        seed=config.seed,
        zoom_prob=config.zoom_prob,
        severity_kinds=severity_kinds(config),
        cache_dir=cache,
        with_groups=config.rank_weight > 0,
        degradation_maps=config.map_weight > 0,
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
        evaluate=lambda m, d: evaluate_fthnet(m, d, config.batch_size),
        select="selection",
    )
    history["split"] = data.split
    return history
