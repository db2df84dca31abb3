"""The shipped fundus_fthnet bundle: loads, grades real photographs sensibly, passes MONAI's bundle checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import monai_fiqa
from monai_fiqa.demo import retina_path
from monai_fiqa.fundus.landmarks import fov_mask
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation
from tests.conftest import load_drive
from tests.helpers import bundle_run

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "fundus_fthnet"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (BUNDLE / "models" / "model.pt").is_file(), reason="bundle weights not present"),
]


@pytest.fixture(scope="module")
def assessor():
    return monai_fiqa.load("fundus_fthnet")


def test_untouched_photographs_grade_good(assessor, drive_test_images):
    for path in (retina_path(), drive_test_images[0]):
        r = assessor.assess(path)
        assert r.grade == "good", f"{path.name}: {r.score:.1f}"
        assert not r.params["out_of_distribution"]


@pytest.mark.parametrize("kind", ["defocus", "haze", "underexposure", "noise"])
def test_heavily_degraded_photograph_grades_reject(assessor, drive_test_images, kind):
    image, fov = load_drive(drive_test_images[1])
    rng = np.random.default_rng(0)
    params = DEGRADATIONS[kind].from_severity(1.0, rng)
    deg, _ = apply_degradation(image.astype(np.float32) / 255, kind, params, fov, rng)
    r = assessor.assess(np.clip(deg * 255 + 0.5, 0, 255).astype(np.uint8))
    clean = assessor.assess(image)
    assert r.grade == "reject" and r.score < clean.score - 25, f"{kind}: {r.score:.1f} vs clean {clean.score:.1f}"


def test_folder_run(tmp_path):
    """MONAI's bundle runner on a folder (the model-zoo checks are in test_bundle_distribution)."""
    images = tmp_path / "in"
    images.mkdir()
    Image.open(retina_path()).resize((512, 512)).save(images / "retina.png")
    res = bundle_run(BUNDLE, images, tmp_path / "out")
    assert res["retina.png"]["grade"] == "good"
    assert fov_mask(np.asarray(Image.open(tmp_path / "out" / "maps" / "retina_overlay.png"))).any()


def test_clean_scores_above_defocused_and_the_severities_say_why(assessor, drive_test_images):
    image, fov = load_drive(drive_test_images[3])
    rng = np.random.default_rng(2)
    params = DEGRADATIONS["defocus"].from_severity(0.7, rng)
    deg, _ = apply_degradation(image.astype(np.float32) / 255, "defocus", params, fov, rng)
    blurred = assessor.assess(np.clip(deg * 255 + 0.5, 0, 255).astype(np.uint8))
    clean = assessor.assess(image)
    assert blurred.score < clean.score - 10
    severities = blurred.params["degradations"]
    assert set(severities) == set(DEGRADATIONS) and max(severities, key=severities.get) == "defocus"


def test_map_is_lower_in_a_regionally_hazed_quadrant(assessor, drive_test_images):
    image, fov = load_drive(drive_test_images[2])
    h, w = fov.shape
    quadrant = np.zeros_like(fov)
    quadrant[: h // 2, : w // 2] = True
    rng = np.random.default_rng(1)
    params = DEGRADATIONS["haze"].from_severity(0.9, rng)
    deg, _ = apply_degradation(image.astype(np.float32) / 255, "haze", params, fov, rng, region=quadrant & fov)
    r = assessor.assess(np.clip(deg * 255 + 0.5, 0, 255).astype(np.uint8))
    inside, outside = r.quality_map[quadrant & fov].mean(), r.quality_map[~quadrant & fov].mean()
    assert inside < outside - 0.05, f"map inside the hazed quadrant {inside:.2f}, elsewhere {outside:.2f}"
