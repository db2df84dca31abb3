"""Salient slice selection for 3D quality scoring, and the fusion of slice scores.

Why not evenly spaced slices: a head CT or a brain MR starts and ends with slices that hold a sliver of skull or
nothing at all; their scores are noise (SSIM-like judgements on empty air) and evenly spaced picks land on them.
Saliency here is ``foreground fraction x intensity entropy of the foreground`` on a strided copy of the volume
(every 4th pixel in-plane for a 512 matrix): slices with much anatomy and much structure score high.  Picks are
greedy by saliency with a minimum gap between them so the seven slices still span the volume.
``benchmarks/mediqa_accuracy.py`` compares this with evenly spaced slices on held-out volumes.
"""

from __future__ import annotations

import numpy as np

from monai_fiqa.ctmr.preprocessing import foreground_mask, intensity_scale

__all__ = ["evenly_spaced", "fuse_slice_scores", "select_salient_slices", "slice_saliency"]

_BINS = 32


def slice_saliency(volume: np.ndarray, modality: str, max_side: int = 128) -> np.ndarray:
    """(Z,) saliency of each slice of an (H, W, Z) volume: foreground fraction x foreground entropy (bits)."""
    step = max(1, int(np.ceil(max(volume.shape[:2]) / max_side)))
    small = volume[::step, ::step, :]
    scale = None if modality == "CT" else intensity_scale(small)
    fg = foreground_mask(small, modality, scale)
    if modality == "CT":
        norm = np.clip((small + 1000.0) / 2000.0, 0.0, 1.0)
    else:
        norm = np.clip(small / (scale or 1.0), 0.0, 1.0)
    bins = np.minimum((norm * _BINS).astype(np.int32), _BINS - 1)
    z = small.shape[2]
    idx = np.where(fg, bins + _BINS * np.arange(z)[None, None, :], -1).ravel()
    counts = np.bincount(idx[idx >= 0], minlength=_BINS * z).reshape(z, _BINS).astype(np.float64)
    n = counts.sum(axis=1, keepdims=True)
    p = counts / np.maximum(n, 1.0)
    entropy = -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=1)
    fraction = n[:, 0] / (small.shape[0] * small.shape[1])
    return (fraction * entropy).astype(np.float32)


def select_salient_slices(saliency: np.ndarray, k: int = 7) -> np.ndarray:
    """Indices (sorted) of up to ``k`` salient slices at least ``Z / (2k)`` apart."""
    z = len(saliency)
    if z <= k:
        return np.arange(z)
    gap = max(1, z // (2 * k))
    chosen: list[int] = []
    for i in np.argsort(-saliency, kind="stable"):
        if all(abs(int(i) - c) >= gap for c in chosen):
            chosen.append(int(i))
        if len(chosen) == k:
            break
    return np.array(sorted(chosen))


def evenly_spaced(z: int, k: int = 7) -> np.ndarray:
    """The baseline: ``k`` slices evenly spaced through the volume (centres of k equal slabs)."""
    if z <= k:
        return np.arange(z)
    return np.unique(((np.arange(k) + 0.5) * z / k).astype(int))


def fuse_slice_scores(scores: np.ndarray, importance: np.ndarray, confidence: np.ndarray) -> float:
    """Volume score: slice scores weighted by saliency x the network's own evidence (mean patch weight)."""
    w = np.clip(importance, 0.0, None) * np.clip(confidence, 1e-6, None)
    if w.sum() <= 0:
        w = np.ones_like(scores)
    return float((scores * w).sum() / w.sum())
