"""``assess`` for score-regression fundus models (FTHNet): read and check the photograph, infer, grade.

How the network is applied (crop grid, coarse map) is :class:`~monai_fiqa.fthnet.inferer.FTHNetInferer`, the same
object a bundle's MONAI workflow (``configs/inference.json``) runs; this class is the Python API around it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from monai_fiqa.api import QualityResult
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.fthnet.inferer import FTHNetInferer
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.results import require_thresholds

__all__ = ["FTHNetAssessor"]


class FTHNetAssessor:
    """Scores fundus photographs with a trained score-regression network.

    Args:
        network: the network (e.g. ``monai_fiqa.fthnet.network.FTHNet``), input (B, 3, S, S) -> (B, 1) MOS / 100.
        checkpoint: path of a state dict (loaded with ``weights_only=True``); ``None`` keeps the given weights.
        img_size, tta, quality_map, model_name: see :class:`~monai_fiqa.fthnet.inferer.FTHNetInferer`
            (ignored when ``inferer`` is given).
        device: torch device.
        thresholds: grade thresholds (``good``, ``usable``) on the 0-100 score.
        inferer: the bundle's inferer (its ``inference.json`` builds one for both this class and the workflow).
    """

    input_kind = "image"  # what the folder runner feeds it (monai_fiqa.engine.runners)

    def __init__(
        self,
        network: torch.nn.Module,
        checkpoint: str | os.PathLike | None = None,
        img_size: int = 384,
        device: str | torch.device = "cpu",
        tta: bool = True,
        quality_map: bool = True,
        thresholds: Mapping[str, float] | None = None,
        model_name: str = "fthnet",
        inferer: FTHNetInferer | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.net = load_weights(network, checkpoint, self.device).eval()
        self.inferer = inferer or FTHNetInferer(img_size, tta, quality_map, model_name)
        self.thresholds = require_thresholds(thresholds)

    @property
    def model_name(self) -> str:
        return self.inferer.model_name

    def assess(self, x: str | os.PathLike | np.ndarray) -> QualityResult:
        """Score one photograph (path or (H, W, 3) uint8 / (H, W) array).

        Raises:
            monai_fiqa.io.ImageReadError: unreadable file.
            ValueError: image too small or blank.
        """
        return self.inferer.infer(fundus_input(x), self.net).graded(self.thresholds)
