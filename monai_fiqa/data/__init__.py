"""Dataset readers: FQS-style (path, mos[, level]) and EyeQ-style (path, label) CSVs, source-grouped splits."""

from __future__ import annotations

from monai_fiqa.io.quality_csv import (
    EYEQ_LEVEL_MOS,
    QualityRecord,
    ScoreRow,
    read_quality_csv,
    read_score_csv,
    split_by_source,
)

__all__ = ["EYEQ_LEVEL_MOS", "QualityRecord", "ScoreRow", "read_quality_csv", "read_score_csv", "split_by_source"]
