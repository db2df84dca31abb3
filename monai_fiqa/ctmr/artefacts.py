"""Registry of CT/MR acquisition artefacts: severity in [0, 1] -> one physical parameter -> degraded slice.

Every artefact has one physical parameter with a unit (dose fraction, SNR, motion amplitude, ...) and a documented
monotone map from severity; severity 0 always means "absent".  The MedIQA parameter head regresses severities, and
:func:`severity_to_physical` turns them back into the physical values the DICOM SR reports.

Artefacts act on a slab: (H, W, Z) with the slice of interest in the middle, because slice-thickness blur needs the
neighbouring slices; all other artefacts are applied to the middle slice only (2D multi-slice acquisition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monai_fiqa.ctmr import ct_physics as ct
from monai_fiqa.ctmr import mr_physics as mr

__all__ = ["ARTEFACTS", "ArtefactSpec", "artefacts_for", "degrade_slab", "draw_variants", "severity_to_physical"]


@dataclass(frozen=True)
class ArtefactSpec:
    """One artefact type.

    Attributes:
        name: registry key.
        modality: "CT" or "MR".
        parameter: name of the physical parameter, with its unit.
        to_physical: severity in [0, 1] -> physical value.
        apply: ``apply(slice, value, pixel_mm, rng) -> slice`` for in-plane artefacts (None for slab artefacts).
        needs_z: True when the artefact needs neighbouring slices (slice thickness).
        variants: other physical models of the same artefact (noise models, field shapes) that ``apply`` takes as
            ``variant=``; none named: the original model.  Training and validation sets draw them as nuisance.
    """

    name: str
    modality: str
    parameter: str
    to_physical: Callable[[float], float]
    apply: Callable[..., np.ndarray] | None
    needs_z: bool = False
    variants: tuple[str, ...] = ()


def _in_plane(fn: Callable[..., np.ndarray], uses_rng: bool = True) -> Callable[..., np.ndarray]:
    """Adapt an MR function ``fn(slice, value[, rng][, variant])`` to the registry's
    ``apply(slice, value, pixel_mm, rng[, variant=])``."""

    def apply(
        x: np.ndarray, value: float, _pixel_mm: float, rng: np.random.Generator, variant: str | None = None
    ) -> np.ndarray:
        if not uses_rng:
            return fn(x, value)
        return fn(x, value, rng) if variant is None else fn(x, value, rng, variant)

    return apply


def _energy_share(severity: float) -> float:
    """Severity -> share of k-space energy affected, log-spaced: 0, 0.0015, 0.0054, 0.015, 0.039, 0.1 at s = 0, 0.2,
    ..., 1.  Why log-spaced: the image error grows as the square root of the share, so equal severity steps should
    multiply it, not add to it (measured ladders in ``docs/ctmr_physics.md``)."""
    return 0.1 * (100.0**severity - 1.0) / 99.0


ARTEFACTS: dict[str, ArtefactSpec] = {
    spec.name: spec
    for spec in (
        ArtefactSpec(
            "ct_dose",
            "CT",
            "dose fraction",
            lambda s: 10.0 ** (-1.7 * s),
            ct.ct_low_dose,
            variants=ct.DOSE_NOISE_MODELS,
        ),
        ArtefactSpec("ct_metal", "CT", "metal insert diameter (mm)", lambda s: 10.0 * s, ct.ct_metal),
        ArtefactSpec("ct_thickness", "CT", "added slice thickness (mm)", lambda s: 9.0 * s, None, needs_z=True),
        ArtefactSpec(
            "mr_noise",
            "MR",
            "SNR",
            lambda s: 80.0 * (4.0 / 80.0) ** s,
            _in_plane(mr.mr_noise),
            variants=mr.NOISE_MODELS,
        ),
        ArtefactSpec("mr_motion", "MR", "k-space energy share after movement", _energy_share, _in_plane(mr.mr_motion)),
        ArtefactSpec("mr_ghosting", "MR", "ghost intensity", lambda s: 0.9 * s, _in_plane(mr.mr_ghosting)),
        ArtefactSpec("mr_undersampling", "MR", "acceleration R", lambda s: 1.0 + 3.0 * s, _in_plane(mr.mr_undersample)),
        ArtefactSpec("mr_gibbs", "MR", "k-space energy share truncated", _energy_share, _in_plane(mr.mr_gibbs, False)),
        ArtefactSpec(
            "mr_bias", "MR", "bias log-gain", lambda s: 0.8 * s, _in_plane(mr.mr_bias_field), variants=mr.BIAS_SHAPES
        ),
    )
}

ARTEFACT_NAMES: tuple[str, ...] = tuple(ARTEFACTS)


def artefacts_for(modality: str, has_z: bool = True) -> list[str]:
    """Artefact names that apply to a modality (slab artefacts only when neighbouring slices exist)."""
    return [n for n, a in ARTEFACTS.items() if a.modality == modality and (has_z or not a.needs_z)]


def draw_variants(names: list[str], rng: np.random.Generator) -> dict[str, str]:
    """One physical model per artefact of ``names`` that has variants, uniformly (a nuisance draw)."""
    return {n: str(rng.choice(ARTEFACTS[n].variants)) for n in names if ARTEFACTS[n].variants}


def severity_to_physical(name: str, severity: float) -> float:
    """Physical parameter value for an artefact severity (clipped to [0, 1])."""
    return float(ARTEFACTS[name].to_physical(float(np.clip(severity, 0.0, 1.0))))


def degrade_slab(
    slab: np.ndarray,
    spacing: tuple[float, float, float],
    severities: dict[str, float],
    rng: np.random.Generator,
    variants: dict[str, str] | None = None,
) -> np.ndarray:
    """Apply artefacts to the middle slice of a slab.

    Args:
        slab: (H, W, Z) clean intensities (HU for CT, magnitude for MR); Z may be 1.
        spacing: voxel size in mm (x, y, z).
        severities: artefact name -> severity in [0, 1]; applied in registry order (blur before noise, as in a
            scanner: thickness is a property of the reconstruction, noise of each reading).
        rng: nuisance source.
        variants: artefact name -> which of its ``variants`` (physical models) to apply; others: the original.

    Returns:
        (H, W) float32 degraded middle slice.
    """
    mid = slab.shape[2] // 2
    order = [n for n in ARTEFACTS if n in severities]
    if "ct_thickness" in severities and severities["ct_thickness"] > 0:
        extra = severity_to_physical("ct_thickness", severities["ct_thickness"])
        slab = ct.ct_slice_thickness(slab, spacing[2], spacing[2] + extra)
    out = slab[:, :, mid].astype(np.float32)
    for name in order:
        spec = ARTEFACTS[name]
        if spec.apply is None or severities[name] <= 0:
            continue
        chosen = {"variant": variants[name]} if variants and name in variants else {}
        out = spec.apply(out, severity_to_physical(name, severities[name]), float(spacing[0]), rng, **chosen)
    return out
