"""Window views with local pseudo-MOS labels, so per-window scores (the coarse quality map) mean something.

Where they are used now: stage 2 of the FTHNet recipe trains on them, and a network without the degradation-map
head (the paper's FTHNet) maps a photograph by its window scores.  The shipped map comes from that head instead:
regional degradations are too small for windows to differ much (:mod:`monai_fiqa.fthnet.degradation_map`).

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

from dataclasses import dataclass

import numpy as np

from monai_fiqa.fthnet.degradation_map import regional_masks
from monai_fiqa.fundus.landmarks import Anatomy
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.fundus.synth_set import read_mask
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord

__all__ = ["WINDOW_OFFSETS", "window_boxes", "window_group", "window_sample", "window_views"]

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


_MIN_FOV_SHARE = 0.2  # a window with less of the field of view than this gets no label (mostly black surround)


@dataclass(frozen=True)
class _LabelledPhoto:
    """What a window label needs of a synth-set record: the clean source, the degraded copy, masks, anatomy."""

    record: QualityRecord
    clean: np.ndarray
    degraded: np.ndarray
    fov: np.ndarray
    vessels: np.ndarray
    box: tuple[int, int, int]


def _load(record: QualityRecord) -> _LabelledPhoto | None:
    row = record.row
    if not row.get("clean") or not row.get("id") or not row.get("disc_row"):
        return None
    base = row["_csv_dir"]
    clean, _ = read_rgb(f"{base}/{row['clean']}")
    fov, vessels = read_mask(row, "fov"), read_mask(row, "vessels")
    if fov is None or vessels is None:
        return None
    return _LabelledPhoto(record, clean, read_rgb(record.path)[0], fov, vessels, fov_square_box(clean))


def _labelled_window(photo: _LabelledPhoto, size: int, window: int) -> tuple[np.ndarray, float] | None:
    """Window ``window``'s view and its local pseudo-MOS (None when the window is mostly outside the FOV)."""
    row, box = photo.record.row, photo.box
    top, left, side = box
    big = 2 * size
    r0, c0, _ = window_boxes(big)[window]

    def crop(a: np.ndarray) -> np.ndarray:
        return a[r0 : r0 + size, c0 : c0 + size]

    scale = big / side

    def move(r: float, c: float) -> tuple[float, float]:
        return (r - top) * scale - r0, (c - left) * scale - c0

    fov = crop(_mask_square(photo.fov, box, big))
    if fov.mean() < _MIN_FOV_SHARE:
        return None
    rows = np.flatnonzero(photo.fov.any(1))
    anatomy = Anatomy(
        fov=fov,
        disc_center=move(float(row["disc_row"]), float(row["disc_col"])),
        disc_radius=0.075 * (rows[-1] - rows[0] + 1) * scale,
        fovea_center=move(float(row["fovea_row"]), float(row["fovea_col"])),
        vessels=crop(_mask_square(photo.vessels, box, big)),
    )
    c_win = crop(fundus_to_square(photo.clean, big, box))
    d_win = crop(fundus_to_square(photo.degraded, big, box))
    view = window_views(fundus_to_square(photo.degraded, size, box))[window]
    return view, pseudo_mos(c_win, d_win, anatomy).score


def window_sample(record: QualityRecord, size: int, window: int) -> tuple[np.ndarray, float] | None:
    """One window view (``size`` px input square, window 0-8 row-major) of a synth-set record and its local
    pseudo-MOS.

    Returns ``None`` for records without a clean source and masks (e.g. a site's CSV), or a window mostly outside
    the field of view.
    """
    photo = _load(record)
    return None if photo is None else _labelled_window(photo, size, window)


def window_group(record: QualityRecord, size: int) -> list[tuple[np.ndarray, float]] | None:
    """Up to three window views of a regionally degraded record with their labels, from most to least covered by
    the region: the first, middle and last of the windows inside the field of view ordered by coverage.

    Why: the coarse map asks "which part of *this* photograph is worse?".  Ranked against each other (one ranking
    group), these windows teach that comparison directly, which regression on single windows - dominated by the
    differences between photographs - did not (docs/experiments/fundus_fthnet.md, run 9); a third window gives
    three ordered pairs per group instead of one (run 10's single pair moved the map slowly).  None for records
    without a partial region or masks, or with fewer than two windows inside the field of view.
    """
    masks = regional_masks(record)
    photo = _load(record) if masks is not None else None
    if photo is None:
        return None
    region, fov = (_mask_square(m, photo.box, size) for m in (masks[0], photo.fov))
    boxes = window_boxes(size)
    cover = [region[r : r + s, c : c + s].mean() for r, c, s in boxes]
    # the label's own field-of-view test, on the input square: picks the middle window without labelling all nine
    inside = [w for w, (r, c, s) in enumerate(boxes) if fov[r : r + s, c : c + s].mean() >= _MIN_FOV_SHARE]
    by_cover = sorted(inside, key=lambda w: -cover[w])  # stable: ties keep the grid order
    if len(by_cover) < 2:
        return None
    picks = sorted({0, len(by_cover) // 2, len(by_cover) - 1})  # two windows when only two are inside
    views = [_labelled_window(photo, size, by_cover[k]) for k in picks]
    views = [v for v in views if v is not None]
    return views if len(views) >= 2 else None
