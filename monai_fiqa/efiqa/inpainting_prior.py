"""EFIQA stage 1, the vessel inpainting prior (the paper's VUAD, vessel-based unsupervised anomaly detection):
where does a photograph fail to show the vessels its anatomy implies?

Pipeline for one photograph: FOV square at 512 px -> vessel probabilities (segmenter) -> average-pooled to a 256-px
*vessel map* ``O`` -> masked inpainting covering the map in ``PASSES`` turns gives the *expected* map ``E``,
emptied at the fovea by :func:`foveal_prior` (the macula is vessel-free; the inpainter does not know where it is)
-> two "expected but missing" residuals -> anomaly -> quality map on a 16 x 16 grid (1 = good).

Exactly (``G_s`` = Gaussian smoothing with sigma ``s`` px on the 256-px map; all maps in [0, 1]):

* **not there** - vessels the anatomy implies but the segmenter does not find:
  ``R = G_8(relu(G_4(E) - G_4(O))) / (G_8(G_4(E)) + 0.04)``;
* **not visible** - vessels the segmenter finds but whose contrast in the photograph is below what a clean
  photograph shows for a vessel of that calibre: ``V = G_8(relu(G_4(O) - G_4(O * c))) / (G_8(G_4(O)) + 0.04)`` with
  ``c = clip(C / (K * C_ref(G_1.5(O))), 0, 1)``; ``C`` = grey closing (9 x 9) of the green channel minus the green
  channel (a dark vessel's depth below its background, 8-bit levels); ``G_1.5(O)`` is a calibre proxy (thin
  vessels ~0.2, trunks ~0.9) and ``C_ref`` the median contrast of found-vessel pixels of that calibre in the 20
  clean DRIVE *training* photographs (``CALIBRE_CONTRAST``, 6 levels for the thinnest to 28 for trunks, from
  :func:`calibre_contrast`); ``K`` = 0.7: a vessel counts as fully visible at 70 % of its calibre's usual
  contrast.  One absolute reference for all calibres (the earlier ``C_REF`` = 7) let a trunk dimmed to half its
  contrast pass as visible;
* anomaly ``A = R + V`` (each a fraction of the expected vessel signal; the 0.04 keeps vessel-free areas such as the
  fovea from turning a stray pixel into a large fraction); pixel quality ``1 - clip(A / TAU, 0, 1)`` with
  ``TAU = 0.5`` (half the expected vessel signal lost counts as fully bad: with 1, a region degraded at severity
  0.8 stayed above 0.7 and read as pale yellow-green on the overlays; the ranking, and so the AUROC, is the same);
  a cell's quality is the mean over its pixels inside the FOV; cells less than half inside the FOV are not
  assessed (reported as 1, not pooled); the image score is ``100 x`` the FOV-weighted mean cell quality.

Why both: the segmenter still finds vessels through moderate darkness and haze (it reads local contrast), so
``R`` alone misses those; ``V`` alone misses blur, which removes thin vessels rather than dimming them.  The choice
(and ``K``, ``CALIBRE_CONTRAST``, ``TAU``) was made on DRIVE *training* photographs; DRIVE test images are only
used to measure.

Inpainting masks: the 8 x 8 grid of 32-px patches is masked in ``PASSES`` = 4 interleaved turns (patch (i, j) in
turn ``2 (i mod 2) + (j mod 2)``), so every masked patch has its 8 neighbours visible and each pixel's expectation
comes from the one turn in which it was hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage as ndi

from monai_fiqa.efiqa.networks import vessel_inpainter, vessel_unet
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, to_input
from monai_fiqa.fundus.landmarks import fov_diameter, locate_disc_and_fovea
from monai_fiqa.fundus.physics import random_region

__all__ = [
    "GRID",
    "MAP_SIZE",
    "PATCH",
    "Stage1Networks",
    "Stage1Result",
    "anomaly",
    "calibre",
    "calibre_contrast",
    "cell_weights",
    "corrupt_context",
    "coverage_masks",
    "foveal_prior",
    "inpaint_cover",
    "missing_to_quality",
    "random_patch_mask",
    "stage1_map",
    "to_map_fov",
    "to_map_grid",
    "to_vessel_map",
    "vessel_contrast",
]

MAP_SIZE = 256
PATCH = 32
GRID = 16
PASSES = 4
TAU = 0.5
K_VISIBLE = 0.7
FOVEA_SIGMA = 0.05  # foveal prior width, fraction of the FOV diameter (about a third of a disc diameter)
FOVEA_SEARCH = 0.08  # search radius around the fovea's typical position (fraction of the FOV diameter)
CALIBRE_BINS = np.linspace(0.0, 1.0, 11)
# median vessel contrast (8-bit levels) per calibre bin, clean DRIVE training photographs (see calibre_contrast)
CALIBRE_CONTRAST = np.array([6.0, 6.0, 8.0, 10.0, 12.0, 16.0, 21.0, 27.0, 28.0, 28.0], np.float32)


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


def corrupt_context(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A good vessel map as a degraded photograph's segmentation would show it, in 1-3 random blobs.

    Inside a blob (15-40 % of the map wide, feathered) vessels either fade (x 0-0.5: haze, darkness, occlusion) or
    lose everything thinner than 3 px and fade less (x 0.3-1: blur).  Used on the *context* the inpainter sees, never
    on its target: it learns that a neighbourhood may under-show its vessels, so a degraded region does not lower
    the expectation of the patch next to it.  No quality label is involved: the target is still the good map.
    """
    out = v.astype(np.float32).copy()
    for _ in range(int(rng.integers(1, 4))):
        blob = random_region(np.ones(v.shape, bool), rng, size_range=(0.15, 0.4)).astype(np.float32)
        w = ndi.gaussian_filter(blob, 3.0)
        if rng.uniform() < 0.5:
            faded = out * rng.uniform(0.0, 0.5)
        else:
            faded = ndi.grey_opening(out, size=(3, 3)) * rng.uniform(0.3, 1.0)
        out = out * (1 - w) + faded * w
    return out


