"""Image quality assessment metrics: functional versions and MONAI cumulative metrics."""

from __future__ import annotations

from monai_fiqa.metrics.cumulative import (
    GradeAccuracyMetric,
    GradeAUROCMetric,
    KRCCMetric,
    PLCCMetric,
    ScoreRMSEMetric,
    SRCCMetric,
)
from monai_fiqa.metrics.functional import grade_accuracy, grade_auroc, krcc, logistic_4p, plcc, rmse, srcc

__all__ = [
    "GradeAUROCMetric",
    "GradeAccuracyMetric",
    "KRCCMetric",
    "PLCCMetric",
    "SRCCMetric",
    "ScoreRMSEMetric",
    "grade_accuracy",
    "grade_auroc",
    "krcc",
    "logistic_4p",
    "plcc",
    "rmse",
    "srcc",
]
