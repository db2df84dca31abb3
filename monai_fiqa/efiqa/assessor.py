"""``assess`` for EFIQA: a label-free quality map of a fundus photograph, its pooled score and grade.

Default (``mode="stage2"``): one forward pass of the adapter over the frozen encoder on the 256-px field-of-view
square.  ``mode="stage1"`` runs the anatomical prior itself (vessel segmentation + masked inpainting, see
:mod:`monai_fiqa.efiqa.inpainting_prior`): slower, and what stage 2 was distilled from.

The 16 x 16 cell map covers the FOV square; it is upsampled bilinearly to the photograph, and pixels outside the
field of view are 1 (not assessed).  Score = 100 x the FOV-weighted mean of the cells at least half inside the FOV.
Inputs that are not colour fundus photographs are scored but flagged and graded ``reject``
(:mod:`monai_fiqa.fundus.checks`), as for FTHNet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch
from PIL import Image

from monai_fiqa.api import QualityResult
from monai_fiqa.efiqa.inpainting_prior import GRID, MAP_SIZE, TAU, stage1_map, to_map_grid
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, square_mask, to_input
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image
from monai_fiqa.results import grade_from_score, require_thresholds

__all__ = ["EFIQAAssessor", "cell_weights", "pooled_score"]


def _load(net: torch.nn.Module | None, checkpoint: str | os.PathLike | None, device: torch.device) -> torch.nn.Module:
    if net is None:
        raise ValueError("this mode needs its network")
    return load_weights(net, checkpoint, device).eval()


def cell_weights(fov512: np.ndarray) -> np.ndarray:
    """Fraction of each of the GRID x GRID cells inside the field of view."""
    c = fov512.shape[0] // GRID
    return fov512.astype(np.float32).reshape(GRID, c, GRID, c).mean(axis=(1, 3))


def pooled_score(quality: np.ndarray, weight: np.ndarray) -> float:
    """100 x the FOV-weighted mean cell quality over the cells at least half inside the FOV."""
    inside = weight >= 0.5
    return 100.0 * float((quality * weight)[inside].sum() / max(float(weight[inside].sum()), 1e-6))


class EFIQAAssessor:
    """Scores fundus photographs with EFIQA.

    Args:
        network: the stage-2 :class:`~monai_fiqa.efiqa.networks.EFIQAAdapter` (encoder + head).
        checkpoint: its state dict (``weights_only=True``).
        segmenter, segmenter_checkpoint, inpainter, inpainter_checkpoint: the stage-1 networks (``mode="stage1"``).
        mode: ``"stage2"`` (default, fast) or ``"stage1"``.
        device: torch device.
        thresholds: grade thresholds on the 0-100 score.
        tau: stage-1 missing fraction that counts as fully bad.
        model_name: reported in ``params``.
    """

    input_kind = "image"  # what the folder runner feeds it (monai_fiqa.engine.runners)

    def __init__(
        self,
        network: torch.nn.Module | None = None,
        checkpoint: str | os.PathLike | None = None,
        segmenter: torch.nn.Module | None = None,
        segmenter_checkpoint: str | os.PathLike | None = None,
        inpainter: torch.nn.Module | None = None,
        inpainter_checkpoint: str | os.PathLike | None = None,
        mode: str = "stage2",
        device: str = "cpu",
        thresholds: Mapping[str, float] | None = None,
        tau: float = TAU,
        model_name: str = "fundus_efiqa",
    ) -> None:
        if mode not in ("stage1", "stage2"):
            raise ValueError(f"mode must be 'stage1' or 'stage2', got {mode!r}")
        self.device, self.mode, self.tau, self.model_name = torch.device(device), mode, tau, model_name
        self.thresholds = require_thresholds(thresholds)
        if mode == "stage2":
            self.adapter = _load(network, checkpoint, self.device)
        else:
            self.segmenter = _load(segmenter, segmenter_checkpoint, self.device)
            self.inpainter = _load(inpainter, inpainter_checkpoint, self.device)

    @torch.no_grad()
    def cell_map(self, square512: np.ndarray, fov512: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(GRID, GRID) quality and FOV weight of one 512-px FOV square."""
        if self.mode == "stage1":
            (res,) = stage1_map(self.segmenter, self.inpainter, [square512], [fov512], self.tau)
            return res.quality, res.weight
        side = self.adapter.encoder.input_size
        if side == MAP_SIZE:
            small = to_map_grid(square512)
        else:
            small = np.asarray(Image.fromarray(square512).resize((side, side)))
        x = to_input(small)[None].to(self.device)
        quality = self.adapter(x)[0, 0].cpu().numpy().astype(np.float32)
        weight = cell_weights(fov512)
        quality[weight < 0.5] = 1.0
        return quality, weight

    @staticmethod
    def _to_image(
        quality: np.ndarray, box: tuple[int, int, int], shape: tuple[int, int], fov: np.ndarray
    ) -> np.ndarray:
        out = square_to_image(quality, box, shape, outside=1.0)
        out[~fov] = 1.0
        return np.clip(out, 0.0, 1.0)

    def assess(self, x: str | os.PathLike | np.ndarray) -> QualityResult:
        """Score one photograph (path or (H, W, 3) uint8 / (H, W) array).

        Raises:
            monai_fiqa.io.ImageReadError: unreadable file.
            ValueError: image too small or blank.
        """
        inp = fundus_input(x)
        image, fov, warnings = inp.image, inp.fov, inp.warnings
        box = fov_square_box(image, fov=fov)
        square = fundus_to_square(image, SEG_SIZE, box)
        fov512 = square_mask(fov, box, SEG_SIZE) > 0.5
        quality, weight = self.cell_map(square, fov512)
        score = pooled_score(quality, weight)
        inside = weight >= 0.5
        params = {
            "model": self.model_name,
            "mode": self.mode,
            "low_quality_fraction": round(float((quality[inside] < 0.5).mean()) if inside.any() else 0.0, 4),
            "out_of_distribution": bool(warnings),
            "warnings": warnings,
        }
        grade = "reject" if warnings else grade_from_score(score, self.thresholds)
        return QualityResult(score, grade, self._to_image(quality, box, image.shape[:2], fov), params)
