"""Pseudo-MOS: a 0-100 quality label computed from a degraded photograph and its clean source.

Why: no fundus quality labels can be downloaded here, so shipped models learn from labels we can compute.  The
label mimics how graders score fundus images (FQS-style criteria): can the optic disc, the macula and the vessels be
assessed?  It is a full-reference fidelity, weighted by anatomy, built from three factors in [0, 1]:

* ``structure`` - SSIM of the luminance (0.25 R + 0.6 G + 0.15 B) at two scales (FOV diameter ~256 and ~128 px,
  the scale at which a grader judges the image), averaged with anatomical weights;
* ``vessels`` - vessel contrast retention: the anatomy-weighted sum of (local background - vessel) luminance on the
  source's vessel pixels, degraded over clean, clipped to [0, 1].  The background is a normalised convolution that
  excludes vessel pixels, so zero-mean noise does not bias it; blur, haze and darkness lower it;
* ``exposure`` - the anatomy-weighted fraction of the field that is neither too dark (luminance < ~0.1) nor
  saturated (green or luminance > ~0.96; a saturated red channel alone is normal in fundus photographs),
  degraded over clean, clipped to [0, 1].

Anatomical weight: ``W = 1 + 2 exp(-d_disc^2 / 2(1.5 r)^2) + 3 exp(-d_fovea^2 / 2(2.5 r)^2)`` inside the field of
view (r = disc radius), so the disc and macula count up to 3-4 times more than the periphery.

Fidelity ``F = structure * vessels^0.5 * exposure^1.5`` and ``MOS = 5 + 85 * F^GAMMA`` (an untouched source scores 90:
the source itself is a real photograph, not a perfect one).  ``GAMMA`` was calibrated so that the random training mix
(:class:`monai_fiqa.fundus.mix.MixConfig`) puts most images between 50 and 85, as clinical data sets
do (see ``docs/synthetic_data.md`` for the measured histogram).  Grades: ``good`` >= 70, ``usable`` >= 45,
``reject`` below.  Every factor falls with every degradation's severity, hence so does the MOS (tested on real
DRIVE photographs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity
from skimage.transform import rescale

from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.results import grade_from_score

__all__ = ["GRADE_THRESHOLDS", "GAMMA", "PseudoMOS", "anatomy_weight", "pseudo_mos"]

GAMMA = 1.5
GRADE_THRESHOLDS = {"good": 70.0, "usable": 45.0}


@dataclass(frozen=True)
class PseudoMOS:
    """A pseudo-MOS label and the factors it was built from."""

    score: float
    grade: str
    structure: float
    vessels: float
    exposure: float

    def as_dict(self) -> dict[str, float | str]:
        return {
            "mos": round(self.score, 3),
            "grade": self.grade,
            "f_structure": round(self.structure, 4),
            "f_vessels": round(self.vessels, 4),
            "f_exposure": round(self.exposure, 4),
        }


def anatomy_weight(anatomy: Anatomy) -> np.ndarray:
    """Per-pixel anatomical importance (0 outside the FOV)."""
    h, w = anatomy.fov.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = anatomy.disc_radius
    d_disc2 = (yy - anatomy.disc_center[0]) ** 2 + (xx - anatomy.disc_center[1]) ** 2
    d_fov2 = (yy - anatomy.fovea_center[0]) ** 2 + (xx - anatomy.fovea_center[1]) ** 2
    weight = 1.0 + 2.0 * np.exp(-d_disc2 / (2 * (1.5 * r) ** 2)) + 3.0 * np.exp(-d_fov2 / (2 * (2.5 * r) ** 2))
    return (weight * anatomy.fov).astype(np.float32)


def _luminance(img: np.ndarray) -> np.ndarray:
    return (0.25 * img[..., 0] + 0.6 * img[..., 1] + 0.15 * img[..., 2]).astype(np.float32)


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float((x * w).sum() / max(float(w.sum()), 1e-8))


def _structure(lc: np.ndarray, ld: np.ndarray, weight: np.ndarray, diameter: float) -> float:
    vals = []
    for target in (256.0, 128.0):
        f = min(1.0, target / diameter)
        a, b, w = (rescale(x, f, anti_aliasing=True, order=1) for x in (lc, ld, weight))
        _, smap = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, full=True)
        vals.append(_wmean(np.clip(smap, 0.0, 1.0), w))
    return float(np.clip(np.mean(vals), 0.0, 1.0))


def _vessel_contrast(lum: np.ndarray, vessels: np.ndarray, weight: np.ndarray, sigma: float) -> float:
    bgw = (~vessels).astype(np.float32)
    bg = ndi.gaussian_filter(lum * bgw, sigma) / np.maximum(ndi.gaussian_filter(bgw, sigma), 1e-4)
    return float(((bg - lum) * weight * vessels).sum())


def _usable(img: np.ndarray) -> np.ndarray:
    lum = _luminance(img)
    dark = 1.0 / (1.0 + np.exp(-(lum - 0.1) / 0.025))
    sat = 1.0 / (1.0 + np.exp(-(0.96 - np.maximum(img[..., 1], lum)) / 0.01))
    return dark * sat


def pseudo_mos(clean: np.ndarray, degraded: np.ndarray, anatomy: Anatomy) -> PseudoMOS:
    """Compute the pseudo-MOS of ``degraded`` against its ``clean`` source.

    Args:
        clean: (H, W, 3) source photograph, uint8 or float in [0, 1].
        degraded: the same photograph after degradation, same shape and range convention.
        anatomy: anatomy of the clean source (ground truth for synthetic images, or
            :func:`monai_fiqa.fundus.landmarks.estimate_anatomy` for real ones).

    Returns:
        A :class:`PseudoMOS`.
    """
    if clean.shape != degraded.shape:
        raise ValueError(f"clean {clean.shape} and degraded {degraded.shape} differ in shape")
    c = clean.astype(np.float32) / (255.0 if clean.dtype == np.uint8 else 1.0)
    d = degraded.astype(np.float32) / (255.0 if degraded.dtype == np.uint8 else 1.0)
    weight = anatomy_weight(anatomy)
    lc, ld = _luminance(c), _luminance(d)
    structure = _structure(lc, ld, weight, anatomy.diameter)
    sigma = 0.015 * anatomy.diameter
    vessels = anatomy.vessels & anatomy.fov
    vc = _vessel_contrast(lc, vessels, weight, sigma)
    vessel = float(np.clip(_vessel_contrast(ld, vessels, weight, sigma) / vc, 0.0, 1.0)) if vc > 1e-6 else 1.0
    uc = _wmean(_usable(c), weight)
    exposure = float(np.clip(_wmean(_usable(d), weight) / max(uc, 1e-6), 0.0, 1.0))
    fidelity = structure * vessel**0.5 * exposure**1.5
    score = float(5.0 + 85.0 * fidelity**GAMMA)
    return PseudoMOS(score, grade_from_score(score, GRADE_THRESHOLDS), structure, vessel, exposure)
