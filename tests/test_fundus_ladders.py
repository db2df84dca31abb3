"""Severity-ladder training sets (``monai-fiqa synth --ladder-rungs``) and the ranking supervision built on them."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from monai_fiqa.cli import main
from monai_fiqa.engine.ranking import NO_GROUP, SourceGroupedBatchSampler
from monai_fiqa.fthnet.dataset import FundusQualityDataset
from monai_fiqa.fthnet.recipe import fthnet_loss, ladder_spearman
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.io.quality_csv import read_quality_csv, split_by_source
from monai_fiqa.registry import create_model

KINDS = tuple(DEGRADATIONS)


@pytest.fixture(scope="module")
def ladder_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("ladders") / "set"
    args = ["synth", "--n", "16", "--out", str(out), "--size", "256", "--seed", "3", "--ladder-rungs", "4"]
    assert main([*args, "--camera-prob", "0.5"]) == 0
    return out


def _ladders(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["ladder"], []).append(r)
    return out


def test_a_ladder_varies_one_kind_on_one_source_and_camera(ladder_set):
    rows = list(csv.DictReader((ladder_set / "labels.csv").open()))
    ladders = _ladders(rows)
    assert len(ladders) == 4 and all(len(rungs) == 4 for rungs in ladders.values())
    for rungs in ladders.values():
        kind = rungs[0]["ladder_kind"]
        severities = [float(r["ladder_severity"]) for r in rungs]
        assert severities == sorted(severities) and severities[-1] > severities[0]
        assert len({r["source"] for r in rungs}) == 1 and len({r.get("camera_fov_px", "") for r in rungs}) == 1
        for r, s in zip(rungs, severities, strict=True):  # the varied kind's recorded severity is the rung's
            assert float(r.get(f"{kind}_severity") or 0.0) == pytest.approx(s, abs=1e-4)
        # the background kind (if any) is the same on every rung
        others = [{k: r.get(f"{k}_severity", "") for k in KINDS if k != kind} for r in rungs]
        assert all(o == others[0] for o in others)
        mos = [float(r["mos"]) for r in rungs]
        assert mos[-1] < mos[0]  # the label falls along the ladder


def test_rendered_ladders_stay_on_one_side_of_a_split(ladder_set):
    records = read_quality_csv(ladder_set / "labels.csv")
    train, val = split_by_source(records, (0.5, 0.5), seed=0)
    ladder_of = lambda part: {r.row["ladder"] for r in part}  # noqa: E731
    assert train and val and not ladder_of(train) & ladder_of(val)


def test_rungs_of_a_ladder_share_their_crop_and_flips(ladder_set):
    records = read_quality_csv(ladder_set / "labels.csv")
    ds = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5, with_groups=True, seed=1)
    ds.images = np.array(ds.images)
    for i in range(len(records)):  # give every rung of a ladder the same pixels: aligned views are then equal
        ds.images[i] = ds.images[4 * (i // 4)]
    for _ in range(5):
        items = ds.__getitems__(list(range(len(records))))
        for start in range(0, len(records), 4):
            first = items[start]
            assert all(torch.equal(first[0], items[start + k][0]) for k in range(1, 4))
            assert len({int(items[start + k][-1]) for k in range(4)}) == 1 and int(first[-1]) != NO_GROUP
    groups = {int(it[-1]) for it in items}
    assert len(groups) == 4  # one group per ladder


def test_grouped_batches_of_ladders_reach_the_loss(ladder_set):
    records = read_quality_csv(ladder_set / "labels.csv")
    ds = FundusQualityDataset(records, 64, train=True, severity_kinds=KINDS, with_groups=True)
    loader = DataLoader(ds, batch_sampler=SourceGroupedBatchSampler(ds.groups, 8, 4, seed=0))
    batch = next(iter(loader))
    assert batch[0].shape == (8, 3, 64, 64) and len(torch.unique(batch[-1])) == 2
    model = create_model("fthnet_tiny", img_size=64, severity_kinds=KINDS)
    with_rank = fthnet_loss(model, tuple(batch), severity_weight=0.5, rank_weight=1.0)
    without = fthnet_loss(model, tuple(batch), severity_weight=0.5, rank_weight=0.0)
    assert torch.isfinite(with_rank) and with_rank > without  # an untrained model misorders some pairs
    with_rank.backward()


def test_severity_ranking_term_is_zero_only_when_every_pair_is_ordered():
    from monai_fiqa.fthnet.recipe import _severity_rank_loss

    targets = torch.tensor([[0.0, 0.2], [0.5, 0.2], [1.0, 0.2]])
    weights = torch.ones_like(targets)
    groups = torch.tensor([7, 7, 7])
    ordered = torch.tensor([[0.0, 0.9], [0.5, 0.1], [1.0, 0.5]])  # kind 1 is constant in the ladder: no pair
    assert float(_severity_rank_loss(ordered, targets, weights, groups)) == 0.0
    inverted = ordered.flip(0)
    assert float(_severity_rank_loss(inverted, targets, weights, groups)) > 0.1
    unknown = torch.zeros_like(weights)  # severities of unknown weight take part in no pair
    assert float(_severity_rank_loss(inverted, targets, unknown, groups)) == 0.0


def test_ladder_spearman_reads_the_direction_per_kind(ladder_set):
    records = read_quality_csv(ladder_set / "labels.csv")
    severity = np.array([float(r.row["ladder_severity"]) for r in records])
    falling = ladder_spearman(100 - severity, records)
    assert falling and all(v == pytest.approx(-1.0) for v in falling.values())
    assert all(v == pytest.approx(1.0) for v in ladder_spearman(severity, records).values())


def test_validation_reports_the_ladders_and_the_maps_localisation(tmp_path):
    """evaluate_fthnet picks checkpoints: it must see ladders, the MOS and whether the coarse map finds a region."""
    from monai_fiqa.fthnet.degradation_map import regional_masks
    from monai_fiqa.fthnet.recipe import evaluate_fthnet

    out = tmp_path / "set"
    assert main(["synth", "--n", "12", "--out", str(out), "--size", "256", "--seed", "5", "--ladder-rungs", "4"]) == 0
    records = read_quality_csv(out / "labels.csv")
    regional = [r for r in records if regional_masks(r) is not None]
    assert regional, "the synth set has photographs degraded in part of their field of view"
    for r in regional:
        region, fov = regional_masks(r)
        assert region.shape == fov.shape and (region & fov).any() and not (fov <= region).all()
    torch.manual_seed(0)
    model = create_model("fthnet_s", img_size=64, severity_kinds=KINDS)
    metrics = evaluate_fthnet(model, FundusQualityDataset(records, 64, train=False))
    assert set(metrics) >= {"srcc", "plcc", "ladder", "map_auroc", "selection"}
    assert 0.0 <= metrics["map_auroc"] <= 1.0 and np.isfinite(metrics["selection"])
    terms = [metrics["srcc"], metrics["ladder"], 2 * metrics["map_auroc"] - 1]
    assert metrics["selection"] == pytest.approx(np.mean(terms))


def test_windows_of_one_photograph_are_ranked_from_half_a_point_whole_photographs_from_two():
    """A 1-point label gap is a true order between windows of one photograph, a tie between whole photographs."""
    from monai_fiqa.fthnet.dataset import WINDOW_GROUP_BASE

    class Fixed(torch.nn.Module):  # scores that reverse every pair of the batch
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[0.50], [0.60]], requires_grad=True)

    y = torch.tensor([[0.91], [0.90]])
    images = torch.zeros(2, 3, 8, 8)
    photo = fthnet_loss(Fixed(), (images, y, torch.tensor([3, 3])), severity_weight=0.0, rank_weight=1.0)
    window = (images, y, torch.full((2,), WINDOW_GROUP_BASE + 3))
    windows = fthnet_loss(Fixed(), window, severity_weight=0.0, rank_weight=1.0)
    assert windows.item() > photo.item() + 0.1
