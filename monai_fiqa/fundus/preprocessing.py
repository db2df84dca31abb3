"""Fundus preprocessing: crop to the field of view, square it, resize - the same for training and inference.

Why: photographs from different cameras put the circular field of view in differently sized, differently padded
frames; a quality model should see the retina at one scale.  The crop box is returned so that a quality map can be
pasted back onto the original image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from monai_fiqa.fundus.landmarks import fov_mask

__all__ = ["fov_square_box", "fundus_to_square", "square_to_image"]


def fov_square_box(image: np.ndarray, margin: float = 0.02, fov: np.ndarray | None = None) -> tuple[int, int, int]:
    """Square box (top, left, side) around the field of view, with a small margin; may extend past the image.

    ``fov`` is the image's FOV mask when the caller already has it (it is estimated otherwise).
    """
    fov = fov_mask(image) if fov is None else fov
    h, w = fov.shape
    if fov.sum() < 0.05 * h * w:  # no clear FOV (e.g. a non-fundus photograph): use the whole frame
        side = max(h, w)
        return (h - side) // 2, (w - side) // 2, side
    rows, cols = np.flatnonzero(fov.any(1)), np.flatnonzero(fov.any(0))
    cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
    side = int(round(max(rows[-1] - rows[0], cols[-1] - cols[0]) * (1 + 2 * margin))) + 1
    return int(round(cy - side / 2)), int(round(cx - side / 2)), side


def fundus_to_square(image: np.ndarray, size: int, box: tuple[int, int, int] | None = None) -> np.ndarray:
    """Crop an (H, W, 3) uint8 photograph, or an (H, W) uint8 mask, to its FOV box (zero padding outside the frame)
    and resize to ``size``."""
    top, left, side = box or fov_square_box(image)
    h, w = image.shape[:2]
    canvas = np.zeros((side, side, *image.shape[2:]), dtype=np.uint8)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + side, h), min(left + side, w)
    canvas[r0 - top : r1 - top, c0 - left : c1 - left] = image[r0:r1, c0:c1]
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.BILINEAR))


def square_to_image(
    square_map: np.ndarray,
    box: tuple[int, int, int],
    shape: tuple[int, int],
    outside: float | None = None,
    align_corners: bool = False,
) -> np.ndarray:
    """Put a map computed on the FOV square (any grid, e.g. 3 x 3 scores or a 512-px probability map) back on the
    photograph: bilinear resampling to the square's side, then placed at ``box`` in a frame of ``shape``.

    The one inverse of :func:`fundus_to_square` for every fundus model's map.

    Args:
        square_map: (h, w) map on the square.
        box: the (top, left, side) the square was cut with.
        shape: (H, W) of the photograph.
        outside: value of frame pixels outside the square; ``None`` extends the square's edge values.
        align_corners: bilinear sampling convention (True: a coarse grid's cells are sample points at its corners).

    Returns:
        (H, W) float32 map.
    """
    top, left, side = box
    grid = torch.from_numpy(np.ascontiguousarray(square_map, dtype=np.float32))[None, None]
    up = F.interpolate(grid, size=(side, side), mode="bilinear", align_corners=align_corners)[0, 0].numpy()
    h, w = shape
    if outside is None:
        rows = np.clip(np.arange(h) - top, 0, side - 1)
        cols = np.clip(np.arange(w) - left, 0, side - 1)
        return np.ascontiguousarray(up[np.ix_(rows, cols)], dtype=np.float32)
    out = np.full((h, w), outside, np.float32)
    r0, c0, r1, c1 = max(top, 0), max(left, 0), min(top + side, h), min(left + side, w)
    out[r0:r1, c0:c1] = up[r0 - top : r1 - top, c0 - left : c1 - left]
    return out
