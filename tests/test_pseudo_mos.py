from __future__ import annotations

import numpy as np
import pytest

from monai_fiqa.demo import retina_path
from monai_fiqa.fundus.ladder import severity_ladder
from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.pseudo_mos import GRADE_THRESHOLDS, pseudo_mos
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.fundus.synth_set import resize_longest
from monai_fiqa.io.images import read_rgb
from monai_fiqa.results import grade_from_score, require_thresholds
from tests.conftest import load_drive

SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# degradations that, at full severity, make a photograph ungradable
SEVERE = ("defocus", "motion", "haze", "underexposure", "noise", "jpeg")


def _ladder_table(image: np.ndarray, anatomy: Anatomy, seed: int) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for r in severity_ladder(image, severities=SEVERITIES, seed=seed, anatomy=anatomy):
        table.setdefault(r["kind"], []).append(r["label"].score)
    return table


def _check_ladder(table: dict[str, list[float]], where: str, severe: tuple[str, ...] = SEVERE) -> None:
    assert set(table) == set(DEGRADATIONS)
    for kind, scores in table.items():
        assert np.all(np.diff(scores) < 0), f"{where}: pseudo-MOS not falling with {kind} severity: {scores}"
        assert scores[0] >= GRADE_THRESHOLDS["good"], f"{where}: {kind} at severity 0 is not good"
    for kind in severe:
        assert table[kind][-1] < GRADE_THRESHOLDS["usable"], f"{where}: {kind} at full severity not reject"


@pytest.mark.parametrize("index", [0, 7, 15])
def test_monotone_in_every_severity_on_real_drive_photographs(drive_test_images, index):
    image, fov = load_drive(drive_test_images[index])
    _check_ladder(_ladder_table(image, estimate_anatomy(image, fov), seed=index), drive_test_images[index].name)


def test_monotone_on_scikit_image_retina():
    image, _ = read_rgb(retina_path())
    image = resize_longest(image, 512)
    _check_ladder(_ladder_table(image, estimate_anatomy(image), seed=1), "retina.jpg")


def test_monotone_on_synthetic_with_true_anatomy():
    s = render_fundus(2)
    anatomy = Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)
    # JPEG at quality 4 leaves a smooth rendered image usable (measured ~56), so it is not required to reject here
    _check_ladder(_ladder_table(s.image, anatomy, seed=2), "synthetic", severe=tuple(k for k in SEVERE if k != "jpeg"))


def test_clean_scores_90_and_anatomy_weighting_matters(drive_test_images):
    from dataclasses import replace

    from monai_fiqa.fundus.physics import apply_degradation

    image, fov = load_drive(drive_test_images[3], size=384)
    anatomy = estimate_anatomy(image, fov)
    assert pseudo_mos(image, image, anatomy).score == pytest.approx(90.0)
    # darken the macula; the same damage must cost more when the macula is where the anatomy says it is than when
    # the anatomy puts the fovea elsewhere (FQS: macula and disc count more than the periphery)
    h, w = fov.shape
    yy, xx = np.mgrid[0:h, 0:w]
    fr, fc = anatomy.fovea_center
    macula = np.hypot(yy - fr, xx - fc) < 0.1 * max(h, w)
    img = image.astype(np.float32) / 255
    out, _ = apply_degradation(img, "underexposure", {"ev": -2.5}, fov, np.random.default_rng(0), region=macula)
    cy, cx = np.argwhere(fov).mean(0)
    elsewhere = replace(anatomy, fovea_center=(float(cy + 0.3 * h), float(cx)))
    assert pseudo_mos(img, out, anatomy).score < pseudo_mos(img, out, elsewhere).score - 2


def test_grades_and_errors():
    th = GRADE_THRESHOLDS
    assert [grade_from_score(s, th) for s in (95, 50, 10)] == ["good", "usable", "reject"]
    with pytest.raises(ValueError, match="required"):
        require_thresholds(None)
    with pytest.raises(ValueError, match="usable <= good"):
        require_thresholds({"good": 40.0, "usable": 60.0})
    s = render_fundus(0, size=128)
    anatomy = Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)
    with pytest.raises(ValueError, match="differ in shape"):
        pseudo_mos(s.image, s.image[:64], anatomy)
