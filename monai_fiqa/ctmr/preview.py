"""Pictures of a scored CT/MR series: each scored slice in a display window with its quality map over it.

Why here: what a technologist looks at first, shared by the folder runner (via the assessor's ``preview``), the
Deploy app's Secondary Capture and the demo.
"""

from __future__ import annotations

import numpy as np

from monai_fiqa.ctmr.preprocessing import CT_SOFT_TISSUE_WINDOW
from monai_fiqa.io.volumes import Volume
from monai_fiqa.results import QualityResult
from monai_fiqa.viz import contact_sheet, overlay_map

__all__ = ["slice_montage", "slice_overlays"]


def _display(vol: Volume, z: int, modality: str) -> np.ndarray:
    sl = vol.array[:, :, z]
    if modality == "CT":
        lo, hi = CT_SOFT_TISSUE_WINDOW
        img = np.clip((sl - lo) / (hi - lo), 0.0, 1.0)
    else:
        img = np.clip(sl / max(float(np.percentile(sl, 99.5)), 1e-6), 0.0, 1.0)
    return np.repeat((img * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def slice_overlays(vol: Volume, result: QualityResult) -> list[tuple[np.ndarray, str]]:
    """(RGB tile, caption) for each scored slice: the slice (CT soft-tissue window) with its quality map over it."""
    modality = result.params["prompt"]["modality"]
    out = []
    for z, s in zip(result.params["slices"], result.params["slice_scores"], strict=True):
        img = _display(vol, z, modality)
        tile = overlay_map(img, result.quality_map[:, :, z]) if result.quality_map is not None else img
        out.append((tile, f"slice {z}: {s:.0f}"))
    return out


def slice_montage(vol: Volume, result: QualityResult) -> np.ndarray:
    """RGB montage of the scored slices, each with its quality map overlaid and its score as a caption."""
    tiles = slice_overlays(vol, result)
    return contact_sheet([t for t, _ in tiles], [c for _, c in tiles], cols=len(tiles), tile=256)
