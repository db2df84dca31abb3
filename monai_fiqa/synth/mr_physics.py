"""MR acquisition physics on magnitude slices, each with one explicit physical parameter.

MR artefacts are born in k-space, so they are simulated there: patient motion (rigid in-plane movement
part-way through a centre-out acquisition), N/2-style ghosting (TorchIO ``Ghosting``),
undersampling with zero-filled reconstruction (phase-encode lines kept with a variable-density random mask at
acceleration ``R``), Gibbs ringing from k-space truncation (MONAI ``GibbsNoise``), receive-coil bias (TorchIO
``BiasField``), and thermal noise that is complex Gaussian in k-space and therefore Rician in the magnitude image,
parameterised by SNR (mean foreground signal / noise sigma) as a proxy for field strength and voxel size.

Slices are (H, W) float32 magnitudes in arbitrary units; every function returns the same shape.  Nuisance draws
(motion direction, coil pattern, mask lines) come from ``rng`` and do not depend on the severity parameter, so a ladder
with one seed is one acquisition made progressively worse.
"""

from __future__ import annotations

import numpy as np
import torch
import torchio as tio
from monai.transforms import GibbsNoise
from scipy import ndimage as ndi

__all__ = [
    "foreground_mean",
    "mr_bias_field",
    "mr_ghosting",
    "mr_gibbs",
    "mr_motion",
    "mr_rician_noise",
    "mr_undersample",
]


def foreground_mean(img: np.ndarray) -> float:
    """Mean of the voxels above 10 % of the 99th percentile: the 'signal' of an SNR."""
    hi = float(np.percentile(img, 99))
    fg = img[img > 0.1 * hi]
    return float(fg.mean()) if fg.size else max(hi, 1e-6)


def _as_tio(img: np.ndarray) -> tio.ScalarImage:
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


def _moved(img: np.ndarray, degrees: float, shift: np.ndarray) -> np.ndarray:
    """The slice rotated by ``degrees`` about its centre and shifted by ``shift`` pixels."""
    theta = np.deg2rad(degrees)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = (np.array(img.shape) - 1) / 2.0
    offset = centre - rot @ (centre + shift)
    return ndi.affine_transform(img, rot, offset=offset, order=1, mode="constant")


def mr_motion(img: np.ndarray, corrupted_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Rigid in-plane movement part-way through a centre-out acquisition.

    Phase-encode lines (axis 0) are acquired centre-out; the patient holds still for the first
    ``1 - corrupted_fraction`` of the lines, then rotates and shifts by 2-4 degrees / pixels (direction and size are
    nuisance draws).  The anatomy stays where the k-space centre put it, and the inconsistent outer lines produce
    the ghosts and blur of a real scan.  The parameter is the fraction of k-space acquired after the movement: the
    damage saturates with amplitude beyond a few pixels but grows steadily with that fraction.  TorchIO's ``Motion``
    splits k-space along the last axis, which is degenerate for a 2D slice, hence this explicit version.

    Args:
        img: (H, W) magnitude slice.
        corrupted_fraction: in [0, 0.95]; 0 returns the slice unchanged.
        rng: direction and amplitude of the movement.
    """
    direction = rng.uniform(-1.0, 1.0, 3)
    amplitude = rng.uniform(2.0, 4.0)
    if corrupted_fraction <= 0:
        return img.astype(np.float32)
    direction = amplitude * direction / max(float(np.abs(direction).max()), 1e-6)
    k = np.fft.fftshift(np.fft.fft2(img))
    n = img.shape[0]
    order = np.argsort(np.abs(np.arange(n) - n // 2), kind="stable")  # centre-out acquisition order
    when = np.empty(n)
    when[order] = np.linspace(0.0, 1.0, n)
    late = when >= 1.0 - min(corrupted_fraction, 0.95)
    moved = np.fft.fftshift(np.fft.fft2(_moved(img, direction[0], direction[1:])))
    k[late] = moved[late]
    return np.abs(np.fft.ifft2(np.fft.ifftshift(k))).astype(np.float32)


def mr_ghosting(img: np.ndarray, intensity: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic ghosts along the phase-encode axis with relative ``intensity`` in [0, 1] (TorchIO ``Ghosting``)."""
    axis = int(rng.integers(0, 2))
    num_ghosts = int(rng.integers(2, 5))
    if intensity <= 0:
        return img.astype(np.float32)
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


def mr_gibbs(img: np.ndarray, alpha: float) -> np.ndarray:
    """Gibbs ringing from truncating k-space to the central (1 - ``alpha``) fraction (MONAI ``GibbsNoise``)."""
    if alpha <= 0:
        return img.astype(np.float32)
    out = GibbsNoise(alpha=float(alpha))(torch.from_numpy(np.ascontiguousarray(img, np.float32))[None])
    return np.abs(np.asarray(out)[0]).astype(np.float32)


def mr_bias_field(img: np.ndarray, magnitude: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative receive-coil field: a cubic polynomial in log space scaled to ``magnitude``.

    ``magnitude`` is the largest log-gain coefficient; exp(0.5) ~ a 65 % brighter side (TorchIO ``BiasField``).
    """
    n_coeffs = 20  # cubic polynomial in 3 variables
    pattern = rng.uniform(-1.0, 1.0, n_coeffs)
    if magnitude <= 0:
        return img.astype(np.float32)
    field = tio.transforms.BiasField(coefficients=list(magnitude * pattern), order=3)
    return _from_tio(field(_as_tio(img)))
