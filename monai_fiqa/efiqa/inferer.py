"""How EFIQA's network is applied to a photograph: FOV square -> cell quality map -> pooled score, map over the photo.

The network decides the stage: :class:`~monai_fiqa.efiqa.inpainting_prior.Stage1Networks` runs the anatomical prior
itself (vessel segmentation + masked inpainting, the bundle's default), an
:class:`~monai_fiqa.efiqa.networks.EFIQAAdapter` the stage-2 head distilled from it (one fast pass over the frozen
encoder on the 256-px square).  The 16 x 16 cell map covers the FOV square; it is upsampled bilinearly to the
photograph, and pixels outside the field of view are 1 (not assessed).  Either stage's cells are multiplied by the
pixel evidence of :mod:`~monai_fiqa.efiqa.pixel_evidence` (noise and over-exposure, which the vessel prior cannot
see).  Score = 100 x the FOV-weighted mean of the cells at least half inside the FOV.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from monai_fiqa.efiqa.inpainting_prior import (
    MAP_SIZE,
    TAU,
    Stage1Networks,
    cell_weights,
    stage1_map,
    to_map_fov,
    to_map_grid,
)
from monai_fiqa.efiqa.pixel_evidence import pixel_evidence
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, square_mask, to_input
from monai_fiqa.engine.workflow import QualityInferer, network_device
from monai_fiqa.fundus.checks import FundusInput
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image
from monai_fiqa.results import Scored

__all__ = ["EFIQAInferer", "cell_weights", "pooled_score", "stage_of"]


def pooled_score(quality: np.ndarray, weight: np.ndarray) -> float:
    """100 x the FOV-weighted mean cell quality over the cells at least half inside the FOV."""
    inside = weight >= 0.5
    return 100.0 * float((quality * weight)[inside].sum() / max(float(weight[inside].sum()), 1e-6))


def stage_of(network: torch.nn.Module) -> str:
    """``"stage1"`` for the anatomical prior's networks, ``"stage2"`` for the adapter."""
    return "stage1" if isinstance(network, Stage1Networks) else "stage2"


class EFIQAInferer(QualityInferer):
    """Quality map, pooled score and flags of one checked photograph.

    Args:
        tau: stage-1 missing fraction that counts as fully bad.
        model_name: reported in ``params``.
    """

    def __init__(self, tau: float = TAU, model_name: str = "fundus_efiqa") -> None:
        super().__init__()
        self.tau, self.model_name = tau, model_name

    @torch.no_grad()
    def cell_map(
        self, square512: np.ndarray, square256: np.ndarray, fov512: np.ndarray, network: torch.nn.Module
    ) -> tuple[np.ndarray, np.ndarray]:
        """(GRID, GRID) quality and FOV weight of one 512-px FOV square (``square256``: it on the map grid)."""
        if isinstance(network, Stage1Networks):
            (res,) = stage1_map(network, [square512], [fov512], self.tau)
            return res.quality, res.weight
        side = network.encoder.input_size
        small = square256 if side == MAP_SIZE else np.asarray(Image.fromarray(square512).resize((side, side)))
        x = to_input(small)[None].to(network_device(network))
        quality = network(x)[0, 0].cpu().numpy().astype(np.float32)
        weight = cell_weights(fov512)
        quality[weight < 0.5] = 1.0
        return quality, weight

    def infer(self, loaded: FundusInput, network: torch.nn.Module) -> Scored:
        image, fov, warnings = loaded.image, loaded.fov, loaded.warnings
        box = fov_square_box(image, fov=fov)
        square = fundus_to_square(image, SEG_SIZE, box)
        fov512 = square_mask(fov, box, SEG_SIZE) > 0.5
        square256 = to_map_grid(square)  # once: stage 2's input and the pixel evidence's grid
        quality, weight = self.cell_map(square, square256, fov512, network)
        evidence = pixel_evidence(square256, to_map_fov(fov512))
        quality = quality * evidence.quality
        inside = weight >= 0.5
        params = {
            "model": self.model_name,
            "mode": stage_of(network),
            "pixel_evidence": evidence.report(),
            "low_quality_fraction": round(float((quality[inside] < 0.5).mean()) if inside.any() else 0.0, 4),
            "out_of_distribution": bool(warnings),
            "warnings": warnings,
        }
        qmap = square_to_image(quality, box, image.shape[:2], outside=1.0)
        qmap[~fov] = 1.0
        return Scored(pooled_score(quality, weight), np.clip(qmap, 0.0, 1.0), params)
