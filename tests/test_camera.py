from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from monai_fiqa.cli import main
from monai_fiqa.fthnet.dataset import FundusQualityDataset
from monai_fiqa.fundus.camera import CAMERA_SHIFT_PROFILES, CameraProfile, random_profile, record, record_pair
from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.io.quality_csv import read_quality_csv


@pytest.fixture(scope="module")
def scene():
    s = render_fundus(5, size=256)
    return s, Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)


def test_source_profile_is_the_identity(scene):
    s, _ = scene
    rec = record(s.image, s.fov_mask, CameraProfile())
    assert np.array_equal(rec.image, s.image) and rec.scale == 1.0 and rec.offset == (0, 0)


@pytest.mark.parametrize("profile", CAMERA_SHIFT_PROFILES[1:], ids=lambda p: p.name)
def test_profiles_resample_to_their_field_of_view_and_shape_it(scene, profile):
    s, anatomy = scene
    rec = record(s.image, s.fov_mask, profile, seed=3)
    assert rec.image.shape[:2] == rec.fov.shape
    cols = np.flatnonzero(rec.fov.any(0))
    width = cols[-1] - cols[0] + 1
    if profile.shape == "fill":  # the retina fills the frame
        assert rec.fov.mean() > 0.97
    else:
        assert abs(width - profile.fov_px) < 0.03 * profile.fov_px
    if profile.shape == "truncated_tb":  # the sensor cuts the circle at top and bottom
        assert rec.fov[0].any() and rec.fov[-1].any() and rec.image.shape[0] < rec.image.shape[1]
    # landmarks follow the resampling and the crop: the disc stays where the bright disc is
    _, deg, moved, _ = record_pair(s.image, s.image, anatomy, np.zeros_like(s.fov_mask), profile, seed=3)
    r, c = (int(round(v)) for v in moved.disc_center)
    lum = deg.astype(float).mean(-1)
    assert lum[r, c] > np.percentile(lum[rec.fov], 90)


def test_random_profiles_cover_every_shape():
    rng = np.random.default_rng(0)
    shapes = {random_profile(rng).shape for _ in range(200)}
    assert shapes == {"circle", "truncated_tb", "truncated_lr", "notch", "fill"}


def test_synth_camera_rows_and_severity_targets(tmp_path):
    out = tmp_path / "set"
    assert main(["synth", "--n", "6", "--out", str(out), "--size", "256", "--seed", "4", "--camera-prob", "1"]) == 0
    rows = list(csv.DictReader((out / "labels.csv").open()))
    assert all(r["camera_shape"] for r in rows)
    records = read_quality_csv(out / "labels.csv")
    kinds = ("defocus", "motion", "haze", "illumination", "underexposure", "overexposure", "artefacts", "noise", "jpeg")
    ds = FundusQualityDataset(records, 64, train=True, severity_kinds=kinds)
    for i, r in enumerate(rows):
        _, _, sev, weight = ds[i]
        steps = [k for k in kinds if r.get(f"{k}_severity")]
        mixed = len({r[f"{k}_regional"] for k in steps}) > 1
        for j, k in enumerate(kinds):
            if not r.get(f"{k}_severity"):
                assert float(sev[j]) == 0.0 and float(weight[j]) == 1.0
            elif r[f"{k}_regional"] == "0":
                assert float(sev[j]) == pytest.approx(float(r[f"{k}_severity"]), abs=1e-6)
            elif mixed:  # the union region includes the global step's whole field: this kind's share is unknown
                assert float(weight[j]) == 0.0
            else:  # a regional step counts with the share of the field it covers
                assert 0.0 < float(sev[j]) < float(r[f"{k}_severity"])


def test_dataset_cache_gives_the_same_samples_and_is_reused(tmp_path):
    out = tmp_path / "set"
    assert main(["synth", "--n", "4", "--out", str(out), "--size", "256", "--seed", "5"]) == 0
    records = read_quality_csv(out / "labels.csv")
    plain = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5)
    cached = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5, cache_dir=tmp_path / "cache")
    again = FundusQualityDataset(records, 64, train=True, zoom_prob=0.5, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir())[0].startswith("squares_")
    for i in range(len(records)):
        a, b, c = plain[i], cached[i], again[i]
        assert all(torch.equal(x, y) and torch.equal(y, z) for x, y, z in zip(a, b, c, strict=True))
