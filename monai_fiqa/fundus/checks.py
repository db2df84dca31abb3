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
from skimage.measure import CircleModel, ransac

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
    if np.abs(image[..., 0].astype(np.int16) - image[..., 1].astype(np.int16)).mean() < 2:
        warnings.append("no colour: a colour fundus photograph is expected")
    fov = fov_mask(image) if fov is None else fov
    shape = _field_of_view_problem(fov)
    if shape is not None:
        warnings.append(shape)
    outside = ~fov
    if shape is None and outside.mean() > 0.01 and image[outside].mean() > 64:  # any dark colour, but dark
        warnings.append("the surround of the field of view is not dark")
    if fov.mean() > 0.97:  # no field of view to check: the content must look like retina throughout
        if _edge_density(image) > MAX_FILLED_EDGE_DENSITY:
            warnings.append("fills the frame with texture unlike a fundus (a close-up of something else?)")
        if _fundus_coloured(image) < MIN_FILLED_FUNDUS_COLOURED:
            warnings.append("fills the frame, but most of it is not fundus-coloured (a graphic or a photograph?)")
    if fov.mean() >= 0.25:
        inner = ndi.binary_erosion(fov, iterations=3)
        r, g, b = (image[..., c][inner].mean() for c in range(3)) if inner.any() else (0.0, 0.0, 0.0)
        if not (r > g > b and r > 1.5 * b and r - g > 15):
            warnings.append("colours are not those of a fundus (red > green > blue expected)")
    return warnings


# Median gradient of the luminance (smoothed: sigma 1.5 px at a ~256-px short side, so sensor noise and JPEG count
# little) over mean luminance.  Set between the DRIVE *training* photographs cropped to fill the frame and recorded by
# 60 random training cameras (at most 0.0145) and photographs of a cat close-up, coffee and a person
# (skimage.data: 0.018-0.034); the held-out check is benchmarks/fundus_check.py.  Without a field of view to check,
# this is what tells a fundus crop from another reddish photograph.
MAX_FILLED_EDGE_DENSITY = 0.017


# Share of pixels redder than both green and blue: 0.99 in a fundus (0.90 even over-exposed at severity 1, 0.58 at
# the strongest noise), 0.34 for scikit-image's logo (a disc on white) - checked only where the frame is filled.
MIN_FILLED_FUNDUS_COLOURED = 0.5


def _fundus_coloured(image: np.ndarray) -> float:
    """Share of pixels whose red exceeds green and blue by more than 10 grey levels."""
    r, g, b = (image[::2, ::2, c].astype(np.int16) for c in range(3))
    return float(((r > g + 10) & (r > b + 10)).mean())


def _edge_density(image: np.ndarray) -> float:
    """Median gradient of the smoothed luminance relative to its mean: a fundus is smooth but for its vessels."""
    f = max(1, min(image.shape[:2]) // WORK_SIDE)
    luminance = ndi.gaussian_filter(image[::f, ::f].astype(np.float32) @ np.float32([0.3, 0.6, 0.1]), 1.5)
    gradient = np.hypot(ndi.sobel(luminance, 0), ndi.sobel(luminance, 1)) / 8.0
    return float(np.median(gradient) / max(1.0, float(luminance.mean())))


def _field_of_view_problem(fov: np.ndarray) -> str | None:
    """Why the bright area is not a fundus camera's field of view, or None.

    Real cameras and exports give a full circle, a circle cut by the frame at the top and bottom or the sides, a
    circle with a small notch, or a crop that fills the frame.  So the check fits a circle (RANSAC, robust to a
    notch) to the mask's edge *away from the frame* and asks that the mask be that circle as the frame cuts it.
    """
    frac = float(fov.mean())
    if frac < 0.25:
        return f"no field of view found (bright area {frac:.0%} of the frame)"
    if frac > 0.97:
        return None  # a photograph cropped to fill the frame: nothing to fit (its texture is checked instead)
    edge = fov & ~ndi.binary_erosion(fov)
    edge[:2], edge[-2:], edge[:, :2], edge[:, -2:] = False, False, False, False  # where the frame cuts the mask
    ys, xs = np.nonzero(edge)
    if len(ys) < 12:
        return "bright area is not a circular field of view on a dark surround"
    points = np.column_stack([xs, ys]).astype(np.float64)
    model, _ = ransac(points, CircleModel, min_samples=3, residual_threshold=2.0, max_trials=200, rng=0)
    if model is None:
        return "bright area is not a circular field of view on a dark surround"
    (cx, cy), radius = model.center, model.radius
    h, w = fov.shape
    yy, xx = np.ogrid[0:h, 0:w]  # broadcast: no (H, W) coordinate arrays
    disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    overlap = (disk & fov).sum() / max(1, (disk | fov).sum())
    if overlap < 0.9 or 2 * radius < 0.5 * min(h, w):
        return "bright area is not a circular field of view on a dark surround"
    return None


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
    # integer subsampling: the FOV edge is then known to f px, far below a 16-px map cell; contiguous, because every
    # check below reads it whole and a strided view made them several times slower (max/min: 0.8 ms -> 0.01 ms)
    work = np.ascontiguousarray(image[::f, ::f])
    fov_work = fov_mask(work)  # once: the checks and the crop both need it
    warnings = fundus_warnings(work, conversions, fov_work)
    fov = np.repeat(np.repeat(fov_work, f, axis=0), f, axis=1)[:h, :w] if f > 1 else fov_work
    return FundusInput(image, fov, warnings)
