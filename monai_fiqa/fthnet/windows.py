"""Window views with local pseudo-MOS labels, so per-window scores (the coarse quality map) mean something.

Why: the coarse map scores a 3x3 grid of overlapping half-size windows of the field of view.  A network trained
only on whole photographs has never seen such a view.  For rows of a ``monai-fiqa synth`` set we know the clean
source and the anatomy, so each window gets its own label: the pseudo-MOS of the degraded window against the clean
window, with the anatomy cropped the same way (computed on the window at twice the input scale, where vessels are
wide enough for the vessel-contrast term).

Why a window is shown *in place, at the photograph's own pixel scale* (the input square with everything outside
the window black) and not enlarged to the full input: an enlarged window of a 500-px photograph is upsampled ~1.8x,
so it holds ~40 % less fine detail than any whole photograph, yet its label is that of a sharp region.  Trained on
such windows, the network learned "less detail is better" and ranked defocus and motion ladders backwards
(docs/experiments/fundus_fthnet.md, runs 6-8).  In place, a window has the same detail per pixel as the photograph.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord

__all__ = ["WINDOW_OFFSETS", "window_boxes", "window_views", "window_sample"]

WINDOW_OFFSETS = (0.0, 0.25, 0.5)  # window origins in units of the square's side; windows are half the side


def window_boxes(side: int) -> list[tuple[int, int, int]]:
    """(top, left, window side) of the 3x3 grid of half-size windows of a ``side`` square, row-major."""
    half = side // 2
    offs = [int(round(o * side)) for o in WINDOW_OFFSETS]
    return [(r, c, half) for r in offs for c in offs]


def window_views(square: np.ndarray) -> list[np.ndarray]:
    """The 3x3 window views of a (S, S, 3) square, row-major: each the square, black outside its window."""
    views = []
    for r, c, w in window_boxes(square.shape[0]):
        view = np.zeros_like(square)
        view[r : r + w, c : c + w] = square[r : r + w, c : c + w]
        views.append(view)
    return views


def _mask_square(mask: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    rgb = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=-1)
    return fundus_to_square(rgb, size, box)[..., 0] > 127


def window_sample(record: QualityRecord, size: int, window: int) -> tuple[np.ndarray, float] | None:
    """One window view (``size`` px input square, window 0-8 row-major) of a synth-set record and its local
    pseudo-MOS.

    Returns ``None`` for records without a clean source and masks (e.g. a site's CSV).
    """
    row = record.row
    if not row.get("clean") or not row.get("id") or not row.get("disc_row"):
        return None
    base = row["_csv_dir"]
    clean, _ = read_rgb(f"{base}/{row['clean']}")
    degraded, _ = read_rgb(record.path)
    masks = {k: np.asarray(Image.open(f"{base}/masks/{row['id']}_{k}.png")) > 127 for k in ("fov", "vessels")}
    box = fov_square_box(clean)
    top, left, side = box
    big = 2 * size
    r0, c0, _ = window_boxes(big)[window]

    def crop(a: np.ndarray) -> np.ndarray:
        return a[r0 : r0 + size, c0 : c0 + size]

    scale = big / side

    def move(r: float, c: float) -> tuple[float, float]:
        return (r - top) * scale - r0, (c - left) * scale - c0

    fov = crop(_mask_square(masks["fov"], box, big))
    if fov.mean() < 0.2:
        return None
    rows = np.flatnonzero(masks["fov"].any(1))
    anatomy = Anatomy(
        fov=fov,
        disc_center=move(float(row["disc_row"]), float(row["disc_col"])),
        disc_radius=0.075 * (rows[-1] - rows[0] + 1) * scale,
        fovea_center=move(float(row["fovea_row"]), float(row["fovea_col"])),
        vessels=crop(_mask_square(masks["vessels"], box, big)),
    )
    c_win = crop(fundus_to_square(clean, big, box))
    d_win = crop(fundus_to_square(degraded, big, box))
    view = window_views(fundus_to_square(degraded, size, box))[window]
    return view, pseudo_mos(c_win, d_win, anatomy).score
