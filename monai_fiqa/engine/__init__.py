"""Training and evaluation loops."""

from __future__ import annotations

from monai_fiqa.engine.data import FundusQualityDataset, normalise
from monai_fiqa.engine.trainer import TrainConfig, evaluate_model, train

__all__ = ["FundusQualityDataset", "TrainConfig", "evaluate_model", "normalise", "train"]
