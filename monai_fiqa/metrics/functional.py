"""Quality-score and grade metrics as plain functions of predictions and targets.

Why plain functions: the same numbers are reported by training loops, offline evaluation scripts and the
cumulative MONAI metrics in :mod:`monai_fiqa.metrics.cumulative`, so they are computed in one place.  Inputs are
1-D array-likes (numpy arrays, lists or torch tensors) and are converted with numpy.

The correlations follow IQA practice: PLCC measures prediction accuracy (optionally after the VQEG 4-parameter
logistic mapping, which removes a monotone non-linearity between the model's scale and the MOS scale), SRCC and
KRCC measure prediction monotonicity and so ignore any strictly monotone re-scaling of the predictions.

A correlation of a constant vector is undefined (its standard deviation is zero), so the correlation functions
return ``float('nan')`` for constant input rather than raising: an evaluation loop over many subsets should not
crash because one subset happened to have a single grade.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import compute_roc_auc
from scipy import optimize, special, stats

__all__ = ["grade_accuracy", "grade_auroc", "krcc", "logistic_4p", "pixel_auroc", "plcc", "rmse", "srcc"]


def _to_numpy(x: Any) -> np.ndarray:
    """Convert an array-like (including a torch tensor on any device, with or without grad) to numpy."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_float_vector(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 vector or raise ``ValueError`` saying what is wrong."""
    arr = _to_numpy(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}.")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.") from e
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf).")
    return arr


