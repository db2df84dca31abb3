"""Per-pixel degradation targets of ``monai-fiqa synth`` rows, for FTHNet's degradation-map head.

Why a dense target: the coarse map of scored windows (:mod:`monai_fiqa.fthnet.windows`) asks the score network to
rate mostly-black views it never meets on a real photograph, and ranking those windows left the map at chance
(validation pixel AUROC 0.50-0.58, docs/experiments/fundus_fthnet.md, runs 10-11).  A synth row knows *where* each
degradation is (the union of its regional steps' regions; a global step covers the whole field of view) and how
strong it is, so the head learns "how degraded is this part of the photograph" directly, on the photographs the
score network already sees.

The target at a pixel is the chance that some step covering it degrades it, ``1 - prod(1 - severity)`` over those
steps: 0 on a clean photograph, a global step's severity everywhere, more where a regional step adds to it.
Outside the field of view, and on rows that are not synth rows (a site's CSV), the weight is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.synth_set import read_mask
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.quality_csv import QualityRecord

__all__ = ["MAP_STRIDE", "degradation_target", "regional_masks"]

MAP_STRIDE = 4  # targets are stored at 1/4 of the training square's side (the head predicts at 1/8)


def _as_uint8(mask: np.ndarray | None) -> np.ndarray:
    if mask is None:  # a synth row always has its masks: a missing one is a damaged set, not a clean row
        raise FileNotFoundError("a mask of this synth-set row is missing")
    return mask.astype(np.uint8) * 255


def _union_severity(severities: Sequence[float]) -> float:
    return 1.0 - float(np.prod([1.0 - s for s in severities])) if severities else 0.0


def degradation_target(record: QualityRecord, size: int, kinds: Sequence[str]) -> np.ndarray:
    """(2, size / MAP_STRIDE, size / MAP_STRIDE) uint8: the target (0-255 = severity 0-1, 0 outside the field of
    view) and its weight (255 inside the field of view of a synth row, else 0), on the square
    :func:`~monai_fiqa.fundus.preprocessing.fundus_to_square` makes of the photograph at ``size`` px (the FOV box
    found on the degraded photograph, as for the training squares).
    """
    if size % MAP_STRIDE:
        raise ValueError(f"size must be a multiple of {MAP_STRIDE}, got {size}")
    side = size // MAP_STRIDE
    row = record.row
    out = np.zeros((2, side, side), np.uint8)
    fov = read_mask(row, "fov") if "degradations" in row else None
    if fov is None:
        return out
    steps = [k for k in kinds if row.get(f"{k}_severity")]
    regional = [k for k in steps if row.get(f"{k}_regional") == "1"]
    global_sev = _union_severity([float(row[f"{k}_severity"]) for k in steps if k not in regional])
    regional_sev = _union_severity([float(row[f"{k}_severity"]) for k in regional])
    box = fov_square_box(read_rgb(record.path)[0])
    target = np.full((side, side), global_sev, np.float32)
    if regional:
        region = fundus_to_square(_as_uint8(read_mask(row, "region")), side, box) / 255.0
        target += (1.0 - global_sev) * regional_sev * region
    inside = fundus_to_square(_as_uint8(fov), side, box) > 127
    out[0] = np.round(np.clip(target, 0.0, 1.0) * 255.0) * inside  # 0 where unweighted: a cell's mean stays <= 1
    out[1] = inside * 255
    return out


def regional_masks(record: QualityRecord) -> tuple[np.ndarray, np.ndarray] | None:
    """(degraded region, field of view) of a synth-set record degraded in part of its field of view.

    ``None`` when the record has no masks (e.g. a site's CSV) or the region is empty or covers the whole field of
    view (a whole-image degradation: nothing to localise).
    """
    region, fov = read_mask(record.row, "region"), read_mask(record.row, "fov")
    if region is None or fov is None:
        return None
    inside = region[fov]
    return (region, fov) if inside.any() and not inside.all() else None