def coverage_masks() -> np.ndarray:
    """(PASSES, MAP_SIZE, MAP_SIZE): the interleaved turns; every pixel is masked in exactly one."""
    g = MAP_SIZE // PATCH
    i, j = np.mgrid[0:g, 0:g]
    turn = 2 * (i % 2) + (j % 2)
    return np.stack([np.kron((turn == t).astype(np.float32), np.ones((PATCH, PATCH), np.float32)) for t in range(4)])


def expected_maps(inpainter: torch.nn.Module, observed: torch.Tensor) -> torch.Tensor:
    """(N, S, S) vessel maps -> (N, S, S) expected maps: each pixel from the turn in which it was masked."""
    masks = torch.from_numpy(coverage_masks()).to(observed)
    x = torch.cat([torch.stack([observed * (1 - m), m.expand_as(observed)], dim=1) for m in masks])  # turn-major
    pred = torch.sigmoid(inpainter(x))[:, 0].reshape(PASSES, len(observed), MAP_SIZE, MAP_SIZE)
    return (pred * masks[:, None]).sum(0)


@torch.no_grad()
def inpaint_cover(inpainter: torch.nn.Module, vmaps: np.ndarray, batch: int = 8) -> np.ndarray:
    """:func:`expected_maps` of numpy vessel maps, ``batch`` maps at a time."""
    inpainter.eval()
    out = []
    for k in range(0, len(vmaps), batch):
        v = torch.from_numpy(np.asarray(vmaps[k : k + batch], np.float32))
        out.append(expected_maps(inpainter, v).numpy())
    return np.concatenate(out)


