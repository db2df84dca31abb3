"""Camera emulation: how another fundus camera would record the same retina.

Why: the real photographs we can train and test on come from one camera (DRIVE: Canon CR5, a ~540-px field of
view).  Screening programmes use cameras with 1000-3500-px fields of view, other colour balance and tone curves,
JPEG export, vignetting, and fields of view cut by a rectangular sensor or cropped to fill the frame.  A quality
model must not read these as degradations.  :func:`record` re-records a photograph through such a camera so that
models are trained with that variety and measured on it (the camera-shift set: :data:`CAMERA_SHIFT_PROFILES`).

The pipeline follows a real camera: optics (a little blur at the source scale, then resampling to the camera's
field of view), colour (white-balance gains, a tone curve), vignetting (radial fall-off inside the field of view),
sensor noise (signal-dependent, after the optics), the field-of-view shape (sensor truncation, a notch, a frame
filled by the retina, a dark border of some grey level), and JPEG compression last.  Geometry is returned
(``scale``, ``offset``) so that landmarks, vessel masks and regions can follow (:func:`warp_anatomy`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from monai_fiqa.fundus.landmarks import Anatomy, fov_diameter

__all__ = [
    "CAMERA_SHIFT_PROFILES",
    "FOV_SHAPES",
    "CameraProfile",
    "Recording",
    "random_profile",
    "record",
    "record_pair",
    "warp_anatomy",
    "warp_mask",
]

FOV_SHAPES = ("circle", "truncated_tb", "truncated_lr", "notch", "fill")


@dataclass(frozen=True)
class CameraProfile:
    """One camera's recording parameters (all physical or relative; see :func:`record`).

    Attributes:
        name: label used in reports.
        fov_px: field-of-view diameter of the recording in pixels (``None``: keep the source's).
        optics_sigma: Gaussian blur of the optics, in source pixels, applied before resampling.
        white_balance: (r, g, b) gains.
        gamma: tone-curve exponent applied to display values (< 1 brightens mid-tones).
        vignetting: fraction of brightness lost at the edge of the field of view (quadratic fall-off).
        noise: sensor noise standard deviation at full scale (signal-dependent: ``noise * sqrt(value)``).
        shape: one of :data:`FOV_SHAPES`.
        keep: for truncated shapes, the kept fraction of the diameter; for ``fill``, the half-side of the frame
            in units of the radius (0.7 = the inscribed square).
        border: grey level (0-1) of the surround outside the field of view (``None``: the source's surround,
            black where the shape removes retina).
        jpeg_quality: JPEG quality of the export (``None``: lossless).
    """

    name: str = "source"
    fov_px: int | None = None
    optics_sigma: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    vignetting: float = 0.0
    noise: float = 0.0
    shape: str = "circle"
    keep: float = 1.0
    border: float | None = None
    jpeg_quality: int | None = None


# The camera-shift evaluation set: each profile is one plausible camera, the source camera included.  Never drawn
# in training as such (training draws random profiles from wider ranges, :func:`random_profile`).
CAMERA_SHIFT_PROFILES: tuple[CameraProfile, ...] = (
    CameraProfile(name="source"),
    CameraProfile(
        name="fov1000_warm_jpeg90",
        fov_px=1000,
        optics_sigma=0.6,
        white_balance=(1.08, 0.97, 0.88),
        gamma=0.9,
        vignetting=0.15,
        noise=0.01,
        jpeg_quality=90,
    ),
    CameraProfile(
        name="fov1600_cool_truncated",
        fov_px=1600,
        optics_sigma=0.8,
        white_balance=(0.9, 1.02, 1.12),
        gamma=1.1,
        vignetting=0.25,
        noise=0.012,
        shape="truncated_tb",
        keep=0.86,
        border=0.04,
        jpeg_quality=95,
    ),
    CameraProfile(
        name="fov2400_notch_jpeg80",
        fov_px=2400,
        optics_sigma=1.0,
        white_balance=(1.0, 1.05, 0.95),
        gamma=1.0,
        vignetting=0.1,
        noise=0.015,
        shape="notch",
        border=0.08,
        jpeg_quality=80,
    ),
    CameraProfile(
        name="fov1600_fill_frame",
        fov_px=1600,
        optics_sigma=0.7,
        white_balance=(1.04, 1.0, 0.94),
        gamma=0.95,
        vignetting=0.2,
        noise=0.01,
        shape="fill",
        keep=0.72,
        jpeg_quality=92,
    ),
)


def random_profile(rng: np.random.Generator, max_fov_px: int = 1600) -> CameraProfile:
    """A random camera from ranges that cover the camera-shift profiles (training variety).

    ``max_fov_px`` bounds the resampled size: resolution matters to a model that sees a ~400-px square mostly
    through how optics, noise and JPEG look after downsampling, which 1600 px already shows; it keeps data
    synthesis fast.
    """
    shape = str(rng.choice(FOV_SHAPES, p=[0.4, 0.2, 0.1, 0.1, 0.2]))
    keep = {"truncated_tb": rng.uniform(0.78, 0.95), "truncated_lr": rng.uniform(0.85, 0.97)}.get(shape, 1.0)
    if shape == "fill":
        keep = rng.uniform(0.66, 0.8)
    return CameraProfile(
        name="random",
        fov_px=int(rng.integers(480, max_fov_px + 1)),
        optics_sigma=float(rng.uniform(0.0, 1.2)),
        white_balance=tuple(float(g) for g in rng.uniform(0.85, 1.15, 3)),
        gamma=float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))),
        vignetting=float(rng.uniform(0.0, 0.35)),
        noise=float(rng.uniform(0.0, 0.02)),
        shape=shape,
        keep=float(keep),
        border=None if rng.random() < 0.3 else float(rng.uniform(0.0, 0.1)),
        jpeg_quality=None if rng.random() < 0.3 else int(rng.integers(75, 99)),
    )


@dataclass(frozen=True)
class Recording:
    """A re-recorded photograph and where the source's pixels went: ``new = old * scale - offset``."""

    image: np.ndarray
    fov: np.ndarray
    scale: float
    offset: tuple[int, int]


def _resample(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


def _shape_mask(fov: np.ndarray, profile: CameraProfile) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The recorded field of view and the frame (r0, r1, c0, c1) the sensor keeps."""
    h, w = fov.shape
    rows, cols = np.flatnonzero(fov.any(1)), np.flatnonzero(fov.any(0))
    if len(rows) == 0:
        return fov, (0, h, 0, w)
    cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
    radius = max(rows[-1] - rows[0], cols[-1] - cols[0]) / 2
    frame = (0, h, 0, w)
    mask = fov.copy()
    half = profile.keep * radius
    if profile.shape == "truncated_tb":
        frame = (max(0, int(cy - half)), min(h, int(cy + half) + 1), 0, w)
    elif profile.shape == "truncated_lr":
        frame = (0, h, max(0, int(cx - half)), min(w, int(cx + half) + 1))
    elif profile.shape == "fill":
        frame = (max(0, int(cy - half)), min(h, int(cy + half) + 1), max(0, int(cx - half)), min(w, int(cx + half) + 1))
    elif profile.shape == "notch":  # a small square notch at the top of the circle, as some cameras mark it
        yy, xx = np.ogrid[:h, :w]
        notch = (np.abs(xx - cx) < 0.08 * radius) & (yy < cy - 0.9 * radius)
        mask &= ~notch
    r0, r1, c0, c1 = frame
    return mask[r0:r1, c0:c1], frame


@lru_cache(maxsize=1)
def _sensor_noise_field(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Unit normal noise of one seed, read-only.  Cached because a clean source and its degraded copies are
    recorded with the same seed (:func:`record_pair`, and every rung of a ladder): a 2400-px ladder took 13.4 s
    drawing it per recording, 9.4 s drawing it once."""
    field = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    field.flags.writeable = False
    return field


def record(image: np.ndarray, fov: np.ndarray, profile: CameraProfile, seed: int = 0) -> Recording:
    """Re-record an (H, W, 3) uint8 photograph with a camera profile.

    Args:
        image: the photograph.
        fov: its field-of-view mask.
        profile: the camera.
        seed: seed of the sensor noise (the same seed records a clean source and its degraded copy with the same
            noise field, so a full-reference label compares the degradation, not the noise draw).

    Returns:
        The :class:`Recording`.
    """
    img = image.astype(np.float32) / 255.0
    if profile.optics_sigma > 0:
        img = ndi.gaussian_filter(img, sigma=(profile.optics_sigma, profile.optics_sigma, 0))
    scale = 1.0 if profile.fov_px is None else profile.fov_px / fov_diameter(fov)
    img8 = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if abs(scale - 1.0) > 1e-3:
        img8 = _resample(img8, scale)
        fov = warp_mask(fov, scale, (0, 0), img8.shape[:2])
    img = img8.astype(np.float32) / 255.0
    img = np.clip(img * np.asarray(profile.white_balance, np.float32), 0.0, 1.0)
    if profile.gamma != 1.0:
        img = img**profile.gamma
    h, w = fov.shape
    rows, cols = np.flatnonzero(fov.any(1)), np.flatnonzero(fov.any(0))
    if profile.vignetting > 0 and len(rows):
        cy, cx = (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2
        radius = max(rows[-1] - rows[0], cols[-1] - cols[0]) / 2
        yy, xx = np.ogrid[:h, :w]
        r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2
        img = img * (1.0 - profile.vignetting * np.clip(r2, 0, 1))[..., None].astype(np.float32)
    if profile.noise > 0:
        img = img + profile.noise * np.sqrt(img) * _sensor_noise_field(seed, img.shape)
    shaped, (r0, r1, c0, c1) = _shape_mask(fov, profile)
    img = img[r0:r1, c0:c1]
    if profile.border is not None:
        img = np.where(shaped[..., None], img, np.float32(profile.border))
    else:
        img = np.where((shaped | ~fov[r0:r1, c0:c1])[..., None], img, np.float32(0.0))
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if profile.jpeg_quality is not None:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=profile.jpeg_quality)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return Recording(out, shaped, scale, (r0, c0))


def warp_mask(mask: np.ndarray, scale: float, offset: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Move a bool mask by ``new = old * scale - offset`` onto a frame of ``shape`` (nearest neighbour)."""
    h, w = mask.shape
    m = mask
    if abs(scale - 1.0) > 1e-3:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.NEAREST)) > 127
    r0, c0 = int(round(offset[0])), int(round(offset[1]))
    out = np.zeros(shape, dtype=bool)
    part = m[r0 : r0 + shape[0], c0 : c0 + shape[1]]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def warp_anatomy(anatomy: Anatomy, rec: Recording) -> Anatomy:
    """The source's anatomy in the recording's frame (its field of view is the recording's)."""
    s, (r0, c0) = rec.scale, rec.offset

    def move(p: tuple[float, float]) -> tuple[float, float]:
        return p[0] * s - r0, p[1] * s - c0

    return replace(
        anatomy,
        fov=rec.fov,
        disc_center=move(anatomy.disc_center),
        disc_radius=anatomy.disc_radius * s,
        fovea_center=move(anatomy.fovea_center),
        vessels=warp_mask(anatomy.vessels, s, rec.offset, rec.fov.shape) & rec.fov,
    )


def _resize_to(
    images: tuple[np.ndarray, ...], anatomy: Anatomy, region: np.ndarray, longest: int
) -> tuple[list[np.ndarray], Anatomy, np.ndarray]:
    """Resize same-sized images so the longer side is ``longest``, landmarks and region following."""
    h, w = images[0].shape[:2]
    s = longest / max(h, w)
    small = [_resample(im, s) if abs(s - 1.0) > 1e-3 else im for im in images]
    shape = small[0].shape[:2]
    rec = Recording(small[0], warp_mask(anatomy.fov, s, (0, 0), shape), s, (0, 0))
    return small, warp_anatomy(anatomy, rec), warp_mask(region, s, (0, 0), shape)


def record_pair(
    clean: np.ndarray,
    degraded: np.ndarray,
    anatomy: Anatomy,
    region: np.ndarray,
    profile: CameraProfile,
    seed: int,
    longest: int | None = None,
) -> tuple[np.ndarray, np.ndarray, Anatomy, np.ndarray]:
    """Record a clean source and its degraded copy with one camera (same noise field), landmarks following.

    Why both: the full-reference label must compare the degradation, not the camera, so the clean reference is
    recorded by the same camera.  ``longest`` resizes the recordings (e.g. to a training set's storage size).

    Returns:
        Recorded clean and degraded uint8 images, the anatomy and the degraded-region mask in their frame.
    """
    rec_clean = record(clean, anatomy.fov, profile, seed)
    rec_deg = record(degraded, anatomy.fov, profile, seed)
    moved = warp_anatomy(anatomy, rec_clean)
    moved_region = warp_mask(region, rec_clean.scale, rec_clean.offset, rec_clean.fov.shape) & rec_clean.fov
    if longest is None:
        return rec_clean.image, rec_deg.image, moved, moved_region
    (clean_small, deg_small), anatomy_small, region_small = _resize_to(
        (rec_clean.image, rec_deg.image), moved, moved_region, longest
    )
    return clean_small, deg_small, anatomy_small, region_small
