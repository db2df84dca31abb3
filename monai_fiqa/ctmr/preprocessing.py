"""CT/MR slice preparation for MedIQA: square, resample to the network grid, two intensity channels.

Why two channels: a quality model must see soft-tissue noise (a 400 HU window) and bone/air structure and streaks
(a 2000 HU window) at once; for MR the linear channel shows tissue, the square-root channel lifts the dark background
where Rician noise, ghosts and aliasing live.  Windows for CT are fixed in HU, so CT noise is comparable across
scanners; MR has no absolute unit, so it is scaled by the slice's own 99.5th percentile of foreground.
"""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

__all__ = ["CT_SOFT_TISSUE_WINDOW", "INPUT_SIZE", "foreground_mask", "intensity_scale", "prepare_slice", "to_square"]

INPUT_SIZE = 192
CT_SOFT_TISSUE_WINDOW = (-160.0, 240.0)  # HU: soft-tissue noise and low-contrast detail
_CT_WINDOWS = (CT_SOFT_TISSUE_WINDOW, (-1000.0, 1000.0))  # and bone / air structure, streaks


def to_square(img: np.ndarray, fill: float, size: int = INPUT_SIZE) -> np.ndarray:
    """Pad an (H, W) slice to a square with ``fill`` and resample it (anti-aliased) to ``size`` x ``size``."""
    h, w = img.shape
    side = max(h, w)
    out = np.full((side, side), fill, np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = img
    if side == size:
        return out
    return resize(out, (size, size), order=1, anti_aliasing=side > size, preserve_range=True).astype(np.float32)


# Why a cap: a receive-coil bias field puts a hot spot at the edge of the field of view; a scale that follows the hot
# spot darkens the anatomy and its native noise, and the network read that as a *better* image (held-out prostate T2:
# the score rose with the bias).  Capped, the hot spot saturates and the anatomy keeps its level.  Clean slices are
# rarely affected (99.5th percentile / median of the foreground: 1.2-2.5 for most training volumes).
SCALE_CAP = 3.0  # the MR scale is at most this many times the median of the foreground voxels


def intensity_scale(img: np.ndarray) -> float:
    """MR scale: 99.5th percentile of the voxels above 5 % of the maximum (robust to empty background), at most
    :data:`SCALE_CAP` times their median (robust to a bright region)."""
    pos = img[img > 0.05 * float(img.max())] if img.size and img.max() > 0 else img
    if not pos.size:
        return 1.0
    return max(min(float(np.percentile(pos, 99.5)), SCALE_CAP * float(np.median(pos))), 1e-6)


def foreground_mask(img: np.ndarray, modality: str, scale: float | None = None) -> np.ndarray:
    """Body/object voxels: HU > -500 for CT, > 8 % of the intensity scale for MR."""
    if modality == "CT":
        return img > -500.0
    return img > 0.08 * (scale if scale is not None else intensity_scale(img))


def prepare_slice(img: np.ndarray, modality: str, scale: float | None = None, size: int = INPUT_SIZE) -> np.ndarray:
    """(H, W) slice in HU (CT) or magnitude (MR) -> (2, size, size) float32 network input in about [0, 1].

    Args:
        img: the slice.
        modality: "CT" or "MR".
        scale: MR intensity scale (default: the slice's own :func:`intensity_scale`).
        size: network grid.
    """
    sq = to_square(img, -1000.0 if modality == "CT" else 0.0, size)
    if modality == "CT":
        chans = [np.clip((sq - lo) / (hi - lo), 0.0, 1.0) for lo, hi in _CT_WINDOWS]
    else:
        x = np.clip(sq / (scale or intensity_scale(img)), 0.0, 1.5)
        chans = [x, np.sqrt(x)]
    return np.stack(chans).astype(np.float32)
