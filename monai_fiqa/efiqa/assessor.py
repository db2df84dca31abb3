"""``assess`` for EFIQA: read and check the photograph, infer its quality map and score, grade.

How the network is applied is :class:`~monai_fiqa.efiqa.inferer.EFIQAInferer`, the same object the bundle's MONAI
workflow (``configs/inference.json``) runs; the network given decides the stage (stage 1, the anatomical prior, is
the bundle's default; stage 2 the fast adapter distilled from it).  Inputs that are not colour fundus photographs
are scored but flagged and graded ``reject`` (:mod:`monai_fiqa.fundus.checks`), as for FTHNet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from monai_fiqa.api import QualityResult
from monai_fiqa.efiqa.inferer import EFIQAInferer, cell_weights, pooled_score, stage_of
from monai_fiqa.efiqa.inpainting_prior import TAU
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.results import require_thresholds

__all__ = ["EFIQAAssessor", "cell_weights", "pooled_score"]


class EFIQAAssessor:
    """Scores fundus photographs with EFIQA.

    Args:
        network: :class:`~monai_fiqa.efiqa.inpainting_prior.Stage1Networks` (stage 1) or the stage-2
            :class:`~monai_fiqa.efiqa.networks.EFIQAAdapter` (encoder + head).
        checkpoint: its state dict (``weights_only=True``); ``None`` keeps the given weights.
        device: torch device.
        thresholds: grade thresholds on the 0-100 score.
        tau, model_name: see :class:`~monai_fiqa.efiqa.inferer.EFIQAInferer` (ignored when ``inferer`` is given).
        inferer: the bundle's inferer (its ``inference.json`` builds one for both this class and the workflow).
    """

    input_kind = "image"  # what the folder runner feeds it (monai_fiqa.engine.runners)

    def __init__(
        self,
        network: torch.nn.Module,
        checkpoint: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        thresholds: Mapping[str, float] | None = None,
        tau: float = TAU,
        model_name: str = "fundus_efiqa",
        inferer: EFIQAInferer | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.net = load_weights(network, checkpoint, self.device).eval()
        self.inferer = inferer or EFIQAInferer(tau, model_name)
        self.thresholds = require_thresholds(thresholds)

    @property
    def mode(self) -> str:
        """``"stage1"`` or ``"stage2"``: which network this assessor runs."""
        return stage_of(self.net)

    def assess(self, x: str | os.PathLike | np.ndarray) -> QualityResult:
        """Score one photograph (path or (H, W, 3) uint8 / (H, W) array).

        Raises:
            monai_fiqa.io.ImageReadError: unreadable file.
            ValueError: image too small or blank.
        """
        return self.inferer.infer(fundus_input(x), self.net).graded(self.thresholds)
