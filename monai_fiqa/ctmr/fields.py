"""Random fields shared by the CT and MR physics."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["correlated_gaussian"]


def correlated_gaussian(shape: tuple[int, ...], kernel_px: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed by a Gaussian kernel of ``kernel_px`` (variance restored afterwards).

    Why: reconstruction (filter kernels, zero-filling, apodisation, parallel imaging) correlates neighbouring
    pixels' noise; a model that only saw white noise may not rank the smoother grain of a real scanner.
    """
    field = ndi.gaussian_filter(rng.normal(0.0, 1.0, shape), kernel_px, mode="wrap")
    return field / max(float(field.std()), 1e-12)
