from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from monai_fiqa.data import read_quality_csv
from monai_fiqa.fthnet.windows import window_boxes, window_sample, window_views
from monai_fiqa.fundus.mix import MixConfig
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.synth_set import make_labelled_set


def test_window_labels_are_lower_where_the_regional_degradation_is(tmp_path):
    cfg = MixConfig(kinds=("defocus",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=1.0, severity_beta=(50, 1))
    csv_path = make_labelled_set(14, tmp_path, size=256, seed=7, config=cfg)
    checked = 0
    size = 96
    for rec in read_quality_csv(csv_path):
        clean = np.asarray(Image.open(tmp_path / rec.row["clean"]))
        region = np.asarray(Image.open(tmp_path / "masks" / f"{rec.row['id']}_region.png")) > 127
        rgb = np.repeat(region[..., None].astype(np.uint8) * 255, 3, -1)
        square = fundus_to_square(rgb, size, fov_square_box(clean))[..., 0] / 255
        cover = [square[r : r + w, c : c + w].mean() for r, c, w in window_boxes(size)]
        labels = {w: window_sample(rec, size, w) for w in range(9)}
        labels = {w: v[1] for w, v in labels.items() if v is not None}
        most = max(labels, key=lambda w: cover[w])
        least = min(labels, key=lambda w: cover[w])
        if cover[most] < 0.2:  # the random region is small: no window is mostly degraded
            continue
        checked += 1
        assert labels[most] < labels[least] - 5, (rec.row["id"], labels, cover)
    assert checked >= 2


def test_rows_without_a_clean_source_have_no_zoom_label(tmp_path):
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "x.csv").write_text("path,mos\na.png,50\n")
    assert window_sample(read_quality_csv(tmp_path / "x.csv")[0], 96, 4) is None


def test_window_views_show_the_window_in_place_at_the_photographs_scale():
    """An enlarged window would be blurrier than any whole photograph (see monai_fiqa.fthnet.windows)."""
    square = np.random.default_rng(0).integers(1, 256, (96, 96, 3)).astype(np.uint8)
    views = window_views(square)
    assert len(views) == 9
    for view, (r, c, w) in zip(views, window_boxes(96), strict=True):
        assert view.shape == square.shape and w == 48
        np.testing.assert_array_equal(view[r : r + w, c : c + w], square[r : r + w, c : c + w])
        assert view.sum() == square[r : r + w, c : c + w].sum()  # black outside the window
    assert {(r, c) for r, c, _ in window_boxes(96)} == {(r, c) for r in (0, 24, 48) for c in (0, 24, 48)}


def test_a_window_sample_is_its_window_of_the_input_square(tmp_path):
    cfg = MixConfig(kinds=("haze",), p_clean=0.0, n_steps_probs=(1.0,))
    rec = read_quality_csv(make_labelled_set(1, tmp_path, size=256, seed=3, config=cfg))[0]
    degraded = np.asarray(Image.open(rec.path).convert("RGB"))
    clean = np.asarray(Image.open(tmp_path / rec.row["clean"]))
    sample = window_sample(rec, 96, 4)
    assert sample is not None
    view, mos = sample
    np.testing.assert_array_equal(view, window_views(fundus_to_square(degraded, 96, fov_square_box(clean)))[4])
    assert 0.0 <= mos <= 100.0


def test_regionally_degraded_photographs_add_a_ranked_group_of_windows(tmp_path):
    """Windows from most to least covered by the region: the most covered has the lowest label; each photograph's
    windows form one ranking group of their own, with ids the loss can tell from whole-photograph groups."""
    from monai_fiqa.engine.ranking import NO_GROUP
    from monai_fiqa.fthnet.dataset import WINDOW_GROUP_BASE, FundusQualityDataset

    cfg = MixConfig(kinds=("defocus",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=1.0, severity_beta=(50, 1))
    records = read_quality_csv(make_labelled_set(10, tmp_path, size=256, seed=7, config=cfg))
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # built, cached, reloaded
        ds = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5, with_groups=True, cache_dir=cache)
        window_groups = ds.groups[len(records) :]
        members = {g: [j for j, h in enumerate(window_groups) if h == g] for g in set(window_groups)}
        assert len(members) >= 5 and len(ds) == len(records) + len(ds.group_record)
        assert all(2 <= len(m) <= 3 for m in members.values()) and sum(len(m) == 3 for m in members.values()) >= 3
        most, least = (np.array([ds.group_mos[m[k]] for m in members.values()]) for k in (0, -1))
        assert (most < least).mean() >= 0.8 and most.mean() < least.mean() - 2, (most, least)
        assert min(window_groups) >= WINDOW_GROUP_BASE > max(ds.groups[: len(records)])
        assert NO_GROUP not in window_groups
        x, y, group = ds[len(records)]
        assert x.shape == (3, 64, 64) and y.item() == pytest.approx(ds.group_mos[0] / 100) and group == window_groups[0]


def test_a_set_without_regional_degradations_has_no_window_groups(tmp_path):
    from monai_fiqa.fthnet.dataset import FundusQualityDataset

    cfg = MixConfig(kinds=("haze",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=0.0)
    records = read_quality_csv(make_labelled_set(4, tmp_path, size=256, seed=2, config=cfg))
    for _ in range(2):  # built, then reloaded from the cache
        ds = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5, cache_dir=tmp_path / "cache")
        assert len(ds) == len(records) and len(ds.group_record) == 0


def test_the_window_map_puts_each_window_score_at_the_window_centre(monkeypatch):
    from monai_fiqa.fthnet.inferer import FTHNetInferer

    inferer = FTHNetInferer(img_size=64, tta=False)
    scores = np.arange(9, dtype=np.float32) * 10.0  # window k scores 10 k
    monkeypatch.setattr(inferer, "scores_and_severities", lambda views, network: (scores[: len(views)], {}))
    qmap = inferer._window_map(np.full((64, 64, 3), 120, np.uint8), (0, 0, 200), (200, 200), network=None)
    for k, (r, c, w) in enumerate(window_boxes(200)):
        assert qmap[r + w // 2, c + w // 2] == pytest.approx(k / 10, abs=0.01)
    assert qmap[0, 0] == pytest.approx(0.0) and qmap[-1, -1] == pytest.approx(0.8)  # constant beyond the centres


def test_window_labels_are_built_the_same_on_worker_processes(tmp_path):
    """The first run of a training set builds its labelled windows on every core (engine.parallel)."""
    from monai_fiqa.engine.parallel import process_map
    from monai_fiqa.fthnet.dataset import _star

    cfg = MixConfig(kinds=("haze",), p_clean=0.0, n_steps_probs=(1.0,), region_prob=1.0)
    records = read_quality_csv(make_labelled_set(2, tmp_path, size=256, seed=3, config=cfg))
    jobs = [(window_sample, r, 64, w) for r in records for w in (0, 4)]
    here = [_star(job) for job in jobs]
    there = list(process_map(_star, jobs, workers=2, min_items=1))
    assert len(there) == len(here) == 4
    for a, b in zip(here, there, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a[0], b[0])
            assert a[1] == b[1]
