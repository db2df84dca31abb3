"""Fundus image degradation physics with explicit physical parameters.

Why physics and not generic augmentation: a quality model must learn what the *acquisition* does to a photograph
(defocus of the fundus camera, patient motion, a cataract's scattering veil, a misaligned pupil, wrong flash
exposure, dust on the optics, sensor noise, compression) so that its score and map mean something to a
technologist.  Each degradation is a pure function ``apply(image, params, ctx)`` on an (H, W, 3) float32 image in
[0, 1]; ``params`` are physical quantities (sizes are fractions of the field-of-view diameter so they hold at any
resolution).  A documented ``from_severity`` maps a severity in [0, 1] to those parameters; nuisance parameters
(angle, position) come from the random generator and do not depend on the severity, so a ladder of severities with
one seed is the same acquisition made progressively worse.

Region-restricted degradations: :func:`apply_degradation` blends the degraded image back into the source with a
feathered region mask and returns the hard mask (weight >= 0.5) as ground truth; pixels whose weight is zero, and
every pixel outside the field of view, are returned unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from scipy.signal import fftconvolve

from monai_fiqa.fundus.landmarks import fov_diameter

__all__ = [
    "DEGRADATIONS",
    "DegradationContext",
    "DegradationSpec",
    "apply_degradation",
    "random_region",
]

_MAX_ARTEFACTS = 6
_VEIL_COLOUR = np.array([0.82, 0.74, 0.58], np.float32)  # warm whitish scatter of a cataractous lens


@dataclass(frozen=True)
class DegradationContext:
    """What a degradation needs to know about the photograph besides its pixels.

    Attributes:
        fov: (H, W) bool field-of-view mask.
        rng: generator for the degradation's own randomness (noise fields, artefact placement).
        region: optional (H, W) bool mask; localised artefacts are placed inside it.
    """

    fov: np.ndarray
    rng: np.random.Generator
    region: np.ndarray | None = None

    @property
    def diameter(self) -> float:
        """Field-of-view diameter in pixels (the unit of all size parameters)."""
        return fov_diameter(self.fov)

    def sample_points(self, n: int) -> np.ndarray:
        """``n`` random (row, col) points inside the region (or the field of view)."""
        where = self.region if self.region is not None and self.region.any() else self.fov
        idx = np.flatnonzero(where)
        if len(idx) == 0:
            idx = np.arange(where.size)
        pick = self.rng.choice(idx, size=n)
        return np.stack(np.unravel_index(pick, where.shape), axis=1).astype(np.float32)


@dataclass(frozen=True)
class DegradationSpec:
    """One degradation type.

    Attributes:
        name: registry key.
        apply: ``apply(image, params, ctx) -> image`` on (H, W, 3) float32 in [0, 1].
        from_severity: ``from_severity(s, rng) -> params``; nuisance draws must not depend on ``s``.
        units: physical meaning of each parameter, for docs and CSV headers.
    """

    name: str
    apply: Callable[[np.ndarray, dict, DegradationContext], np.ndarray]
    from_severity: Callable[[float, np.random.Generator], dict]
    units: dict[str, str]


def _convolve_rgb(img: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """Convolve each channel with a normalised PSF, reflecting at the borders."""
    psf = psf / psf.sum()
    p = max(psf.shape) // 2 + 1
    padded = np.pad(img, ((p, p), (p, p), (0, 0)), mode="reflect")
    out = np.stack([fftconvolve(padded[..., c], psf, mode="same") for c in range(3)], axis=-1)
    return out[p:-p, p:-p].astype(np.float32)


def _disk_psf(radius: float) -> np.ndarray:
    """Anti-aliased uniform disk: the geometric defocus PSF of a circular aperture."""
    r = max(radius, 0.5)
    n = int(np.ceil(r)) + 1
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    return np.clip(r + 0.5 - np.hypot(yy, xx), 0.0, 1.0)


def _line_psf(length: float, angle_deg: float) -> np.ndarray:
    """Anti-aliased line segment: the PSF of a uniform linear motion during the exposure."""
    n = int(np.ceil(length / 2)) + 1
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    a = np.deg2rad(angle_deg)
    along = xx * np.cos(a) + yy * np.sin(a)
    across = -xx * np.sin(a) + yy * np.cos(a)
    w_along = np.clip(length / 2 + 0.5 - np.abs(along), 0.0, 1.0)
    w_across = np.clip(1.0 - np.abs(across), 0.0, 1.0)
    return w_along * w_across


def _to_linear(img: np.ndarray) -> np.ndarray:
    return np.power(np.clip(img, 0.0, 1.0), 2.2)


def _to_display(lin: np.ndarray) -> np.ndarray:
    return np.power(np.clip(lin, 0.0, 1.0), 1.0 / 2.2)


# --- the physics ----------------------------------------------------------------------------------------------------


def _defocus(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    return _convolve_rgb(img, _disk_psf(p["radius"] * ctx.diameter))


def _motion(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    return _convolve_rgb(img, _line_psf(p["length"] * ctx.diameter, p["angle"]))


def _haze(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    """Cataract veil: direct light attenuated by t, plus wide-angle forward scatter and a warm veil."""
    t = p["transmission"]
    scatter = ndi.gaussian_filter(img, sigma=(p["scatter"] * ctx.diameter,) * 2 + (0,))
    veil = 0.5 * scatter + 0.5 * p["veil"] * _VEIL_COLOUR
    return (t * img + (1.0 - t) * veil).astype(np.float32)


def _illumination(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    """Uneven illumination: a crescent shadow from a decentred pupil, or a radial vignette (small pupil)."""
    h, w = ctx.fov.shape
    rows, cols = np.nonzero(ctx.fov)
    cy, cx = (rows.mean(), cols.mean()) if len(rows) else ((h - 1) / 2, (w - 1) / 2)
    rad = ctx.diameter / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if p["kind"] == "vignette":
        profile = np.clip(np.hypot(yy - cy, xx - cx) / rad, 0.0, 1.0) ** 2
    else:
        a = np.deg2rad(p["angle"])
        proj = ((xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)) / rad  # -1 .. 1 across the FOV
        profile = np.clip((proj + 0.5) / 1.3, 0.0, 1.0) ** 1.2
    gain = 1.0 - p["depth"] * profile
    return _to_display(_to_linear(img) * gain[..., None])


def _exposure(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    """Flash exposure error of ``ev`` stops, applied in linear light; the sensor saturates at 1."""
    return _to_display(_to_linear(img) * 2.0 ** p["ev"])


def _artefacts(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    """Out-of-focus obstructions near the pupil: dust spots, eyelashes, or a corneal reflection."""
    h, w = ctx.fov.shape
    d = ctx.diameter
    field = np.zeros((h, w), np.float32)
    n = int(p["count"])
    # Draw the maximum number of obstructions every time and keep the first n, so that a severity ladder with one
    # seed adds obstructions to the same ones instead of moving them.
    pts = ctx.sample_points(_MAX_ARTEFACTS)[:n]
    sizes = ctx.rng.uniform(0.04, 0.09, _MAX_ARTEFACTS)[:n] * d
    bends = ctx.rng.uniform(-1.0, 1.0, _MAX_ARTEFACTS)[:n]
    if p["kind"] == "eyelash":
        yy = np.arange(h, dtype=np.float32)[:, None]
        xx = np.arange(w, dtype=np.float32)[None, :]
        for (r, c), bend in zip(pts, bends, strict=True):
            curve = c + bend * 0.004 * (yy - r) ** 2 / max(d / 512, 1e-3)  # a lash crosses the image as an arc
            field = np.maximum(field, np.exp(-(((xx - curve) / (0.012 * d)) ** 2)) * (np.abs(yy - r) < 0.3 * d))
        field = ndi.gaussian_filter(field, 0.01 * d)
    else:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        for (r, c), s in zip(pts, sizes, strict=True):
            field = np.maximum(field, np.exp(-(((yy - r) ** 2 + (xx - c) ** 2) / (2 * s * s))))
    field = np.clip(field, 0.0, 1.0)[..., None] * p["opacity"]
    if p["kind"] == "reflection":
        return (img + field * (np.array([0.95, 0.95, 0.9], np.float32) - img)).astype(np.float32)
    return (img * (1.0 - field)).astype(np.float32)


def _noise(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    """Poisson-Gaussian sensor noise (Gaussian approximation): var = I / photons + read_sigma^2."""
    z = ctx.rng.standard_normal(img.shape).astype(np.float32)
    sigma = np.sqrt(np.clip(img, 0.0, 1.0) / p["photons"] + p["read_sigma"] ** 2)
    return np.clip(img + sigma * z, 0.0, 1.0).astype(np.float32)


def _jpeg(img: np.ndarray, p: dict, ctx: DegradationContext) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=int(p["quality"]))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0


# --- severity maps: s in [0, 1] -> physical parameters -------------------------------------------------------------


def _sev_defocus(s: float, rng: np.random.Generator) -> dict:
    return {"radius": 0.001 + 0.012 * s**1.2}


def _sev_motion(s: float, rng: np.random.Generator) -> dict:
    return {"length": 0.003 + 0.035 * s, "angle": float(rng.uniform(0, 180))}


def _sev_haze(s: float, rng: np.random.Generator) -> dict:
    return {"transmission": 1.0 - 0.8 * s, "scatter": 0.04, "veil": float(rng.uniform(0.7, 1.0))}


def _sev_illumination(s: float, rng: np.random.Generator) -> dict:
    kind = "vignette" if rng.random() < 0.3 else "crescent"
    return {"depth": 0.97 * s, "kind": kind, "angle": float(rng.uniform(0, 360))}


def _sev_underexposure(s: float, rng: np.random.Generator) -> dict:
    return {"ev": -2.8 * s**1.1}


def _sev_overexposure(s: float, rng: np.random.Generator) -> dict:
    return {"ev": 2.6 * s}


def _sev_artefacts(s: float, rng: np.random.Generator) -> dict:
    kind = str(rng.choice(["dust", "eyelash", "reflection"]))
    return {"kind": kind, "count": 1 + int(round((_MAX_ARTEFACTS - 1) * s)), "opacity": 0.95 * s}


def _sev_noise(s: float, rng: np.random.Generator) -> dict:
    return {"photons": float(10 ** (3.2 - 3.0 * s)), "read_sigma": 0.002 + 0.03 * s}


def _sev_jpeg(s: float, rng: np.random.Generator) -> dict:
    return {"quality": int(round(90 - 86 * s**0.6))}


DEGRADATIONS: dict[str, DegradationSpec] = {
    d.name: d
    for d in (
        DegradationSpec("defocus", _defocus, _sev_defocus, {"radius": "blur-disk radius / FOV diameter"}),
        DegradationSpec(
            "motion", _motion, _sev_motion, {"length": "blur length / FOV diameter", "angle": "direction, degrees"}
        ),
        DegradationSpec(
            "haze",
            _haze,
            _sev_haze,
            {
                "transmission": "direct-light transmission 0-1",
                "scatter": "scatter sigma / FOV diameter",
                "veil": "veil luminance 0-1",
            },
        ),
        DegradationSpec(
            "illumination",
            _illumination,
            _sev_illumination,
            {"depth": "fractional light loss at the dark edge", "kind": "crescent|vignette", "angle": "degrees"},
        ),
        DegradationSpec("underexposure", _exposure, _sev_underexposure, {"ev": "exposure error, stops (<0)"}),
        DegradationSpec("overexposure", _exposure, _sev_overexposure, {"ev": "exposure error, stops (>0)"}),
        DegradationSpec(
            "artefacts",
            _artefacts,
            _sev_artefacts,
            {"kind": "dust|eyelash|reflection", "count": "number of obstructions", "opacity": "peak opacity 0-1"},
        ),
        DegradationSpec(
            "noise", _noise, _sev_noise, {"photons": "photo-electrons at full scale", "read_sigma": "read noise 0-1"}
        ),
        DegradationSpec("jpeg", _jpeg, _sev_jpeg, {"quality": "JPEG quality factor 1-100"}),
    )
}


def random_region(
    fov: np.ndarray, rng: np.random.Generator, size_range: tuple[float, float] = (0.15, 0.35)
) -> np.ndarray:
    """A random irregular blob inside the field of view (its diameter a fraction of the FOV diameter)."""
    h, w = fov.shape
    rows, cols = np.nonzero(fov)
    if len(rows) == 0:
        return np.zeros_like(fov, dtype=bool)
    diameter = fov_diameter(fov)
    i = rng.integers(len(rows))
    r0, c0 = rows[i], cols[i]
    rad = rng.uniform(*size_range) * diameter / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = np.arctan2(yy - r0, xx - c0)
    wobble = 1.0 + 0.25 * np.sin(3 * ang + rng.uniform(0, 6.3)) * rng.uniform(0, 1) + 0.1 * np.sin(5 * ang)
    aspect = rng.uniform(0.6, 1.0)
    dist = np.hypot((yy - r0) / aspect, xx - c0)
    return (dist <= rad * wobble) & fov


def apply_degradation(
    image: np.ndarray,
    kind: str,
    params: dict,
    fov: np.ndarray,
    rng: np.random.Generator,
    region: np.ndarray | None = None,
    feather: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one degradation globally or inside a region.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        kind: a key of :data:`DEGRADATIONS`.
        params: its physical parameters.
        fov: (H, W) bool field of view; nothing outside it changes.
        rng: generator for noise fields and artefact placement.
        region: optional (H, W) bool region; when given, only it (with a feathered edge) is degraded.
        feather: width of the region's soft edge as a fraction of the FOV diameter.

    Returns:
        The degraded image (float32, same shape) and the degraded-region mask (the FOV when global).
    """
    if kind not in DEGRADATIONS:
        raise KeyError(f"unknown degradation {kind!r}; available: {sorted(DEGRADATIONS)}")
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    fov = fov.astype(bool)
    ctx = DegradationContext(fov=fov, rng=rng, region=region)
    out = np.clip(DEGRADATIONS[kind].apply(image.astype(np.float32), params, ctx), 0.0, 1.0)
    if region is None:
        weight = fov.astype(np.float32)
        truth = fov.copy()
    else:
        sigma = max(feather * ctx.diameter, 0.5)
        weight = ndi.gaussian_filter(region.astype(np.float32), sigma)
        weight[weight < 1e-3] = 0.0
        weight *= fov
        truth = (weight >= 0.5) & fov
    out = weight[..., None] * out + (1.0 - weight[..., None]) * image
    return out.astype(np.float32), truth