class Stage1Networks(torch.nn.Module):
    """Stage 1's two networks as the one module the bundle ships and its default inference runs.

    ``(B, 3, 512, 512)`` FOV square (normalised as :func:`~monai_fiqa.efiqa.vessel_segmentation.to_input`) ->
    ``(B, 2, 256, 256)``: channel 0 the observed vessel map ``O`` (segmenter probabilities, 2 x 2 average), channel 1
    the expected map ``E`` (masked inpainting of ``O`` in ``PASSES`` turns).  What follows (foveal prior, calibre
    contrast, anomaly -> quality) reads the photograph's pixels too and stays in :func:`stage1_map`.

    Args:
        segmenter: the vessel U-Net (default :func:`~monai_fiqa.efiqa.networks.vessel_unet`).
        inpainter: the vessel inpainter (default :func:`~monai_fiqa.efiqa.networks.vessel_inpainter`).
    """

    def __init__(self, segmenter: torch.nn.Module | None = None, inpainter: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.segmenter = segmenter if segmenter is not None else vessel_unet()
        self.inpainter = inpainter if inpainter is not None else vessel_inpainter()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        observed = F.avg_pool2d(torch.sigmoid(self.segmenter(x)), SEG_SIZE // MAP_SIZE)
        return torch.cat([observed, expected_maps(self.inpainter, observed[:, 0])[:, None]], dim=1)


def to_map_grid(square: np.ndarray) -> np.ndarray:
    """A 512-px RGB square -> 256 px (area resampling): the vessel map's and the stage-2 encoder's grid."""
    return np.asarray(Image.fromarray(square).resize((MAP_SIZE, MAP_SIZE), Image.BOX))


def cell_weights(fov: np.ndarray) -> np.ndarray:
    """Fraction of each of the GRID x GRID cells inside the field of view (any square mask size)."""
    c = fov.shape[0] // GRID
    return fov.astype(np.float32).reshape(GRID, c, GRID, c).mean(axis=(1, 3))


def to_map_fov(fov512: np.ndarray) -> np.ndarray:
    """A 512-px FOV mask -> the map grid's (a 256-px pixel is inside when most of its 2 x 2 block is)."""
    c = SEG_SIZE // MAP_SIZE
    return fov512.astype(np.float32).reshape(MAP_SIZE, c, MAP_SIZE, c).mean(axis=(1, 3)) > 0.5


def vessel_contrast(square256: np.ndarray) -> np.ndarray:
    """Depth of dark thin structures below their background in the green channel (8-bit levels)."""
    green = square256[:, :, 1].astype(np.float32)
    return np.maximum(ndi.grey_closing(green, size=(9, 9)) - green, 0.0)


def foveal_prior(
    square256: np.ndarray, fov256: np.ndarray, sigma: float = FOVEA_SIGMA, search: float | None = FOVEA_SEARCH
) -> tuple[np.ndarray, tuple[float, float]]:
    """Multiplier of the expected map that empties the foveal avascular zone, and the fovea it was centred on.

    ``1 - exp(-d^2 / (2 s^2))`` with ``d`` the distance to the fovea and ``s = sigma`` x the FOV diameter.  The
    inpainter carries vessels from the surround into the vessel-free macula, so without this a clean fovea reads as
    "expected vessels missing".  The fovea is found on the photograph itself
    (:func:`~monai_fiqa.fundus.landmarks.locate_disc_and_fovea`: the locally darkest spot within ``search`` FOV
    diameters of its typical place relative to the optic disc; None searches the whole landmark band).  A dark
    degraded region can only be taken for the fovea inside that small window, and the prior lowers the expectation
    only within ~2 s of its centre.

    Chosen on the 20 DRIVE *training* photographs (clean, and 2 regions x 4 degradations each): mean map quality
    within 0.06 FOV diameters of the fovea of the clean photographs 0.49 without the prior (the image mean is 0.66),
    0.59 / 0.65 / 0.72 with s = 0.03 / 0.04 / 0.05; localisation AUROC unchanged (blur 0.936 -> 0.942, haze 0.912 ->
    0.914, darkness 0.869 -> 0.870, occlusion 0.884 -> 0.879).  Searching the whole band (``search=None``) instead
    cost darkness 0.869 -> 0.842 at s = 0.05: the finder took dark regions for the fovea.  Reproduce with
    ``python -m benchmarks.efiqa_fovea_prior``.
    """
    if not fov256.any():
        return np.ones(fov256.shape, np.float32), (fov256.shape[0] / 2, fov256.shape[1] / 2)
    _, _, (fr, fc) = locate_disc_and_fovea(square256.astype(np.float32) / 255.0, fov256, search)
    yy, xx = np.mgrid[0 : fov256.shape[0], 0 : fov256.shape[1]].astype(np.float32)
    s = sigma * fov_diameter(fov256)
    d2 = (yy - fr) ** 2 + (xx - fc) ** 2
    return (1.0 - np.exp(-d2 / (2 * s * s))).astype(np.float32), (fr, fc)


def calibre(observed: np.ndarray) -> np.ndarray:
    """Calibre proxy of the vessel map: ``G_1.5(O)`` (a thin vessel's probability mass spreads, a trunk's does not)."""
    return ndi.gaussian_filter(observed, 1.5)


def calibre_contrast(observed: list[np.ndarray], contrast: list[np.ndarray]) -> np.ndarray:
    """Median contrast of found-vessel pixels (``O > 0.5``) per ``CALIBRE_BINS`` bin, over clean photographs.

    How ``CALIBRE_CONTRAST`` was measured (the 20 DRIVE training photographs through the shipped segmenter); empty
    bins are interpolated from their neighbours.
    """
    t = np.concatenate([calibre(o)[o > 0.5] for o in observed])
    c = np.concatenate([k[o > 0.5] for o, k in zip(observed, contrast, strict=True)])
    b = np.clip(np.digitize(t, CALIBRE_BINS) - 1, 0, len(CALIBRE_BINS) - 2)
    table = np.array([np.median(c[b == i]) if (b == i).sum() > 50 else np.nan for i in range(len(CALIBRE_BINS) - 1)])
    ok = np.isfinite(table)
    return np.interp(np.arange(len(table)), np.flatnonzero(ok), table[ok]).astype(np.float32)


def anomaly(observed: np.ndarray, expected: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """``A = R + V``: expected vessels not found plus found vessels not visible (see the module docstring)."""
    g4 = lambda a: ndi.gaussian_filter(a, 4.0)  # noqa: E731
    g8 = lambda a: ndi.gaussian_filter(a, 8.0)  # noqa: E731
    e4, o4 = g4(expected), g4(observed)
    centres = (CALIBRE_BINS[:-1] + CALIBRE_BINS[1:]) / 2
    reference = K_VISIBLE * np.interp(calibre(observed), centres, CALIBRE_CONTRAST)
    visible = g4(observed * np.clip(contrast / reference, 0.0, 1.0))
    not_there = g8(np.maximum(e4 - o4, 0.0)) / (g8(e4) + 0.04)
    not_visible = g8(np.maximum(o4 - visible, 0.0)) / (g8(o4) + 0.04)
    return (not_there + not_visible).astype(np.float32)


def missing_to_quality(
    observed: np.ndarray, expected: np.ndarray, contrast: np.ndarray, fov: np.ndarray, tau: float = TAU
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell quality and FOV weight (see the module docstring); ``fov`` is the 256-px FOV mask."""
    c = MAP_SIZE // GRID
    q_pix = 1.0 - np.clip(anomaly(observed, expected, contrast) / tau, 0.0, 1.0)
    cell = lambda a: a.reshape(GRID, c, GRID, c).sum(axis=(1, 3))  # noqa: E731
    inside = fov.astype(np.float32)
    weight = cell_weights(fov)
    quality = cell(q_pix * inside) / np.maximum(cell(inside), 1e-6)
    quality[weight < 0.5] = 1.0
    return quality.astype(np.float32), weight.astype(np.float32)


@torch.no_grad()
def stage1_map(
    networks: Stage1Networks,
    squares: list[np.ndarray],
    fovs: list[np.ndarray],
    tau: float = TAU,
    batch: int = 4,
) -> list[Stage1Result]:
    """Stage 1 on FOV squares (512 px RGB uint8) with their FOV masks (512 px bool)."""
    networks.eval()
    device = next(networks.parameters()).device
    maps = []
    for k in range(0, len(squares), batch):
        x = torch.stack([to_input(s) for s in squares[k : k + batch]]).to(device)
        maps.append(networks(x).cpu().numpy())
    both = np.concatenate(maps)
    vmaps, expected = both[:, 0], both[:, 1]
    out = []
    for v, e, fov, square in zip(vmaps, expected, fovs, squares, strict=True):
        fov_small = to_map_fov(fov)
        square256 = to_map_grid(square)
        e = e * foveal_prior(square256, fov_small)[0]
        q, w = missing_to_quality(v, e, vessel_contrast(square256), fov_small, tau)
        inside = w >= 0.5
        score = 100.0 * float((q * w)[inside].sum() / max(w[inside].sum(), 1e-6))
        out.append(Stage1Result(q, w, v, e, score))
    return out
