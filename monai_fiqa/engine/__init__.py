"""The generic engine: training loop, checkpoint loading, folder runner and CSV evaluator, weight averaging."""

from __future__ import annotations

from monai_fiqa.engine.trainer import BundleTrainer, TrainConfig, evaluate_model, train

__all__ = ["BundleTrainer", "TrainConfig", "evaluate_model", "train"]
