"""MR acquisition physics on magnitude slices, each with one explicit physical parameter.

MR artefacts are born in k-space, so they are simulated there: patient motion (rigid in-plane movement late in a
centre-out acquisition, sized by the share of k-space energy acquired after it), N/2-style ghosting (TorchIO
``Ghosting``), undersampling with zero-filled reconstruction (phase-encode lines kept with a variable-density random
mask at acceleration ``R``), Gibbs ringing from k-space truncation that removes a given share of the energy (MONAI
``GibbsNoise``), receive-coil bias (TorchIO ``BiasField``), and thermal noise that is complex Gaussian in k-space and
therefore Rician in the magnitude image, parameterised by SNR (mean foreground signal / noise sigma) as a proxy for
field strength and voxel size.

Slices are (H, W) float32 magnitudes in arbitrary units; every function returns the same shape.  Nuisance draws
(motion direction, coil pattern, mask lines) come from ``rng`` and do not depend on the severity parameter, so a ladder
with one seed is one acquisition made progressively worse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from monai.transforms import GibbsNoise
from scipy import ndimage as ndi

from monai_fiqa.ctmr.fields import correlated_gaussian

if TYPE_CHECKING:
    import torchio as tio

__all__ = [
    "BIAS_SHAPES",
    "NOISE_MODELS",
    "foreground_mean",
    "gibbs_alpha",
    "mr_bias_field",
    "mr_ghosting",
    "mr_gibbs",
    "mr_motion",
    "mr_noise",
    "mr_rician_noise",
    "mr_undersample",
    "receive_gain",
]

# Why several: a model that learned one simulator's noise or one field generator ranks that simulator, not the
# artefact (issue 25, item 6).  Each is a nuisance draw; the physical parameter (SNR, log-gain) means the same.
NOISE_MODELS = ("rician", "gaussian", "correlated")
BIAS_SHAPES = ("polynomial", "coil", "gradient", "blobs")
# standard deviation of the log-gain of TorchIO's cubic field per unit of its coefficient scale (median over random
# coefficient draws, measured on a 128-px grid): the other shapes are scaled to it, so a log-gain means one strength
_POLYNOMIAL3_LOG_STD = 0.58


def foreground_mean(img: np.ndarray) -> float:
    """Mean of the voxels above 10 % of the 99th percentile: the 'signal' of an SNR."""
    hi = float(np.percentile(img, 99))
    fg = img[img > 0.1 * hi]
    return float(fg.mean()) if fg.size else max(hi, 1e-6)


def _as_tio(img: np.ndarray) -> tio.ScalarImage:
    import torchio as tio  # the [synth] extra: only simulation needs it, not scoring

    return tio.ScalarImage(tensor=torch.from_numpy(np.ascontiguousarray(img, np.float32))[None, :, :, None])


def _from_tio(image: tio.ScalarImage) -> np.ndarray:
    return image.data[0, :, :, 0].numpy().astype(np.float32)


def mr_rician_noise(img: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the slice plus complex Gaussian noise with sigma = foreground mean / ``snr``.

    MONAI's ``RandRicianNoise`` draws its sigma at random; here sigma is the physical parameter, so it is explicit.
    """
    if snr <= 0:
        raise ValueError(f"snr must be positive, got {snr}")
    sigma = foreground_mean(img) / snr
    re = img + rng.normal(0.0, sigma, img.shape)
    im = rng.normal(0.0, sigma, img.shape)
    return np.hypot(re, im).astype(np.float32)


def mr_noise(img: np.ndarray, snr: float, rng: np.random.Generator, model: str | None = None) -> np.ndarray:
    """Thermal noise at ``snr`` (foreground mean / sigma) under one of :data:`NOISE_MODELS`.

    ``rician`` (default): magnitude of complex Gaussian noise (:func:`mr_rician_noise`); ``gaussian``: additive
    image-domain noise (a phase-corrected or real-valued reconstruction); ``correlated``: complex noise smoothed by a
    Gaussian kernel of 0.6-1.5 px (what zero-filling, apodisation and parallel-imaging reconstruction leave),
    rescaled to the same per-pixel sigma, then the magnitude.
    """
    if snr <= 0:
        raise ValueError(f"snr must be positive, got {snr}")
    if model in (None, "rician"):
        return mr_rician_noise(img, snr, rng)
    sigma = foreground_mean(img) / snr
    if model == "gaussian":
        return (img + rng.normal(0.0, sigma, img.shape)).astype(np.float32)
    if model == "correlated":
        kernel = float(rng.uniform(0.6, 1.5))
        re, im = (correlated_gaussian(img.shape, kernel, rng) * sigma for _ in range(2))
        return np.hypot(img + re, im).astype(np.float32)
    raise ValueError(f"unknown noise model {model!r}; available: {NOISE_MODELS}")


