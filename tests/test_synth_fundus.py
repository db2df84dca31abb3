from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from monai_fiqa.fundus.landmarks import estimate_anatomy
from monai_fiqa.synth import LESION_TYPES, render_fundus


def test_same_seed_same_image_different_seed_different_image():
    a, b, c = render_fundus(7, size=256), render_fundus(7, size=256), render_fundus(8, size=256)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.vessel_mask, b.vessel_mask)
    assert a.params == b.params
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_shapes_types_and_resolution(size):
    s = render_fundus(1, size=size, lesions=False)
    assert s.image.shape == (size, size, 3) and s.image.dtype == np.uint8
    for m in (s.vessel_mask, s.artery_mask, s.fov_mask, s.lesion_mask):
        assert m.shape == (size, size) and m.dtype == bool
    assert not (s.artery_mask & ~s.vessel_mask).any()
    # vessel area fraction is scale-invariant (5-15 % of the FOV, as in DRIVE's labels)
    frac = s.vessel_mask.sum() / s.fov_mask.sum()
    assert 0.04 < frac < 0.18


def test_fov_is_a_dark_surround_and_bright_choroid():
    s = render_fundus(3)
    inside, outside = s.image[s.fov_mask], s.image[~ndi.binary_dilation(s.fov_mask, iterations=3)]
    assert outside.mean() < 15
    r, g, b = inside.reshape(-1, 3).mean(0)
    assert r > g > b and r > 120  # orange-red fundus


def test_vessel_mask_is_aligned_with_rendered_vessels():
    s = render_fundus(5, lesions=False)
    green = s.image[..., 1].astype(float)
    ring = ndi.binary_dilation(s.vessel_mask, iterations=4) & ~ndi.binary_dilation(s.vessel_mask, iterations=1)
    ring &= ndi.binary_erosion(s.fov_mask, iterations=5)
    vessels = s.vessel_mask & ndi.binary_erosion(s.fov_mask, iterations=5)
    assert green[vessels].mean() < green[ring].mean() - 10
    # an independent vessel detector run on the image finds the mask (shifting the mask breaks the overlap)
    est = estimate_anatomy(s.image).vessels
    dice = 2 * (est & s.vessel_mask).sum() / (est.sum() + s.vessel_mask.sum())
    shifted = np.roll(s.vessel_mask, 6, axis=1)
    dice_shifted = 2 * (est & shifted).sum() / (est.sum() + shifted.sum())
    assert dice > 0.7 and dice_shifted < dice - 0.3


def test_landmarks_match_the_image():
    s = render_fundus(11, lesions=False)
    est = estimate_anatomy(s.image)
    assert np.hypot(*np.subtract(est.disc_center, s.disc_center)) < 1.0 * s.disc_radius
    assert np.hypot(*np.subtract(est.fovea_center, s.fovea_center)) < 1.5 * s.disc_radius
    # disc-fovea distance is about 2.5 disc diameters
    assert 2.0 < np.hypot(*np.subtract(s.disc_center, s.fovea_center)) / (2 * s.disc_radius) < 3.0
    # arteries are lighter than veins
    g = s.image[..., 1].astype(float)
    assert g[s.artery_mask].mean() > g[s.vessel_mask & ~s.artery_mask].mean()


def test_both_eyes_occur():
    eyes = {render_fundus(i, size=128).params["eye"] for i in range(12)}
    assert eyes == {"left", "right"}


@pytest.mark.parametrize("kind", LESION_TYPES)
def test_lesions_are_drawn_where_masked_with_their_colour(kind):
    s = render_fundus(4, lesions=(kind,))
    assert s.lesion_mask.any() and not render_fundus(4, lesions=False).lesion_mask.any()
    lesion = s.lesion_mask & ~s.vessel_mask
    ring = ndi.binary_dilation(s.lesion_mask, iterations=6) & ~ndi.binary_dilation(s.lesion_mask, iterations=2)
    ring &= s.fov_mask & ~s.vessel_mask
    g = s.image[..., 1].astype(float)
    if kind in ("exudates", "drusen"):  # yellow-white deposits are brighter than the retina around them
        assert g[lesion].mean() > g[ring].mean() + 10
    else:  # blood is darker
        assert g[lesion].mean() < g[ring].mean() - 10


def test_rejects_bad_size():
    with pytest.raises(ValueError):
        render_fundus(0, size=16)
