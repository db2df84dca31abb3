"""The fundus input check on the field-of-view shapes real cameras and exports produce, and on photographs that
are not fundus images.

Every shape is made here from DRIVE and scikit-image's ``retina.jpg`` by cropping and masking: a full circle, a
circle cut by the frame at the top and bottom or at the sides (a rectangular sensor), a small notch at the edge,
a crop that fills the frame, and surrounds of dark grey and dark blue instead of black.  None may be flagged, and
the field-of-view mask the models use downstream must follow the shape.  Photographs of other things must be.
"""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.landmarks import fov_mask


def _photographs(drive_test_images) -> dict[str, np.ndarray]:
    return {
        "DRIVE": np.asarray(Image.open(drive_test_images[0]).convert("RGB")),
        "retina.jpg": skimage.data.retina(),
    }


def _shapes(image: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each camera/export shape of ``image``: (photograph, the field of view it must be found to have)."""
    fov = fov_mask(image)
    rows, cols = np.flatnonzero(fov.any(1)), np.flatnonzero(fov.any(0))
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    cut = (bottom - top) // 8
    cy, cx, half = (top + bottom) // 2, (left + right) // 2, int((bottom - top) * 0.33)
    notched, notch = image.copy(), np.zeros_like(fov)
    notch[top : top + cut // 2, cx - cut // 2 : cx + cut // 2] = True
    notched[notch] = 0
    shapes = {
        "full circle": (image, fov),
        "cut at top and bottom": (image[top + cut : bottom - cut], fov[top + cut : bottom - cut]),
        "cut at the sides": (image[:, left + cut : right - cut], fov[:, left + cut : right - cut]),
        "fills the frame": (image[cy - half : cy + half, cx - half : cx + half], np.ones((2 * half, 2 * half), bool)),
        "notched": (notched, fov & ~notch),
    }
    for name, colour in (("dark grey surround", (40, 40, 40)), ("dark blue surround", (5, 10, 45))):
        recoloured = image.copy()
        recoloured[~fov] = colour
        shapes[name] = (recoloured, fov)
    return shapes


@pytest.mark.parametrize("source", ["DRIVE", "retina.jpg"])
def test_every_real_field_of_view_shape_is_accepted_and_followed(drive_test_images, source):
    for shape, (image, expected_fov) in _shapes(_photographs(drive_test_images)[source]).items():
        found = fundus_input(image)
        assert found.warnings == [], (source, shape, found.warnings)
        overlap = (found.fov & expected_fov).sum() / (found.fov | expected_fov).sum()
        assert overlap > 0.97, (source, shape, overlap)  # the mask the models use follows the shape


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"])
def test_photographs_of_other_things_are_flagged(name):
    """A person, a cup of coffee, a cat filling the frame (reddish, like a fundus crop), a rocket, a stained tissue
    section: each gets a reason."""
    assert fundus_input(getattr(skimage.data, name)()).warnings


def test_a_red_disc_on_black_is_not_a_fundus():
    yy, xx = np.mgrid[0:400, 0:400]
    disc = np.zeros((400, 400, 3), np.uint8)
    disc[(yy - 200) ** 2 + (xx - 200) ** 2 < 180**2] = (200, 40, 60)  # the shape is right, the colours are not
    assert any("colours" in w for w in fundus_input(disc).warnings)
