"""Procedural CT/MR phantoms: tissue-label volumes of a head, chest or abdomen, rendered as CT (HU) or MR (T1w/T2w).

Why: the real volumes we may train on are few (one CT angiogram, a few MR series), and every real CT slice that ships
with pydicom is held out for evaluation.  A quality model has to learn what noise, streaks and blur do to *anatomy*
(edges of bone, soft-tissue texture, air), not the look of one patient, so the training mix adds unlimited random
anatomy: ellipsoidal body/skull/organ layouts whose size, position and tissue values vary per seed, with smooth
textures and z-variation so that slice-thickness blur has something to blur.  The phantoms are deliberately simple;
they are a source of clean structure for the physics, not a stand-in for diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from monai_fiqa.ctmr.preprocessing import INPUT_SIZE

__all__ = ["TISSUES", "Phantom", "phantom_ct", "phantom_mr", "render_phantom"]

TISSUES = ("air", "fat", "muscle", "liver", "kidney", "bone", "marrow", "lung", "grey", "white", "csf", "vessel", "gas")
_T = {name: i for i, name in enumerate(TISSUES)}
# (HU mean, HU jitter) and (T1w, T2w) relative signal per tissue
_HU = {
    "air": (-1000, 0), "fat": (-100, 15), "muscle": (50, 8), "liver": (60, 10), "kidney": (35, 10),
    "bone": (900, 250), "marrow": (250, 80), "lung": (-850, 40), "grey": (38, 3), "white": (28, 3),
    "csf": (6, 3), "vessel": (300, 120), "gas": (-950, 30),
}  # fmt: skip
_MR = {
    "air": (0.0, 0.0), "fat": (0.95, 0.8), "muscle": (0.45, 0.3), "liver": (0.55, 0.35), "kidney": (0.4, 0.6),
    "bone": (0.05, 0.05), "marrow": (0.8, 0.6), "lung": (0.03, 0.03), "grey": (0.5, 0.65), "white": (0.7, 0.5),
    "csf": (0.15, 1.0), "vessel": (0.9, 0.2), "gas": (0.0, 0.0),
}  # fmt: skip


@dataclass(frozen=True)
class Phantom:
    """A tissue-label volume.

    Attributes:
        labels: (H, W, Z) uint8 indices into :data:`TISSUES`.
        spacing: (dx, dy, dz) in mm.
        anatomy: "head", "chest" or "abdomen".
    """

    labels: np.ndarray
    spacing: tuple[float, float, float]
    anatomy: str


def _field(shape: tuple[int, ...], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field with unit standard deviation and correlation length ``scale`` pixels."""
    f = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), scale)
    return f / (f.std() + 1e-6)


def _ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, a: float, b: float) -> np.ndarray:
    return ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1.0


