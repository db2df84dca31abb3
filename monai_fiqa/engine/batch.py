"""Deprecated (until 0.3): the folder runner and CSV evaluator are :mod:`monai_fiqa.engine.runners`."""

from __future__ import annotations

from monai_fiqa.engine.runners import IMAGE_SUFFIXES, assess_folder, evaluate_csv

__all__ = ["IMAGE_SUFFIXES", "assess_folder", "evaluate_csv"]
