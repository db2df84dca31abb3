"""Zoomed training views with local pseudo-MOS labels, so per-window scores (the coarse quality map) mean something.

Why: at inference the coarse map scores a 3x3 grid of half-size windows of the field of view, each shown to the
network at full input size (a 2x zoom).  A network trained only on whole photographs has never seen such a view.
For rows of a ``monai-fiqa synth`` set we know the clean source and the anatomy, so each window gets its own label:
the pseudo-MOS of the degraded window against the clean window, with the anatomy cropped the same way.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord

__all__ = ["WINDOW_OFFSETS", "window_views", "zoom_sample"]

WINDOW_OFFSETS = (0.0, 0.5, 1.0)  # window origins in units of the input size, on a square of twice the input size


def window_views(square2x: np.ndarray, size: int) -> list[np.ndarray]:
    """The 3x3 grid of ``size`` windows of a (2 size, 2 size, 3) square, row-major."""
    offs = [int(round(o * size)) for o in WINDOW_OFFSETS]
    return [square2x[r : r + size, c : c + size] for r in offs for c in offs]


def _mask_square(mask: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    rgb = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=-1)
    return fundus_to_square(rgb, size, box)[..., 0] > 127


def zoom_sample(record: QualityRecord, size: int, window: int) -> tuple[np.ndarray, float] | None:
    """One zoomed window (``size`` px, 0-8 row-major) of a synth-set record and its local pseudo-MOS.

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
    r0 = int(round(WINDOW_OFFSETS[window // 3] * size))
    c0 = int(round(WINDOW_OFFSETS[window % 3] * size))

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
    return d_win, pseudo_mos(c_win, d_win, anatomy).score
