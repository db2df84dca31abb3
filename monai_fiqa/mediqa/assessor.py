"""``assess`` for CT/MR (MedIQA): read and check the volume, infer (prompt, slices, fused score, map), grade.

How the network is applied is :class:`~monai_fiqa.mediqa.inferer.MedIQAInferer`, the same object the bundle's MONAI
workflow (``configs/inference.json``) runs; this class is the Python API around it.

Nothing is silently scored: a volume that cannot be read raises :class:`~monai_fiqa.io.volumes.VolumeReadError`;
a prompt that contradicts the pixels, a near-empty slice set or an in-plane matrix smaller than any training image
is scored but flagged ``out_of_distribution`` and graded ``reject``, with the reason in ``warnings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from monai_fiqa.api import QualityResult
from monai_fiqa.ctmr.preprocessing import INPUT_SIZE
from monai_fiqa.ctmr.preview import slice_montage
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.io.volumes import Volume, check_volume, read_volume
from monai_fiqa.mediqa.inferer import MIN_TRAINED_SIDE, MedIQAInferer
from monai_fiqa.mediqa.network import MedIQA
from monai_fiqa.results import require_thresholds

__all__ = ["MedIQAAssessor"]


class MedIQAAssessor:
    """Scores CT/MR volumes and slices with a trained MedIQA network.

    Args:
        network: a :class:`~monai_fiqa.mediqa.network.MedIQA`.
        checkpoint: state dict path (``weights_only=True``); None keeps the given weights.
        n_slices, img_size, model_name, slice_selection, min_side: see
            :class:`~monai_fiqa.mediqa.inferer.MedIQAInferer` (ignored when ``inferer`` is given).
        device: torch device.
        thresholds: grade thresholds on the 0-100 score.
        inferer: the bundle's inferer (its ``inference.json`` builds one for both this class and the workflow).
    """

    input_kind = "volume"  # what the folder runner feeds it (monai_fiqa.engine.runners)

    def __init__(
        self,
        network: MedIQA,
        checkpoint: str | os.PathLike | None = None,
        n_slices: int = 7,
        img_size: int = INPUT_SIZE,
        device: str | torch.device = "cpu",
        thresholds: Mapping[str, float] | None = None,
        model_name: str = "ctmr_mediqa",
        slice_selection: str = "salient",
        min_side: int = MIN_TRAINED_SIDE,
        inferer: MedIQAInferer | None = None,
    ) -> None:
        self.inferer = inferer or MedIQAInferer(n_slices, img_size, model_name, slice_selection, min_side)
        self.device = torch.device(device)
        self.net = load_weights(network, checkpoint, self.device).eval()
        self.thresholds = require_thresholds(thresholds)

    def preview(self, volume: Volume, result: QualityResult) -> np.ndarray:
        """The picture a folder run saves beside the result: the scored slices with their maps (a montage)."""
        return slice_montage(volume, result)

    def assess(
        self,
        x: str | os.PathLike | np.ndarray | Volume,
        prompt: dict[str, str] | None = None,
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        quality_map: bool = True,
    ) -> QualityResult:
        """Score a CT/MR volume or slice.

        Args:
            x: NIfTI path, DICOM file or series folder, a :class:`Volume`, or an (H, W) / (H, W, Z) array.
            prompt: overrides of prompt fields, e.g. ``{"modality": "CT", "anatomy": "head"}``.
            spacing: voxel size for arrays.
            quality_map: build the (H, W, Z) volume map (skip it for a score-only run).

        Raises:
            monai_fiqa.io.volumes.VolumeReadError: the input cannot be assessed (and why).
            ValueError: an invalid prompt override.
        """
        vol = check_volume(x) if isinstance(x, Volume) else read_volume(x, spacing)
        return self.inferer.infer(vol, self.net, prompt, quality_map).graded(self.thresholds)
