"""Tiny objects used by tests to exercise the bundle loading path."""

from __future__ import annotations

import numpy as np

from monai_fiqa.api import QualityResult
from monai_fiqa.synth.pseudo_mos import grade_from_score


class MeanLevelAssessor:
    """Scores an image by its mean grey level times ``scale`` (clipped to 0-100): enough to test ``load``."""

    def __init__(self, device: str = "cpu", scale: float = 1.0) -> None:
        self.device, self.scale = device, scale

    def assess(self, x: np.ndarray) -> QualityResult:
        score = float(np.clip(np.asarray(x, dtype=np.float32).mean() * self.scale, 0, 100))
        qmap = np.full(np.asarray(x).shape[:2], score / 100.0, dtype=np.float32)
        return QualityResult(score, grade_from_score(score), qmap, {"model": "mean-level"})
