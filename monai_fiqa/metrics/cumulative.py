"""MONAI cumulative metrics wrapping :mod:`monai_fiqa.metrics.functional`.

Why cumulative: correlations and AUROC are not averages of per-batch values, so each batch's predictions and
targets are stored in MONAI's buffers (which also gathers them across distributed ranks) and the functional metric
is evaluated once on all samples in :meth:`aggregate`.  Usage follows MONAI::

    metric = SRCCMetric()
    for batch in loader:
        metric(y_pred=model(batch["image"]), y=batch["mos"])
    value = metric.aggregate()
    metric.reset()

Class names deliberately differ from MONAI's own (e.g. ``RMSEMetric``, ``ROCAUCMetric``): MONAI's bundle component
locator scans every module whose name starts with ``monai`` and a duplicate name would make lookups ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.metrics import CumulativeIterationMetric

from monai_fiqa.metrics.functional import grade_accuracy, grade_auroc, krcc, plcc, rmse, srcc

__all__ = [
    "GradeAUROCMetric",
    "GradeAccuracyMetric",
    "KRCCMetric",
    "PLCCMetric",
    "SRCCMetric",
    "ScoreRMSEMetric",
]


def _scores_1d(x: torch.Tensor, name: str) -> torch.Tensor:
    """(B,) or (B, 1) -> (B,); anything else is a usage error."""
    if x.ndim == 0 or x.reshape(x.shape[0], -1).shape[1] != 1:
        raise ValueError(f"{name} must have shape (B,) or (B, 1), got {tuple(x.shape)}.")
    return x.reshape(-1)


def _labels_1d(x: torch.Tensor, name: str) -> torch.Tensor:
    """(B,) or (B, 1) labels pass through; (B, K) scores or one-hot rows become their argmax label."""
    if x.ndim == 2 and x.shape[1] > 1:
        return x.argmax(dim=1)
    return _scores_1d(x, name)


class _BufferedPairMetric(CumulativeIterationMetric):
    """Buffer (prediction, target) pairs per sample and evaluate ``_fn`` on all of them in :meth:`aggregate`."""

    def _prepare(self, y_pred: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return [_scores_1d(y_pred, "y_pred"), _scores_1d(y, "y")]

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        raise NotImplementedError

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> list:
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets: call it with y=...")
        if y_pred.ndim == 0 or y.ndim == 0 or y_pred.shape[0] != y.shape[0]:
            raise ValueError(
                f"y_pred and y must be batch-first with the same batch size, got shapes "
                f"{tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        return self._prepare(y_pred, y)

    def aggregate(self) -> float:
        """Evaluate the metric on every sample buffered since the last :meth:`reset`."""
        buffer = self.get_buffer()
        if buffer is None:
            raise ValueError(f"{type(self).__name__} has no data: call it on at least one batch before aggregate().")
        pred, target = buffer
        return self._fn(pred, target)


class PLCCMetric(_BufferedPairMetric):
    """Cumulative Pearson correlation; see :func:`monai_fiqa.metrics.functional.plcc`.

    Args:
        logistic: fit the VQEG 4-parameter logistic mapping before computing PLCC.
    """

    def __init__(self, logistic: bool = False) -> None:
        super().__init__()
        self.logistic = logistic

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return plcc(pred, target, logistic=self.logistic)


class SRCCMetric(_BufferedPairMetric):
    """Cumulative Spearman correlation; see :func:`monai_fiqa.metrics.functional.srcc`."""

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return srcc(pred, target)


class KRCCMetric(_BufferedPairMetric):
    """Cumulative Kendall tau-b; see :func:`monai_fiqa.metrics.functional.krcc`."""

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return krcc(pred, target)


class ScoreRMSEMetric(_BufferedPairMetric):
    """Cumulative RMSE over all samples (not a mean of batch RMSEs); see :func:`~.functional.rmse`."""

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return rmse(pred, target)


class GradeAccuracyMetric(_BufferedPairMetric):
    """Cumulative grade accuracy; see :func:`monai_fiqa.metrics.functional.grade_accuracy`.

    ``y_pred`` is (B,) / (B, 1) integer grades or (B, K) class scores (argmax taken); ``y`` is (B,) / (B, 1)
    grades or (B, K) one-hot.
    """

    def _prepare(self, y_pred: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return [_labels_1d(y_pred, "y_pred"), _labels_1d(y, "y")]

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return grade_accuracy(pred, target)


class GradeAUROCMetric(_BufferedPairMetric):
    """Cumulative macro one-vs-rest AUROC; see :func:`monai_fiqa.metrics.functional.grade_auroc`.

    ``y_pred`` is (B, K) class scores (or (B,) positive-class scores for a binary problem); ``y`` is (B,) / (B, 1)
    grade indices or (B, K) one-hot.

    Args:
        classes: label of each score column; defaults to ``range(K)`` (integer grades ``0..K-1``).
    """

    def __init__(self, classes: Sequence[Any] | None = None) -> None:
        super().__init__()
        self.classes = classes

    def _prepare(self, y_pred: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        if y_pred.ndim == 2 and y_pred.shape[1] == 1:
            y_pred = y_pred.reshape(-1)
        if y_pred.ndim not in (1, 2):
            raise ValueError(f"y_pred must have shape (B, K) or (B,), got {tuple(y_pred.shape)}.")
        return [y_pred, _labels_1d(y, "y")]

    def _fn(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return grade_auroc(pred, target, self.classes)
