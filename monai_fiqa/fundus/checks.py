"""Is this a colour fundus photograph the fundus models can score?  Checks that flag, rather than silently score.

Why: a quality model will output a number for anything - a chest X-ray, a cat, a 32-pixel thumbnail.  A score
only means something for a colour fundus photograph with a visible field of view, so inputs that are not are
reported (``warnings``) and graded ``reject``, and inputs that cannot be scored at all raise ``ValueError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from monai_fiqa.fundus.landmarks import fov_mask
from monai_fiqa.io.images import read_rgb, to_rgb_uint8

__all__ = ["MIN_SIDE", "WORK_SIDE", "FundusInput", "fundus_input", "fundus_warnings"]

MIN_SIDE = 128
# the field of view and the checks are found on a copy subsampled to at least this short side: at full size they
# cost 31 ms on a 565 x 584 DRIVE photograph (and ~10x that on a 3000-px one), more than EFIQA's stage-2 network
WORK_SIDE = 256


def fundus_warnings(
    image: np.ndarray, conversions: list[str] | None = None, fov: np.ndarray | None = None
) -> list[str]:
    """Reasons why ``image`` ((H, W, 3) uint8) is not an in-distribution colour fundus photograph.

    ``fov`` is its FOV mask if the caller already computed it.

    Raises:
        ValueError: the image is too small to assess, or has no content at all.
    """
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"image is {h}x{w} px; fundus quality needs at least {MIN_SIDE} px on the short side")
    if int(image.max()) - int(image.min()) < 8:
        raise ValueError("image is blank (constant): nothing to assess")
    warnings = [f"input {c}" for c in (conversions or []) if "greyscale" in c]
    if np.abs(image[..., 0].astype(int) - image[..., 1].astype(int)).mean() < 2:
        warnings.append("no colour: a colour fundus photograph is expected")
    fov = fov_mask(image) if fov is None else fov
    frac = fov.mean()
    if not 0.25 <= frac <= 0.97:
        warnings.append(f"no circular field of view found (bright area {frac:.0%} of the frame)")
    else:
        rows, cols = np.flatnonzero(fov.any(1)), np.flatnonzero(fov.any(0))
        hh, ww = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
        ellipse = ((yy - cy) / (hh / 2)) ** 2 + ((xx - cx) / (ww / 2)) ** 2 <= 1.0
        corners = ~ellipse & (np.abs(yy - cy) <= hh / 2) & (np.abs(xx - cx) <= ww / 2)
        dark_corners = (image[..., 0][corners] < 0.1 * 255).mean() if corners.any() else 1.0
        if not 0.88 <= fov.sum() / ellipse.sum() <= 1.06 or dark_corners < 0.6:
            warnings.append("bright area is not a circular field of view on a dark surround")
        inner = ndi.binary_erosion(fov, iterations=3)
        r, g, b = (image[..., c][inner].mean() for c in range(3)) if inner.any() else (0.0, 0.0, 0.0)
        if not (r > g > b and r > 1.5 * b and r - g > 15):
            warnings.append("colours are not those of a fundus (red > green > blue expected)")
    return warnings


@dataclass
class FundusInput:
    """A photograph as every fundus assessor needs it: RGB pixels, field of view, and why it may be out of scope."""

    image: np.ndarray  # (H, W, 3) uint8
    fov: np.ndarray  # (H, W) bool
    warnings: list[str]


def fundus_input(x: str | os.PathLike | np.ndarray) -> FundusInput:
    """Read (path) or convert (array) a photograph, find its field of view once, and check it.

    Raises:
        monai_fiqa.io.ImageReadError: unreadable file.
        ValueError: image too small or blank.
    """
    if isinstance(x, (str, os.PathLike)):
        image, meta = read_rgb(Path(x))
        conversions = meta["conversions"]
    else:
        image, conversions = to_rgb_uint8(np.asarray(x))
    h, w = image.shape[:2]
    f = max(1, min(h, w) // WORK_SIDE)
    work = image[::f, ::f]  # integer subsampling: the FOV edge is then known to f px, far below a 16-px map cell
    fov_work = fov_mask(work)  # once: the checks and the crop both need it
    warnings = fundus_warnings(work, conversions, fov_work)
    fov = np.repeat(np.repeat(fov_work, f, axis=0), f, axis=1)[:h, :w] if f > 1 else fov_work
    return FundusInput(image, fov, warnings)