def _head(xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lab = np.zeros(xx.shape, np.uint8)
    taper = np.sqrt(np.clip(1.0 - (0.75 * zz) ** 2, 0.05, 1.0))
    a, b = rng.uniform(0.7, 0.82) * taper, rng.uniform(0.85, 0.95) * taper
    lab[_ellipse(xx, yy, 0, 0, a, b)] = _T["muscle"]
    skull = _ellipse(xx, yy, 0, 0, a - 0.04, b - 0.04)
    lab[skull] = _T["bone"]
    t = rng.uniform(0.05, 0.09)
    brain = _ellipse(xx, yy, 0, 0, a - 0.04 - t, b - 0.04 - t)
    lab[brain] = _T["grey"]
    folds = _field(xx.shape, 2.5, rng)
    lab[brain & (_field(xx.shape, 6.0, rng) > -0.2)] = _T["white"]
    rim = brain & ~ndi.binary_erosion(brain, iterations=3)
    lab[(brain & (folds > 1.2)) | (rim & (folds > 0.3))] = _T["csf"]
    for side in (-1, 1):
        vent = _ellipse(xx, yy, side * rng.uniform(0.06, 0.12), rng.uniform(-0.15, 0.05), 0.06, 0.25) & (
            np.abs(zz) < 0.45
        )
        lab[vent & brain] = _T["csf"]
    lab[brain & (_field(xx.shape, 1.5, rng) > 2.6)] = _T["vessel"]
    return lab


def _trunk(xx: np.ndarray, yy: np.ndarray, zz: np.ndarray, rng: np.random.Generator, chest: bool) -> np.ndarray:
    lab = np.zeros(xx.shape, np.uint8)
    a, b = rng.uniform(0.8, 0.95), rng.uniform(0.55, 0.7)
    body = _ellipse(xx, yy, 0, 0, a, b)
    lab[body] = _T["fat"]
    fat = rng.uniform(0.04, 0.12)
    inner = _ellipse(xx, yy, 0, 0, a - fat, b - fat)
    lab[inner] = _T["muscle"]
    if chest:
        for side in (-1, 1):
            lung = _ellipse(xx, yy, side * 0.35 * a, -0.05, 0.3 * a, 0.75 * b) & inner
            lab[lung] = _T["lung"]
            lab[lung & (_field(xx.shape, 1.2, rng) > 2.2)] = _T["vessel"]
    else:
        lab[_ellipse(xx, yy, -0.3 * a, -0.1, 0.35 * a, 0.6 * b) & inner] = _T["liver"]
        for side in (-1, 1):
            lab[_ellipse(xx, yy, side * 0.3 * a, 0.3 * b, 0.09, 0.14) & inner] = _T["kidney"]
        gas = inner & (_field(xx.shape, 3.0, rng) > 2.0) & (lab == _T["muscle"])
        lab[gas] = _T["gas"]
    spine_y = 0.62 * b
    lab[_ellipse(xx, yy, 0, spine_y, 0.13, 0.13)] = _T["bone"]
    lab[_ellipse(xx, yy, 0, spine_y, 0.09, 0.09)] = _T["marrow"]
    lab[_ellipse(xx, yy, rng.uniform(-0.05, 0.05), spine_y - 0.22, 0.06, 0.06)] = _T["vessel"]
    wobble = 0.02 * np.sin(6.0 * zz + rng.uniform(0, 6))
    return np.where(_ellipse(xx + wobble, yy, 0, 0, a, b), lab, 0).astype(np.uint8)


def render_phantom(seed: int, anatomy: str | None = None, size: int = INPUT_SIZE, depth: int = 24) -> Phantom:
    """A random head or trunk phantom.

    Args:
        seed: random seed (same seed, same phantom).
        anatomy: "head", "chest", "abdomen" or None (drawn at random).
        size: in-plane matrix.
        depth: number of slices.
    """
    rng = np.random.default_rng(seed)
    anatomy = anatomy or str(rng.choice(["head", "chest", "abdomen"], p=[0.5, 0.25, 0.25]))
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    zl = np.linspace(-0.5, 0.5, depth, dtype=np.float32)
    xx, yy, zz = np.meshgrid(lin, lin, zl, indexing="ij")
    rot = rng.uniform(-0.3, 0.3)
    xr, yr = xx * np.cos(rot) - yy * np.sin(rot), xx * np.sin(rot) + yy * np.cos(rot)
    labels = _head(yr, xr, zz, rng) if anatomy == "head" else _trunk(yr, xr, zz, rng, anatomy == "chest")
    fov_mm = 240.0 if anatomy == "head" else 380.0
    dz = float(rng.choice([1.0, 1.25, 2.0]))
    return Phantom(labels, (fov_mm / size, fov_mm / size, dz), anatomy)


def phantom_ct(ph: Phantom, rng: np.random.Generator) -> np.ndarray:
    """HU volume: per-tissue values with per-phantom jitter, smooth texture and partial-volume edges."""
    hu = np.zeros(ph.labels.shape, np.float32)
    tex = _field(ph.labels.shape, 2.0, rng)
    for name, (mean, jitter) in _HU.items():
        m = ph.labels == _T[name]
        if m.any():
            hu[m] = mean + rng.uniform(-1, 1) * jitter + 0.25 * max(jitter, 4.0) * tex[m]
    return ndi.gaussian_filter(hu, (0.6, 0.6, 0.4))


def phantom_mr(ph: Phantom, weighting: str, rng: np.random.Generator) -> np.ndarray:
    """Magnitude volume (arbitrary units, max ~1000) for "T1" or "T2" weighting."""
    col = 0 if weighting.upper() == "T1" else 1
    img = np.zeros(ph.labels.shape, np.float32)
    tex = _field(ph.labels.shape, 2.0, rng)
    for name, signals in _MR.items():
        m = ph.labels == _T[name]
        if m.any():
            img[m] = 1000.0 * signals[col] * rng.uniform(0.85, 1.15) * (1.0 + 0.05 * tex[m])
    return np.clip(ndi.gaussian_filter(img, (0.6, 0.6, 0.4)), 0.0, None)
