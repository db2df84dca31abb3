"""EFIQA's pixel evidence (noise, exposure, regional exposure): clean held-out photographs pass all but a few
cells, the evidence falls with severity, a regional noise, darkness or over-exposure patch is lower where it is, and a
camera's tone curve, colour balance and vignetting are not read as regional exposure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from monai_fiqa.efiqa.inpainting_prior import GRID, cell_weights, to_map_fov, to_map_grid
from monai_fiqa.efiqa.pixel_evidence import median3x3, pixel_evidence, regional_exposure, regional_quality
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, square_mask
from monai_fiqa.fundus.camera import CameraProfile, record
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from tests.conftest import load_drive


def _evidence(image: np.ndarray):
    """The evidence exactly as the inferer computes it (FOV square -> 256-px grid, cells' FOV share)."""
    inp = fundus_input(image)
    box = fov_square_box(inp.image, fov=inp.fov)
    square = fundus_to_square(inp.image, SEG_SIZE, box)
    fov256 = to_map_fov(square_mask(inp.fov, box, SEG_SIZE) > 0.5)
    weight = cell_weights(fov256)
    return pixel_evidence(to_map_grid(square), fov256), weight


def _degrade(image, fov, kind, severity, seed, region=None):
    rng = np.random.default_rng(seed)
    params = DEGRADATIONS[kind].from_severity(severity, rng)
    out, truth = apply_degradation(image.astype(np.float32) / 255.0, kind, params, fov, rng, region)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8), truth


@pytest.fixture(scope="module")
def photograph(drive_test_images):
    return load_drive(drive_test_images[4])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_median3x3_equals_scipys(dtype):
    """The fast 3 x 3 median is scipy's, edges included, on a non-square array with ties."""
    image = np.random.default_rng(3).integers(0, 12, (37, 53)).astype(dtype)
    np.testing.assert_array_equal(median3x3(image), ndi.median_filter(image, 3))


def test_clean_photographs_are_not_penalised(drive_test_images):
    """No noise or exposure penalty anywhere; regional exposure marks at most a few cells (the optic disc is brighter
    than its ring, the rim of the field dimmer), and none of them fully."""
    for path in drive_test_images[:3]:
        evidence, weight = _evidence(load_drive(path)[0])
        report = evidence.report()
        assert report["noise_quality"] == 1.0 and report["exposure_quality"] == 1.0, report
        cells = evidence.quality[weight >= 0.5]
        assert cells.min() > 0.3 and (cells < 0.95).mean() < 0.05, (report, np.sort(cells)[:8])


@pytest.mark.parametrize("kind", ["noise", "overexposure"])
def test_evidence_falls_with_severity(photograph, kind):
    """Non-increasing over the ladder, 1 when clean, low at the end; the exposure ramp starts at a fixed level, so
    on this photograph (dark when clean) the first two exposure rungs stay at ~1 (a documented limitation)."""
    image, fov = photograph
    means = []
    for severity in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        evidence, weight = _evidence(_degrade(image, fov, kind, severity, seed=2)[0] if severity else image)
        means.append(float(evidence.quality[weight >= 0.5].mean()))
    assert all(b <= a for a, b in zip(means, means[1:], strict=False)), means  # saturates at 0 on the last rungs
    first = 1 if kind == "noise" else 3
    assert means[0] > 0.95 > means[first] and means[-1] < 0.35, means
    assert all(b < a for a, b in zip(means[first:], means[first + 1 :], strict=False) if a > 0), means


@pytest.mark.parametrize("kind", ["noise", "underexposure", "overexposure"])
def test_regional_degradation_is_lower_where_it_is(photograph, kind):
    image, fov = photograph
    region = random_region(fov, np.random.default_rng(4))
    degraded, truth = _degrade(image, fov, kind, 0.8, seed=4, region=region)
    evidence, weight = _evidence(degraded)
    inp = fundus_input(degraded)
    box = fov_square_box(inp.image, fov=inp.fov)
    cells = fundus_to_square(truth.astype(np.uint8) * 255, GRID, box) > 127
    inside = weight >= 0.5
    assert evidence.quality[cells & inside].mean() < evidence.quality[~cells & inside].mean() - 0.2


def test_camera_tone_colour_and_vignetting_are_not_regional_exposure(photograph):
    """A camera moves every cell's level together (gain, white balance, tone curve) or whole rings (vignetting):
    the regional factor of its recording stays that of the source photograph."""
    image, fov = photograph
    camera = CameraProfile(white_balance=(1.1, 0.92, 0.85), gamma=0.85, vignetting=0.3)
    source, weight = _evidence(image)
    recorded, weight_rec = _evidence(record(image, fov, camera).image)
    inside, inside_rec = weight >= 0.5, weight_rec >= 0.5
    recorded_quality = regional_quality(recorded.regional_exposure)[inside_rec].mean()
    assert recorded_quality > regional_quality(source.regional_exposure)[inside].mean() - 0.02


def test_regional_exposure_is_a_log_ratio_to_the_ring():
    """A uniform disc has no regional contrast; a patch at half the level reads log(0.5) against its ring (the
    offset aside); cells outside the field of view stay 0."""
    yy, xx = np.mgrid[0:256, 0:256]
    fov = (yy - 128) ** 2 + (xx - 128) ** 2 < 120**2
    square = np.zeros((256, 256, 3), np.uint8)
    square[fov] = 120
    weight = cell_weights(fov)
    assert np.abs(regional_exposure(square, fov, weight)).max() < 1e-6
    square[64:96, 160:192] = 60  # two by two cells in the third ring
    contrast = regional_exposure(square, fov, weight)
    assert np.allclose(contrast[4:6, 10:12], np.log((60 + 8) / (120 + 8)), atol=1e-5)
    assert (contrast[weight < 0.5] == 0).all() and np.abs(np.delete(contrast.ravel(), [74, 75, 90, 91])).max() < 1e-6
