"""Deprecated (until 0.3): the folder runner and CSV evaluator are :mod:`monai_fiqa.engine.runners`, for volume
models as for photograph models; slice montages are :mod:`monai_fiqa.ctmr.preview`."""

from __future__ import annotations

from monai_fiqa.ctmr.preview import slice_montage, slice_overlays
from monai_fiqa.engine.runners import assess_folder, evaluate_csv, find_series

__all__ = ["assess_volume_folder", "evaluate_score_csv", "find_series", "slice_montage", "slice_overlays"]

assess_volume_folder = assess_folder
evaluate_score_csv = evaluate_csv
