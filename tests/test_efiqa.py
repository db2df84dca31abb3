"""EFIQA building blocks: coverage masks, the missing-vessel normalisation, encoders, adapter, assessor plumbing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_fiqa.efiqa.assessor import EFIQAAssessor, cell_weights, pooled_score
from monai_fiqa.efiqa.inpainting_prior import (
    CALIBRE_CONTRAST,
    GRID,
    MAP_SIZE,
    Stage1Networks,
    anomaly,
    calibre,
    calibre_contrast,
    coverage_masks,
    inpaint_cover,
    missing_to_quality,
)
from monai_fiqa.efiqa.networks import (
    ConvMIM,
    EFIQAAdapter,
    FundusConvEncoder,
    FundusDetailStats,
    PatchFeatureEncoder,
    vessel_inpainter,
)
from monai_fiqa.efiqa.train import VesselMapSet, _patchify
from monai_fiqa.fundus.landmarks import fov_mask
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.registry import create_model

TH = {"good": 57.0, "usable": 37.0}  # the bundle's thresholds


def test_every_pixel_is_masked_in_exactly_one_turn():
    masks = coverage_masks()
    assert masks.shape == (4, MAP_SIZE, MAP_SIZE)
    assert np.array_equal(masks.sum(0), np.ones((MAP_SIZE, MAP_SIZE)))


def test_inpaint_cover_takes_each_pixel_from_its_masked_turn():
    class Echo(torch.nn.Module):  # "predicts" the mask channel: the expected map is then 1 everywhere
        def forward(self, x):
            return torch.logit(x[:, 1:2].clamp(1e-4, 1 - 1e-4))

    out = inpaint_cover(Echo(), np.zeros((2, MAP_SIZE, MAP_SIZE), np.float32))
    assert out.shape == (2, MAP_SIZE, MAP_SIZE) and np.allclose(out, 1.0, atol=1e-3)


def test_missing_or_invisible_vessels_lower_their_cells():
    rng = np.random.default_rng(0)
    expected = (rng.uniform(size=(MAP_SIZE, MAP_SIZE)) > 0.8).astype(np.float32)
    fov = np.ones((MAP_SIZE, MAP_SIZE), bool)
    visible = np.full((MAP_SIZE, MAP_SIZE), 30.0, np.float32)  # above every calibre's usual contrast
    q, w = missing_to_quality(expected, expected, visible, fov)
    assert q.min() > 0.95 and np.allclose(w, 1.0)
    observed = expected.copy()
    observed[:64, :64] = 0.0  # not there: the top-left 4 x 4 cells lose their vessels
    q, _ = missing_to_quality(observed, expected, visible, fov)
    assert q[:2, :2].max() < 0.3 and q[6:, 6:].min() > 0.95
    faint = visible.copy()
    faint[-64:, -64:] = 0.5  # not visible: found, but at half a grey level of contrast
    q, _ = missing_to_quality(expected, expected, faint, fov)
    assert q[-2:, -2:].max() < 0.3 and q[:10, :10].min() > 0.95
    fov[:, :128] = False
    q, w = missing_to_quality(observed, expected, visible, fov)
    assert np.all(q[:, :8] == 1.0) and np.all(w[:, :8] < 0.5)  # outside the FOV: not assessed


def test_a_dimmed_trunk_is_not_visible_where_a_thin_vessel_would_be():
    trunk = np.zeros((MAP_SIZE, MAP_SIZE), np.float32)
    trunk[:, 120:128] = 1.0  # an 8-px vessel: calibre proxy ~1
    thin = np.zeros_like(trunk)
    thin[:, 127] = 1.0  # a 1-px vessel: calibre proxy ~0.27
    contrast = np.full_like(trunk, 9.0)  # 9 levels: plenty for a thin vessel, a third of a trunk's usual 28
    assert calibre(trunk)[128, 124] > 0.9 > 0.3 > calibre(thin)[128, 127]
    a_trunk = anomaly(trunk, trunk, contrast)[128, 124]
    a_thin = anomaly(thin, thin, contrast)[128, 127]
    assert a_trunk > 0.3 and a_thin < 0.05


def test_calibre_contrast_table_rises_with_calibre():
    maps = [np.zeros((MAP_SIZE, MAP_SIZE), np.float32) for _ in range(2)]
    maps[0][:, 100:108] = 1.0
    maps[1][:, 50] = 1.0
    contrast = [m * 0 + 25.0 for m in maps[:1]] + [maps[1] * 0 + 5.0]
    table = calibre_contrast(maps, contrast)
    assert table.shape == CALIBRE_CONTRAST.shape and table[0] == 5.0 and table[-1] == 25.0
    assert np.all(np.diff(CALIBRE_CONTRAST) >= 0)


def test_progressive_masking_grows():
    data = VesselMapSet(np.zeros((3, MAP_SIZE, MAP_SIZE), np.float16), total=200)
    early = [float(data[0][2].mean()) for _ in range(20)]
    for _ in range(120):
        data[0]
    late = [float(data[0][2].mean()) for _ in range(40)]
    assert max(early) <= 8 / 64 + 1e-6 < max(late) and max(late) <= 32 / 64


def test_patchify_matches_the_patch_embedding_order():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    p = _patchify(x, 16)
    assert p.shape == (2, 4, 16 * 16 * 3)
    assert p[0, 1, 0] == x[0, 0, 0, 16]  # token 1 = first row, second column


def test_encoder_accepts_tokens_maps_and_mae():
    class Tokens(torch.nn.Module):
        def forward(self, x):
            b = x.shape[0]
            grid = torch.arange(16.0).reshape(1, 16, 1).expand(b, 16, 8)
            return torch.cat([torch.full((b, 1, 8), -1.0), grid], dim=1)  # class token + 4 x 4 grid

    enc = PatchFeatureEncoder(Tokens(), img_size=64)
    f = enc(torch.zeros(2, 3, 64, 64))
    assert f.shape == (2, 8, 4, 4) and f[0, 0, 0, 1] == 1 and f[0, 0, 1, 0] == 4  # row-major, class token dropped
    conv = PatchFeatureEncoder(torch.nn.Conv2d(3, 5, 16, stride=16), img_size=64)
    assert conv.out_channels == 5 and not any(p.requires_grad for p in conv.parameters())
    adapter = create_model("efiqa_adapter_tiny")
    out = adapter(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1, GRID, GRID) and 0 < out.min() and out.max() < 1
    assert isinstance(adapter, EFIQAAdapter) and isinstance(adapter.encoder.backbone, torch.nn.Module)


def test_masked_image_modelling_never_sees_the_blanked_patches():
    mim = ConvMIM(FundusConvEncoder((8, 8, 8, 8), img_size=64), mask_ratio=0.5).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)
    pred, mask = mim(x)
    assert pred.shape == (2, 16, 16 * 16 * 3) and mask.shape == (2, 16) and mask.sum(1).tolist() == [8.0, 8.0]
    hidden = mask.reshape(2, 1, 4, 4).repeat_interleave(16, 2).repeat_interleave(16, 3).bool().expand_as(x)
    y = x.clone()
    y[hidden] = 100.0  # change only what was blanked
    torch.manual_seed(1)
    pred2, mask2 = mim(y)
    assert torch.equal(mask, mask2) and torch.allclose(pred, pred2)
    enc = PatchFeatureEncoder(FundusConvEncoder((8, 8, 8, 8), img_size=64), img_size=64)
    assert enc(x).shape == (2, 24, 4, 4) and enc.out_channels == 24


def test_detail_statistics_see_blur_and_separate_darkness_from_lost_contrast():
    """Fixed per-patch statistics: blurring the left half lowers its fine-band energy and leaves the right half alone;
    dimming the photograph lowers the absolute band energy but keeps the energy relative to brightness."""
    from scipy.ndimage import gaussian_filter

    from monai_fiqa.efiqa.vessel_segmentation import to_input

    photo = render_fundus(3, size=256).image
    blurred = photo.copy()
    blurred[:, :128] = gaussian_filter(photo[:, :128].astype(np.float32), (3, 3, 0)).astype(np.uint8)
    dim = (photo.astype(np.float32) * 0.5).astype(np.uint8)
    stats = FundusDetailStats()
    assert not list(stats.parameters())  # fixed: nothing to train, nothing in a checkpoint
    f, fb, fd = (stats(to_input(im)[None])[0] for im in (photo, blurred, dim))
    assert f.shape == (stats.out_channels, 16, 16) and torch.isfinite(f).all()
    left, right = (slice(5, 11), slice(2, 7)), (slice(5, 11), slice(9, 14))
    assert fb[0][left].mean() < f[0][left].mean() - 1.0  # band G0 - G1: log energy down by more than e
    assert torch.allclose(fb[:, right[0], 10:14], f[:, right[0], 10:14], atol=1e-4)
    assert fd[0][right].mean() < f[0][right].mean() - 0.5  # absolute energy halves ...
    assert abs(float(fd[2][right].mean() - f[2][right].mean())) < 0.2  # ... relative energy stays
    adapter = EFIQAAdapter(PatchFeatureEncoder(FundusConvEncoder((8, 8, 8, 8)), img_size=256), detail=True).eval()
    assert adapter.features(to_input(photo)[None]).shape == (1, 24 + stats.out_channels, 16, 16)


@pytest.fixture(scope="module")
def tiny_assessors():
    torch.manual_seed(0)
    stage2 = EFIQAAssessor(network=create_model("efiqa_adapter_tiny").eval(), thresholds=TH)
    small = (4, 8, 16)
    seg = create_model("efiqa_vessel_unet", channels=small, num_res_units=0)
    stage1 = EFIQAAssessor(Stage1Networks(seg, vessel_inpainter(small, 0)), thresholds=TH)
    assert (stage1.mode, stage2.mode) == ("stage1", "stage2")
    return stage2, stage1


def test_assessor_map_is_input_sized_and_one_outside_the_fov(tiny_assessors):
    sample = render_fundus(3, size=320)
    outside = ~fov_mask(sample.image)  # the field of view the assessor detects
    assert 0.1 < outside.mean() < 0.4
    for assessor in tiny_assessors:
        r = assessor.assess(sample.image)
        assert r.quality_map.shape == sample.image.shape[:2] and r.quality_map.dtype == np.float32
        assert np.all(r.quality_map[outside] == 1.0) and 0 <= r.score <= 100
        assert r.grade in ("good", "usable", "reject") and not r.params["out_of_distribution"]


def test_non_fundus_inputs_are_flagged_or_refused(tiny_assessors):
    stage2, _ = tiny_assessors
    grey = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))
    r = stage2.assess(grey)
    assert r.grade == "reject" and r.params["out_of_distribution"] and r.params["warnings"]
    with pytest.raises(ValueError, match="at least"):
        stage2.assess(np.zeros((32, 32, 3), np.uint8))


def test_pooled_score_ignores_cells_outside_the_fov():
    fov = np.zeros((512, 512), bool)
    fov[:, :256] = True
    w = cell_weights(fov)
    q = np.ones((GRID, GRID), np.float32)
    q[:, 8:] = 0.0  # "bad" but outside the FOV
    assert pooled_score(q, w) == pytest.approx(100.0)


def test_foveal_prior_empties_the_expectation_at_the_fovea_only():
    """The prior is centred on the rendered fovea (found in the tight search), ~0 there and ~1 a disc away."""
    from monai_fiqa.efiqa.inpainting_prior import foveal_prior

    s = render_fundus(3, size=256, lesions=False)
    prior, (fr, fc) = foveal_prior(s.image, s.fov_mask)
    assert np.hypot(fr - s.fovea_center[0], fc - s.fovea_center[1]) < s.disc_radius
    assert prior[int(fr), int(fc)] < 0.01
    far = (int(s.disc_center[0]), int(s.disc_center[1]))
    assert prior[far] > 0.99 and prior.min() >= 0.0 and prior.max() <= 1.0


def test_a_dark_region_away_from_the_macula_does_not_move_the_foveal_prior():
    """A dark blob inside the wide landmark band (where the unrestricted finder takes it for the fovea) but outside
    the tight search leaves the prior where it was."""
    from monai_fiqa.efiqa.inpainting_prior import foveal_prior
    from monai_fiqa.fundus.landmarks import fov_diameter

    s = render_fundus(3, size=256, lesions=False)
    d = fov_diameter(s.fov_mask)
    toward = np.sign(s.fovea_center[1] - s.disc_center[1])
    at = (s.disc_center[0] - 0.08 * d, s.disc_center[1] + toward * 0.28 * d)
    yy, xx = np.mgrid[0:256, 0:256]
    blob = np.hypot(yy - at[0], xx - at[1]) < 0.04 * d
    dark = s.image.copy()
    dark[blob] = (dark[blob] * 0.3).astype(np.uint8)
    _, clean_fovea = foveal_prior(s.image, s.fov_mask)
    _, dark_fovea = foveal_prior(dark, s.fov_mask)
    assert np.hypot(*np.subtract(clean_fovea, dark_fovea)) < 0.03 * d  # prior s = 0.05 d
    _, fooled = foveal_prior(dark, s.fov_mask, search=None)  # the wide band
    assert np.hypot(*np.subtract(fooled, at)) < 0.04 * d


def test_adapter_set_keeps_to_the_eyes_and_real_share_it_is_given(tmp_path):
    """A validation set of held-out eyes must contain only those eyes; ``real_fraction`` sets the real share."""
    import json

    from monai_fiqa.efiqa.data import build_adapter_set
    from tests.conftest import DRIVE

    if not (DRIVE / "training" / "images").is_dir():
        pytest.skip(f"DRIVE not found under {DRIVE}")
    small = (4, 8, 16)
    seg = create_model("efiqa_vessel_unet", channels=small, num_res_units=0).eval()
    inp = vessel_inpainter(small, 0).eval()
    out = build_adapter_set(
        seg, inp, DRIVE, 24, tmp_path / "a.npz", n_synth_sources=2, eyes=["37", "38"], real_fraction=0.75
    )
    data = np.load(out)
    sources = [r["source"] for r in json.loads(str(data["manifest"]))["recipes"]]
    real = [s for s in sources if s.startswith("drive_")]
    assert set(real) <= {"drive_train_37", "drive_train_38"} and 15 <= len(real) <= 22  # 20 here; uniform: 9
    assert all(s.startswith("render_") for s in sources if s not in real)
    assert data["images"].shape == (24, MAP_SIZE, MAP_SIZE, 3) and data["quality"].shape == (24, GRID, GRID)


def test_adapter_set_records_photographs_with_other_cameras_when_asked(tmp_path):
    """``camera_prob`` re-records a share of the photographs (named in the manifest) and squares them again; the
    default records none, so older sets rebuild exactly."""
    import json

    from monai_fiqa.efiqa.data import _camera_square, build_adapter_set
    from monai_fiqa.fundus.renderer import render_fundus
    from tests.conftest import DRIVE

    if not (DRIVE / "training" / "images").is_dir():
        pytest.skip(f"DRIVE not found under {DRIVE}")
    small = (4, 8, 16)
    seg = create_model("efiqa_vessel_unet", channels=small, num_res_units=0).eval()
    inp = vessel_inpainter(small, 0).eval()
    recipes = {}
    for prob in (0.0, 1.0):
        out = build_adapter_set(
            seg, inp, DRIVE, 4, tmp_path / f"{prob}.npz", n_synth_sources=1, eyes=["37"], camera_prob=prob
        )
        recipes[prob] = json.loads(str(np.load(out)["manifest"]))["recipes"]
    assert all(r["camera"] is None for r in recipes[0.0]) and all(r["camera"] for r in recipes[1.0])
    s = render_fundus(3, size=512)
    squared, fov, camera = _camera_square(s.image, s.fov_mask, np.random.default_rng(0))
    assert squared.shape == (512, 512, 3) and fov.shape == (512, 512) and 0.3 < fov.mean() < 0.95
    assert not np.array_equal(squared, s.image) and camera["name"] == "random"
