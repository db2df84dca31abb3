"""EFIQA stage 1 (VUAD): where does a photograph fail to show the vessels its anatomy implies?

Pipeline for one photograph: FOV square at 512 px -> vessel probabilities (segmenter) -> average-pooled to a 256-px
*vessel map* -> masked inpainting covering the map in ``PASSES`` turns -> per-pixel *missing* signal
``relu(inpainted - observed)`` -> per-cell normalisation -> quality map on a 16 x 16 grid (1 = good).

Normalisation and threshold, exactly (cell = 16 x 16 px of the 256-px map, i.e. 1/16 of the FOV square side):

* ``missing_c = sum(relu(inpainted - observed)) / (sum(inpainted) + KAPPA)`` over the cell: the fraction of the
  expected vessel signal that is not seen.  ``KAPPA`` (= 0.04 x cell area, about the vessel mass of a sparse
  peripheral cell) keeps cells where few vessels are expected (the fovea, the periphery) from turning a stray pixel
  into a large fraction;
* ``quality_c = 1 - clip(missing_c / TAU, 0, 1)``: ``TAU`` (0.5 by default, the bundle can set it) is the missing
  fraction that counts as fully bad;
* cells less than half inside the field of view are excluded (reported as 1 and not pooled); the image score is
  ``100 x`` the FOV-weighted mean of the cell qualities.

Inpainting masks: the 8 x 8 grid of 32-px patches is masked in ``PASSES`` = 4 interleaved turns (patch (i, j) in
turn ``2 (i mod 2) + (j mod 2)``), so every masked patch has its 8 neighbours visible and each pixel's expectation
comes from the one turn in which it was hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from monai_fiqa.engine.vessels import SEG_SIZE, segment_square

__all__ = [
    "GRID",
    "MAP_SIZE",
    "PATCH",
    "Stage1Result",
    "coverage_masks",
    "inpaint_cover",
    "missing_to_quality",
    "random_patch_mask",
    "stage1_map",
    "to_vessel_map",
]

MAP_SIZE = 256
PATCH = 32
GRID = 16
PASSES = 4
KAPPA = 0.04 * (MAP_SIZE // GRID) ** 2
TAU = 0.5


@dataclass
class Stage1Result:
    """Stage-1 output for one FOV square."""

    quality: np.ndarray  # (GRID, GRID) float32 in [0, 1], 1 = good
    weight: np.ndarray  # (GRID, GRID) fraction of each cell inside the FOV
    observed: np.ndarray  # (MAP_SIZE, MAP_SIZE) vessel map
    expected: np.ndarray  # (MAP_SIZE, MAP_SIZE) inpainted map
    score: float  # 0-100


def to_vessel_map(prob: np.ndarray) -> np.ndarray:
    """(512, 512) vessel probabilities -> (256, 256) vessel map (2 x 2 average)."""
    f = SEG_SIZE // MAP_SIZE
    return prob.reshape(MAP_SIZE, f, MAP_SIZE, f).mean(axis=(1, 3)).astype(np.float32)


def random_patch_mask(n: int, rng: np.random.Generator) -> np.ndarray:
    """(MAP_SIZE, MAP_SIZE) float mask with ``n`` random 32-px patches set to 1."""
    g = MAP_SIZE // PATCH
    cells = rng.choice(g * g, size=n, replace=False)
    m = np.zeros((g, g), np.float32)
    m.flat[cells] = 1.0
    return np.kron(m, np.ones((PATCH, PATCH), np.float32))


def coverage_masks() -> np.ndarray:
    """(PASSES, MAP_SIZE, MAP_SIZE): the interleaved turns; every pixel is masked in exactly one."""
    g = MAP_SIZE // PATCH
    i, j = np.mgrid[0:g, 0:g]
    turn = 2 * (i % 2) + (j % 2)
    return np.stack([np.kron((turn == t).astype(np.float32), np.ones((PATCH, PATCH), np.float32)) for t in range(4)])


@torch.no_grad()
def inpaint_cover(inpainter: torch.nn.Module, vmaps: np.ndarray, batch: int = 8) -> np.ndarray:
    """(N, S, S) vessel maps -> (N, S, S) expected maps: each pixel from the turn in which it was masked."""
    inpainter.eval()
    masks = torch.from_numpy(coverage_masks())
    out = []
    for k in range(0, len(vmaps), batch):
        v = torch.from_numpy(np.asarray(vmaps[k : k + batch], np.float32))
        x = torch.cat([torch.stack([v * (1 - m), m.expand_as(v)], dim=1) for m in masks])  # turn-major
        pred = torch.sigmoid(inpainter(x))[:, 0].reshape(PASSES, len(v), MAP_SIZE, MAP_SIZE)
        out.append((pred * masks[:, None]).sum(0).numpy())
    return np.concatenate(out)


def missing_to_quality(
    observed: np.ndarray, expected: np.ndarray, fov: np.ndarray, tau: float = TAU
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell quality and FOV weight from the observed and expected maps (see the module docstring)."""
    c = MAP_SIZE // GRID
    missing = ndi.gaussian_filter(np.maximum(expected - observed, 0.0), 1.0)
    cell = lambda a: a.reshape(GRID, c, GRID, c).sum(axis=(1, 3))  # noqa: E731
    frac = cell(missing) / (cell(expected) + KAPPA)
    weight = cell(fov.astype(np.float32)) / (c * c)
    quality = 1.0 - np.clip(frac / tau, 0.0, 1.0)
    quality[weight < 0.5] = 1.0
    return quality.astype(np.float32), weight.astype(np.float32)


def stage1_map(
    segmenter: torch.nn.Module,
    inpainter: torch.nn.Module,
    squares: list[np.ndarray],
    fovs: list[np.ndarray],
    tau: float = TAU,
) -> list[Stage1Result]:
    """Stage 1 on FOV squares (512 px RGB uint8) with their FOV masks (512 px bool)."""
    probs = segment_square(segmenter, squares)
    vmaps = np.stack([to_vessel_map(p) for p in probs])
    expected = inpaint_cover(inpainter, vmaps)
    out = []
    for v, e, fov in zip(vmaps, expected, fovs, strict=True):
        small = F.avg_pool2d(torch.from_numpy(fov.astype(np.float32))[None, None], SEG_SIZE // MAP_SIZE)[0, 0]
        fov_small = small.numpy() > 0.5
        q, w = missing_to_quality(v, e, fov_small, tau)
        inside = w >= 0.5
        score = 100.0 * float((q * w)[inside].sum() / max(w[inside].sum(), 1e-6))
        out.append(Stage1Result(q, w, v, e, score))
    return out