def _pair(pred: Any, target: Any, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a (pred, target) pair of score vectors."""
    p = _as_float_vector(pred, "pred")
    t = _as_float_vector(target, "target")
    if len(p) != len(t):
        raise ValueError(f"pred and target must have the same length, got {len(p)} and {len(t)}.")
    if len(p) < min_len:
        raise ValueError(f"at least {min_len} samples are needed, got {len(p)}.")
    return p, t


def _is_constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def logistic_4p(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``.

    Written with ``scipy.special.expit`` so large ``|x - b3| / |b4|`` cannot overflow ``exp``.
    """
    scale = max(abs(b4), np.finfo(np.float64).tiny)
    return (b1 - b2) * special.expit((x - b3) / scale) + b2


def _fit_logistic(p: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """Fit :func:`logistic_4p` mapping ``p`` onto ``t``; return the mapped ``p`` or ``None`` if the fit fails."""
    sign = 1.0 if np.corrcoef(p, t)[0, 1] >= 0 else -1.0
    hi, lo = float(np.max(t)), float(np.min(t))
    # Start from a sigmoid spanning the target range, centred on the predictions, with the trend's direction.
    b1, b2 = (hi, lo) if sign > 0 else (lo, hi)
    p0 = [b1, b2, float(np.mean(p)), float(np.std(p))]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(logistic_4p, p, t, p0=p0, maxfev=10000)
    except (RuntimeError, ValueError):
        return None
    mapped = logistic_4p(p, *params)
    if not np.all(np.isfinite(mapped)) or _is_constant(mapped):
        return None
    return mapped


def plcc(pred: Any, target: Any, logistic: bool = False) -> float:
    """Pearson linear correlation coefficient between predictions and targets.

    Args:
        pred: predicted quality scores, shape (N,).
        target: ground-truth scores (e.g. MOS), shape (N,).
        logistic: first map ``pred`` with the VQEG 4-parameter logistic fitted to ``target`` by least squares.
            Why: PLCC measures linear agreement, but a model's score scale is usually only monotonically related
            to MOS; the mapping is the standard way (VQEG, most IQA papers) to report accuracy independent of that
            non-linearity.  The fitted logistic may be decreasing, so a well-fitted inverse relation gives a
            positive value.  If the fit does not converge the unmapped predictions are used.

    Returns:
        PLCC in [-1, 1], or NaN if either input is constant (correlation undefined).

    Raises:
        ValueError: on length mismatch, fewer than 2 samples, non-1-D or non-finite input.
    """
    p, t = _pair(pred, target, min_len=2)
    if _is_constant(p) or _is_constant(t):
        return float("nan")
    if logistic:
        mapped = _fit_logistic(p, t)
        if mapped is not None:
            p = mapped
    return float(np.clip(np.corrcoef(p, t)[0, 1], -1.0, 1.0))


def srcc(pred: Any, target: Any) -> float:
    """Spearman rank-order correlation (prediction monotonicity).

    Returns:
        SRCC in [-1, 1], or NaN if either input is constant (ranks carry no information, correlation undefined).

    Raises:
        ValueError: on length mismatch, fewer than 2 samples, non-1-D or non-finite input.
    """
    p, t = _pair(pred, target, min_len=2)
    if _is_constant(p) or _is_constant(t):
        return float("nan")
    return float(stats.spearmanr(p, t).statistic)


def krcc(pred: Any, target: Any) -> float:
    """Kendall rank correlation, tau-b (the tie-corrected variant, since MOS and grades often tie).

    Returns:
        KRCC in [-1, 1], or NaN if either input is constant (every pair is tied, correlation undefined).

    Raises:
        ValueError: on length mismatch, fewer than 2 samples, non-1-D or non-finite input.
    """
    p, t = _pair(pred, target, min_len=2)
    if _is_constant(p) or _is_constant(t):
        return float("nan")
    return float(stats.kendalltau(p, t, variant="b").statistic)


def rmse(pred: Any, target: Any) -> float:
    """Root mean squared error, in the units of the target scale.

    Raises:
        ValueError: on length mismatch, empty, non-1-D or non-finite input.
    """
    p, t = _pair(pred, target, min_len=1)
    diff = p - t
    # Scale by the largest error so squaring cannot underflow to 0 (or overflow): RMSE is 0 iff pred == target.
    scale = float(np.max(np.abs(diff)))
    if scale == 0.0:
        return 0.0
    return float(scale * np.sqrt(np.mean((diff / scale) ** 2)))


def _as_label_vector(x: Any, name: str) -> np.ndarray:
    """Return labels as a 1-D array; numeric labels must be finite (a NaN grade is a data error)."""
    arr = _to_numpy(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}.")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf).")
    return arr


def grade_accuracy(pred_grades: Any, target_grades: Any) -> float:
    """Fraction of samples whose predicted grade equals the target grade.

    Args:
        pred_grades: predicted class labels (integers or strings), shape (N,).
        target_grades: true class labels of the same kind, shape (N,).

    Raises:
        ValueError: on length mismatch, empty, non-1-D or non-finite input.
    """
    p = _as_label_vector(pred_grades, "pred_grades")
    t = _as_label_vector(target_grades, "target_grades")
    if len(p) != len(t):
        raise ValueError(f"pred_grades and target_grades must have the same length, got {len(p)} and {len(t)}.")
    if len(p) == 0:
        raise ValueError("at least 1 sample is needed, got 0.")
    return float(np.mean(p == t))


def grade_auroc(scores: Any, target_grades: Any, classes: Sequence[Any] | None = None) -> float:
    """Macro one-vs-rest AUROC of per-class scores against grade labels.

    Computed with :func:`monai.metrics.compute_roc_auc` so the numbers match MONAI's ``ROCAUCMetric``.
    Why macro: quality grades are imbalanced (most images are usable) and each grade should count equally.

    Args:
        scores: (N, K) class probabilities or scores, column ``k`` for ``classes[k]``; or (N,) scores of the
            positive class ``classes[1]`` for a binary problem.
        target_grades: true labels (integers or strings), shape (N,), each one of ``classes``.
        classes: the class label of each score column, in order.  Defaults to ``range(K)`` (``range(2)`` for
            1-D scores), i.e. integer grades ``0..K-1``.

    Returns:
        Macro AUROC in [0, 1].  NaN (with MONAI's warning) if a class never or always occurs in the targets,
        because its one-vs-rest AUROC is then undefined.

    Raises:
        ValueError: on shape/length mismatch, non-finite scores, or a target label not in ``classes``.
    """
    s = _to_numpy(scores)
    if s.ndim not in (1, 2):
        raise ValueError(f"scores must be (N,) or (N, K), got shape {s.shape}.")
    s = _as_float_vector(s.reshape(-1), "scores").reshape(s.shape)
    t = _as_label_vector(target_grades, "target_grades")
    if len(s) != len(t):
        raise ValueError(f"scores and target_grades must have the same length, got {len(s)} and {len(t)}.")
    if len(t) < 2:
        raise ValueError(f"at least 2 samples are needed, got {len(t)}.")
    n_cols = 2 if s.ndim == 1 else s.shape[1]
    classes = list(range(n_cols)) if classes is None else list(classes)
    if len(classes) != n_cols:
        raise ValueError(f"scores describe {n_cols} classes but {len(classes)} class labels were given.")
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted({str(v) for v in t.tolist() if v not in index})
    if unknown:
        raise ValueError(f"target_grades contain labels not in classes {classes}: {unknown}.")
    idx = torch.as_tensor([index[v] for v in t.tolist()])
    if s.ndim == 1:
        y = (idx == 1).to(torch.int64)
    else:
        y = torch.nn.functional.one_hot(idx, num_classes=n_cols)
    return float(compute_roc_auc(torch.as_tensor(s), y, average="macro"))


def pixel_auroc(
    badness: np.ndarray, region: np.ndarray, within: np.ndarray, max_pixels: int | None = None, seed: int = 0
) -> float:
    """AUROC of a per-pixel ``badness`` map (e.g. ``1 - quality map``) against a degraded ``region`` mask, over the
    pixels ``within`` a mask (the field of view): how well the map points at the region.

    Computed with :func:`monai.metrics.compute_roc_auc`.  ``max_pixels`` scores a fixed random sample of that many
    pixels (large photographs).  Returns NaN when the region covers none or all of the pixels (nothing to find).
    """
    idx = np.flatnonzero(within)
    if max_pixels is not None and len(idx) > max_pixels:
        idx = np.random.default_rng(seed).choice(idx, max_pixels, replace=False)
    truth = region.reshape(-1)[idx].astype(np.float32)
    if truth.size == 0 or truth.min() == truth.max():
        return float("nan")
    pred = badness.reshape(-1)[idx].astype(np.float32)
    return float(compute_roc_auc(torch.from_numpy(pred), torch.from_numpy(truth)))