def _moved(img: np.ndarray, degrees: float, shift: np.ndarray) -> np.ndarray:
    """The slice rotated by ``degrees`` about its centre and shifted by ``shift`` pixels."""
    theta = np.deg2rad(degrees)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = (np.array(img.shape) - 1) / 2.0
    offset = centre - rot @ (centre + shift)
    return ndi.affine_transform(img, rot, offset=offset, order=1, mode="constant")


def _outermost_within(energy: np.ndarray, share: float) -> int:
    """How many of the outermost entries (``energy`` ordered outermost first) hold at most ``share`` of the total."""
    cum = np.cumsum(energy) / max(float(energy.sum()), 1e-30)
    return int((cum <= share).sum())


def mr_motion(img: np.ndarray, energy_share: float, rng: np.random.Generator) -> np.ndarray:
    """Rigid in-plane movement late in a centre-out acquisition, sized by the k-space energy it corrupts.

    Phase-encode lines (axis 0) are acquired centre-out; the patient rotates and shifts by 2-4 degrees / pixels
    (direction and size are nuisance draws) before the last lines, which together hold ``energy_share`` of the
    slice's k-space energy (at most 95 % of the lines).  The anatomy stays where the k-space centre put it, and the
    inconsistent outer lines produce the ghosts and blur of a real scan.

    Why energy and not a fraction of the lines: how much a movement damages the image is set by how much signal the
    inconsistent lines carry, and that differs by two orders of magnitude between slices (the outer 85 % of the
    lines hold 1 % of an interpolated 300 x 484 abdominal slice's energy but 17 % of an 84 x 128 DWI's).  A line
    fraction left that abdominal slice unchanged up to 80 % of the lines; an energy share degrades every slice
    evenly.  TorchIO's ``Motion`` splits k-space along the last axis, which is degenerate for a 2D slice, hence this
    explicit version.

    Args:
        img: (H, W) magnitude slice.
        energy_share: share of the k-space energy acquired after the movement, in [0, 1); 0 returns the slice.
        rng: direction and amplitude of the movement.
    """
    direction = rng.uniform(-1.0, 1.0, 3)
    amplitude = rng.uniform(2.0, 4.0)
    if energy_share <= 0:
        return img.astype(np.float32)
    direction = amplitude * direction / max(float(np.abs(direction).max()), 1e-6)
    k = np.fft.fftshift(np.fft.fft2(img))
    n = img.shape[0]
    last_first = np.argsort(np.abs(np.arange(n) - n // 2), kind="stable")[::-1]  # centre-out, reversed
    n_late = min(_outermost_within((np.abs(k[last_first]) ** 2).sum(axis=1), energy_share), int(0.95 * n))
    late = last_first[:n_late]
    moved = np.fft.fftshift(np.fft.fft2(_moved(img, direction[0], direction[1:])))
    k[late] = moved[late]
    return np.abs(np.fft.ifft2(np.fft.ifftshift(k))).astype(np.float32)


def mr_ghosting(img: np.ndarray, intensity: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic ghosts along the phase-encode axis with relative ``intensity`` in [0, 1] (TorchIO ``Ghosting``)."""
    axis = int(rng.integers(0, 2))
    num_ghosts = int(rng.integers(2, 5))
    if intensity <= 0:
        return img.astype(np.float32)
    import torchio as tio

    ghost = tio.transforms.Ghosting(num_ghosts=num_ghosts, axis=axis, intensity=float(intensity), restore=0.02)
    return np.abs(_from_tio(ghost(_as_tio(img))))


def mr_undersample(img: np.ndarray, acceleration: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-filled reconstruction from 1/``acceleration`` of the phase-encode lines (8 % of the centre always kept)."""
    axis = int(rng.integers(0, 2))
    n = img.shape[axis]
    u = rng.uniform(size=n)
    if acceleration <= 1.0:
        return img.astype(np.float32)
    centre = np.abs(np.arange(n) - n // 2) < max(2, int(0.04 * n))
    keep_rest = max(0.0, (n / acceleration - centre.sum()) / max(n - centre.sum(), 1))
    lines = centre | (u < keep_rest)
    k = np.fft.fftshift(np.fft.fft2(img))
    mask = lines[:, None] if axis == 0 else lines[None, :]
    return np.abs(np.fft.ifft2(np.fft.ifftshift(k * mask))).astype(np.float32)


def gibbs_alpha(img: np.ndarray, energy_share: float) -> float:
    """MONAI ``GibbsNoise`` ``alpha`` whose truncation removes ``energy_share`` of the slice's k-space energy.

    ``GibbsNoise`` keeps the k-space disc of radius ``(1 - alpha) * max(H, W) * sqrt(2) / 2`` about the centre; the
    radius here is the smallest whose outside holds at most ``energy_share`` (alpha at most 0.97).
    """
    k2 = np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2
    centre = (np.array(img.shape) - 1) / 2.0
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    dist = np.sqrt((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2).ravel()
    outermost = np.argsort(dist, kind="stable")[::-1]
    n_removed = _outermost_within(k2.ravel()[outermost], energy_share)
    radius = dist[outermost[n_removed]] + 1e-6 if n_removed < dist.size else 0.0  # + rounding: keep that ring
    return float(np.clip(1.0 - radius / (max(img.shape) * np.sqrt(2) / 2.0), 0.0, 0.97))


def mr_gibbs(img: np.ndarray, energy_share: float) -> np.ndarray:
    """Gibbs ringing from truncating k-space to a centred disc that drops ``energy_share`` of its energy.

    MONAI ``GibbsNoise`` does the truncation; :func:`gibbs_alpha` picks its ``alpha``.  Why energy: a fixed
    truncation fraction removes nothing visible from an interpolated (oversampled) slice until it is extreme and
    wipes out a native low-resolution one (the same reason as in :func:`mr_motion`).
    """
    if energy_share <= 0:
        return img.astype(np.float32)
    alpha = gibbs_alpha(img, energy_share)
    out = GibbsNoise(alpha=alpha)(torch.from_numpy(np.ascontiguousarray(img, np.float32))[None])
    return np.abs(np.asarray(out)[0]).astype(np.float32)


def mr_bias_field(img: np.ndarray, magnitude: float, rng: np.random.Generator, shape: str | None = None) -> np.ndarray:
    """Smooth multiplicative receive-coil field of log-gain scale ``magnitude``.

    ``shape`` None: TorchIO's ``BiasField``, a cubic polynomial in log space with coefficients ``magnitude`` x
    U(-1, 1) (exp(0.5) ~ a 65 % brighter side).  One of :data:`BIAS_SHAPES`: ``polynomial`` (order 2-4, random
    coefficients), ``coil`` (log-gain falling with distance from a surface coil outside the field of view),
    ``gradient`` (a linear ramp in a random direction) or ``blobs`` (2-4 Gaussian hot and cold spots); each log
    field is centred and scaled to the standard deviation TorchIO's cubic field has at the same ``magnitude``.
    """
    if shape is None:
        n_coeffs = 20  # cubic polynomial in 3 variables
        pattern = rng.uniform(-1.0, 1.0, n_coeffs)
        if magnitude <= 0:
            return img.astype(np.float32)
        import torchio as tio

        field = tio.transforms.BiasField(coefficients=list(magnitude * pattern), order=3)
        return _from_tio(field(_as_tio(img)))
    gain = receive_gain(img.shape[:2], magnitude, rng, shape)  # drawn at every magnitude: rungs draw alike
    if magnitude <= 0:
        return img.astype(np.float32)
    return (img * gain).astype(np.float32)


def receive_gain(shape: tuple[int, int], magnitude: float, rng: np.random.Generator, kind: str) -> np.ndarray:
    """(H, W) multiplicative gain of one of :data:`BIAS_SHAPES`: its log is the shape's pattern, centred and scaled
    to the standard deviation TorchIO's cubic field has at ``magnitude`` (the unit of :func:`mr_bias_field`)."""
    log_field = _log_bias_pattern(shape, kind, rng)
    log_field = (log_field - log_field.mean()) / max(float(log_field.std()), 1e-12)
    return np.exp(magnitude * _POLYNOMIAL3_LOG_STD * log_field)


def _log_bias_pattern(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """An unscaled smooth log-gain pattern of one of :data:`BIAS_SHAPES` on an (H, W) grid in [-1, 1]^2."""
    y, x = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    if kind == "polynomial":
        order = int(rng.integers(2, 5))
        terms = [x**i * y**j for i in range(order + 1) for j in range(order + 1 - i) if i + j > 0]
        return sum(c * t for c, t in zip(rng.uniform(-1.0, 1.0, len(terms)), terms, strict=True))
    if kind == "coil":
        angle = rng.uniform(0, 2 * np.pi)
        distance = np.hypot(x - 1.3 * np.cos(angle), y - 1.3 * np.sin(angle))
        return -distance / rng.uniform(0.5, 1.5)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        return x * np.cos(angle) + y * np.sin(angle)
    if kind == "blobs":
        out = np.zeros(shape)
        for _ in range(int(rng.integers(2, 5))):
            cy, cx = rng.uniform(-0.8, 0.8, 2)
            width = rng.uniform(0.2, 0.6)
            out += rng.choice([-1.0, 1.0]) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
        return out
    raise ValueError(f"unknown bias shape {kind!r}; available: {BIAS_SHAPES}")
