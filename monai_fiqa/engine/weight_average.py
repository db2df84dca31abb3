"""Weight-space interpolation of a model and its fine-tuned copy (WiSE-FT, Wortsman et al., CVPR 2022).

Why: fine-tuning a model on a new kind of image can teach it that kind and cost what it already ranked well.
Interpolating the two sets of weights, which share their initialisation, keeps much of both.  The mixing weight
is a hyper-parameter, to be chosen on validation data (the trials and the choice made for each shipped bundle are
in ``docs/experiments/``).
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["interpolate_state_dicts", "interpolate_checkpoints"]


def interpolate_state_dicts(
    base: dict[str, torch.Tensor], finetuned: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * base + alpha * finetuned`` for every floating-point tensor of ``finetuned``.

    A tensor that ``base`` lacks (a layer added after it was saved, which loads as zeros) counts as zeros; integer
    buffers (BatchNorm's ``num_batches_tracked``) are taken from ``finetuned``.

    Raises:
        ValueError: ``alpha`` outside [0, 1], a key of ``base`` that ``finetuned`` lacks, or mismatched shapes.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    missing = sorted(set(base) - set(finetuned))
    if missing:
        raise ValueError(f"the fine-tuned weights lack {missing[:3]}: not the same network")
    out: dict[str, torch.Tensor] = {}
    for key, value in finetuned.items():
        if not value.is_floating_point():
            out[key] = value.clone()
            continue
        start = base.get(key, torch.zeros_like(value))
        if start.shape != value.shape:
            raise ValueError(f"{key}: shape {tuple(start.shape)} vs {tuple(value.shape)}")
        out[key] = torch.lerp(start.to(value.dtype), value, alpha)
    return out


def interpolate_checkpoints(base: str | Path, finetuned: str | Path, alpha: float, out: str | Path) -> Path:
    """Interpolate two state-dict files (loaded with ``weights_only=True``) and save the result to ``out``."""
    a = torch.load(base, map_location="cpu", weights_only=True)
    b = torch.load(finetuned, map_location="cpu", weights_only=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(interpolate_state_dicts(a, b, alpha), out)
    return out
