"""Severity ladders: one photograph, each degradation at increasing severity, labelled with the pseudo-MOS.

Why: a ladder is the quickest way for a person to see that the physics looks right and that the label falls with
severity; the tests check the same property on real DRIVE photographs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation
from monai_fiqa.fundus.pseudo_mos import PseudoMOS, pseudo_mos

__all__ = ["DEFAULT_SEVERITIES", "severity_ladder"]

DEFAULT_SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def severity_ladder(
    image: np.ndarray,
    kinds: Sequence[str] | None = None,
    severities: Sequence[float] = DEFAULT_SEVERITIES,
    seed: int = 0,
    anatomy: Anatomy | None = None,
) -> list[dict]:
    """Degrade ``image`` at each severity of each kind with one seed per kind (same nuisance parameters).

    Args:
        image: (H, W, 3) uint8 clean photograph.
        kinds: degradation names (all by default).
        severities: severities in [0, 1].
        seed: seed of the nuisance parameters and noise fields.
        anatomy: the photograph's anatomy; estimated when missing.

    Returns:
        One dict per (kind, severity): ``kind``, ``severity``, ``params``, ``image`` (uint8), ``label``
        (:class:`PseudoMOS`).
    """
    anatomy = anatomy or estimate_anatomy(image)
    clean = image.astype(np.float32) / 255.0
    out = []
    for kind in kinds or list(DEGRADATIONS):
        for s in severities:
            rng = np.random.default_rng(seed)
            params = DEGRADATIONS[kind].from_severity(float(s), rng)
            deg, _ = apply_degradation(clean, kind, params, anatomy.fov, rng)
            deg8 = np.clip(deg * 255.0 + 0.5, 0, 255).astype(np.uint8)
            label: PseudoMOS = pseudo_mos(image, deg8, anatomy)
            out.append({"kind": kind, "severity": float(s), "params": params, "image": deg8, "label": label})
    return out
