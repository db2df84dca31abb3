"""FTHNet's degradation-map head: its targets, their augmentation, its loss, and that it learns where a photograph
is degraded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import monai_fiqa
from monai_fiqa.data import read_quality_csv
from monai_fiqa.fthnet.dataset import FundusQualityDataset
from monai_fiqa.fthnet.degradation_map import MAP_STRIDE, degradation_target
from monai_fiqa.fthnet.inferer import FTHNetInferer
from monai_fiqa.fthnet.recipe import degradation_map_loss, fthnet_loss
from monai_fiqa.fundus.mix import MixConfig
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.synth_set import make_labelled_set
from monai_fiqa.metrics.functional import pixel_auroc

REGIONAL_HAZE = MixConfig(kinds=("haze",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=1.0, severity_beta=(50, 1))


@pytest.fixture(scope="module")
def regional_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("regional")
    return read_quality_csv(make_labelled_set(6, out, size=192, seed=5, config=REGIONAL_HAZE))


def _region_square(record, size: int) -> np.ndarray:
    """The share of each cell of the ``size`` square that the degraded region covers."""
    masks = f"{record.row['_csv_dir']}/masks/{record.row['id']}"
    region = np.asarray(Image.open(f"{masks}_region.png"))
    box = fov_square_box(np.asarray(Image.open(record.path).convert("RGB")))
    return fundus_to_square(region, size, box) / 255.0


def test_the_target_is_the_severity_inside_the_region_and_zero_outside(regional_set):
    checked = 0
    for record in regional_set:
        target, weight = degradation_target(record, 192, DEGRADATIONS).astype(np.float32) / 255.0
        cover = _region_square(record, 192 // MAP_STRIDE)
        inside, outside = (cover > 0.99) & (weight > 0), (cover == 0) & (weight > 0)
        severity = float(record.row["haze_severity"])
        assert outside.any() and target[outside].max() == 0.0
        assert target[weight == 0].max() == 0.0  # outside the field of view: no target (and no weight)
        if inside.any():  # the random region can be smaller than a cell
            checked += 1
            assert target[inside] == pytest.approx(severity, abs=0.01)  # cover 0.99-1
    assert checked >= 3


def test_a_global_step_sets_the_floor_and_a_clean_row_is_all_zero(tmp_path):
    cfg = MixConfig(kinds=("noise",), p_clean=0.5, n_steps_probs=(1.0,), region_prob=0.0)
    records = read_quality_csv(make_labelled_set(6, tmp_path, size=192, seed=1, config=cfg))
    seen = set()
    for record in records:
        target, weight = degradation_target(record, 96, DEGRADATIONS).astype(np.float32) / 255.0
        assert weight.mean() > 0.4  # the field of view of a synth row is weighted, clean or not
        severity = float(record.row["noise_severity"] or 0.0)
        assert target[weight > 0] == pytest.approx(severity, abs=1 / 255)
        seen.add(severity > 0)
    assert seen == {True, False}


def test_a_site_csv_row_has_no_weighted_target(tmp_path):
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "x.csv").write_text("path,mos\na.png,50\n")
    assert not degradation_target(read_quality_csv(tmp_path / "x.csv")[0], 96, DEGRADATIONS).any()


def test_the_map_target_is_cropped_and_flipped_with_the_image(regional_set):
    ds = FundusQualityDataset(regional_set, 64, train=True, degradation_maps=True)
    side = 64 // MAP_STRIDE
    assert ds.maps.shape == (len(regional_set), 2, ds.load_size // MAP_STRIDE, ds.load_size // MAP_STRIDE)
    full = ds.maps[0]
    plain = ds._crop_map(full, (4, 0, False, False))
    np.testing.assert_array_equal(plain, full[:, 1 : 1 + side, :side])
    np.testing.assert_array_equal(ds._crop_map(full, (4, 0, True, True)), plain[:, ::-1, ::-1])
    x, y, target_map = ds[0]
    assert x.shape == (3, 64, 64) and target_map.shape == (2, side, side) and target_map.dtype == torch.uint8
    with pytest.raises(ValueError, match="training"):
        FundusQualityDataset(regional_set, 64, train=False, degradation_maps=True)


def test_the_map_loss_is_lowest_at_the_target_and_ignores_unweighted_cells():
    target = torch.zeros(1, 2, 8, 8, dtype=torch.uint8)
    target[0, 0, :4] = 255
    target[0, 1, :, :6] = 255  # the last two columns lie outside the field of view
    right = torch.full((1, 1, 4, 4), -6.0)
    right[..., :2, :] = 6.0  # a 4 x 4 grid of the head: degraded in its top half

    def loss(logits: torch.Tensor, t: torch.Tensor = target) -> float:
        return float(degradation_map_loss(logits, t))

    assert loss(right) < 0.01 < 1.0 < loss(-right)
    outside = right.clone()
    outside[..., 3:] = -right[..., 3:]  # wrong only where the weight is 0
    assert loss(outside) == pytest.approx(loss(right), abs=1e-6)
    assert loss(right, torch.zeros_like(target)) == 0.0


def test_the_map_head_learns_where_a_photograph_is_degraded(regional_set):
    """A tiny network trained on the map loss alone finds the hazy region of its training photographs (AUROC well
    above chance); untrained, it does not."""
    torch.manual_seed(0)
    net = monai_fiqa.create_model("fthnet_tiny", degradation_map=True)
    ds = FundusQualityDataset(regional_set, 64, train=True, degradation_maps=True)
    inferer = FTHNetInferer(64, tta=False)

    def mean_auroc() -> float:
        net.eval()
        aurocs = []
        for record in regional_set:
            image = np.asarray(Image.open(record.path).convert("RGB"))
            region = np.asarray(Image.open(f"{record.row['_csv_dir']}/masks/{record.row['id']}_region.png")) > 127
            fov = np.asarray(Image.open(f"{record.row['_csv_dir']}/masks/{record.row['id']}_fov.png")) > 127
            qmap = inferer.quality_map(image, fov_square_box(image), net)
            assert qmap.shape == image.shape[:2] and 0.0 <= qmap.min() <= qmap.max() <= 1.0
            aurocs.append(pixel_auroc(1.0 - qmap, region, fov))
        return float(np.nanmean(aurocs))

    before = mean_auroc()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(60):
        net.train()
        batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
        loss = fthnet_loss(net, batch, severity_weight=0.0, map_weight=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = mean_auroc()
    assert after > 0.65 and after > before + 0.2, (before, after)


def test_the_map_head_adds_a_small_head_and_keeps_the_score_path():
    torch.manual_seed(0)
    plain = monai_fiqa.create_model("fthnet_s")
    torch.manual_seed(0)
    headed = monai_fiqa.create_model("fthnet_s", degradation_map=True)
    extra = sum(p.numel() for p in headed.parameters()) - sum(p.numel() for p in plain.parameters())
    fuse, context, out = (32 + 64 + 128 + 256) * 64 + 64, 3 * (64 * 64 * 9 + 64), 64 + 1
    assert extra == fuse + context + out == 141_633  # 4 stages -> 1x1 to 64 -> 3 dilated 3x3 -> 1x1 to 1
    tiny = monai_fiqa.create_model("fthnet_tiny", degradation_map=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = tiny.outputs(x)
        assert torch.equal(out.score, tiny(x))
    assert out.degradation_logits.shape == (2, 1, 8, 8)  # stride 8


def test_a_small_region_weighs_as_much_as_the_rest_of_the_field_of_view():
    target = torch.zeros(1, 2, 40, 40, dtype=torch.uint8)
    target[0, 1] = 255  # the whole square is field of view
    target[0, 0] = 51  # a global step of severity 0.2 everywhere ...
    target[0, 0, :4, :4] = 204  # ... and a regional one in 1 % of it
    flat = torch.full((1, 1, 40, 40), float(torch.logit(torch.tensor(0.2))))  # the global severity everywhere
    found = flat.clone()
    found[..., :4, :4] = float(torch.logit(torch.tensor(0.8)))
    # missing the region costs about half the photograph's weight, not 1 % of it
    excess = float(degradation_map_loss(flat, target)) - float(degradation_map_loss(found, target))
    per_cell = float(torch.nn.functional.binary_cross_entropy(torch.tensor(0.2), torch.tensor(0.8)))
    entropy = float(torch.nn.functional.binary_cross_entropy(torch.tensor(0.8), torch.tensor(0.8)))
    assert excess == pytest.approx(0.5 * (per_cell - entropy), rel=0.01)
