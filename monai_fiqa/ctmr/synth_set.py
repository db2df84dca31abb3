"""Training/evaluation samples for MedIQA: clean slab -> simulated acquisition -> network input + targets.

Targets per sample:
- ``severity``: (n_artefacts,) severity of every registry artefact (0 = absent), the upstream regression target;
  ``severity_mask`` says which artefacts belong to the sample's modality (only those enter the loss);
- ``score``: full-reference pseudo-score 0-100 (:func:`fidelity_score`), the downstream target;
- ``prompt``: (dimension, modality, anatomy, image type) ids, and the true modality/anatomy for the predictor head.

Pseudo-score: the mean SSIM between degraded and clean inside the foreground (both on the clean image's intensity
scale, network grid, channel 0), mapped by ``100 * ssim ** 2``; squaring spreads the useful 0.6-1.0 SSIM range over
36-100.  Both images go through the same resampling as at test time, so the score is about what the network sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity
from skimage.transform import resize

from monai_fiqa.ctmr.artefacts import ARTEFACT_NAMES, artefacts_for, degrade_slab, draw_variants
from monai_fiqa.ctmr.mr_physics import BIAS_SHAPES, mr_noise, receive_gain
from monai_fiqa.ctmr.phantoms import phantom_ct, phantom_mr, render_phantom
from monai_fiqa.ctmr.preprocessing import INPUT_SIZE, foreground_mask, intensity_scale, prepare_slice, to_square
from monai_fiqa.ctmr.prompts import Prompt
from monai_fiqa.io.volumes import read_volume

__all__ = [
    "NATIVE_SHADING",
    "CTMRSource",
    "fidelity_score",
    "file_source",
    "make_ladder",
    "make_sample",
    "phantom_source",
    "pick_slices",
    "random_fov_crop",
    "reoriented_sources",
    "rescale_matrix",
]

_N_ARTEFACTS_P = (0.12, 0.6, 0.28)  # probability of 0, 1, 2 artefacts in a training sample
_CLEAN_RUNG = 1e-3
# Log-gain range of a clean acquisition's receive-coil shading (``shading_prob``), in the unit of the bias artefact's
# physical parameter (severity 1 = 0.8): up to twice the strongest bias rung, as surface coils shade (the unseen
# shoulder's far side is several times darker than its near side).
NATIVE_SHADING = (0.2, 1.6)


@dataclass
class CTMRSource:
    """A clean volume to simulate acquisitions from.

    Attributes:
        name: for provenance in the dataset manifest.
        volume: (H, W, Z) HU (CT) or magnitude (MR).
        spacing: mm.
        prompt: true prompt (dimension is set per sample).
        slices: indices of slices with enough foreground to train on.
        noise_free: rendered without thermal noise (a phantom); a real acquisition always carries some.
    """

    name: str
    volume: np.ndarray
    spacing: tuple[float, float, float]
    prompt: Prompt
    slices: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    noise_free: bool = False

    def __post_init__(self) -> None:
        if not len(self.slices):
            self.slices = pick_slices(self.volume, self.prompt.modality)


def pick_slices(volume: np.ndarray, modality: str, min_fraction: float = 0.12) -> np.ndarray:
    """Slices whose foreground covers at least ``min_fraction`` of the in-plane area (all slices if none do)."""
    scale = None if modality == "CT" else intensity_scale(volume)
    frac = foreground_mask(volume, modality, scale).mean(axis=(0, 1))
    good = np.flatnonzero(frac >= min_fraction)
    return good if len(good) else np.arange(volume.shape[2])


def phantom_source(seed: int, modality: str) -> CTMRSource:
    """A procedural phantom rendered as CT or as MR (T1w or T2w, drawn from the seed)."""
    ph = render_phantom(seed)
    rng = np.random.default_rng(seed + 10_000)
    if modality == "CT":
        vol, itype = phantom_ct(ph, rng), str(rng.choice(["ct_soft", "ct_sharp"]))
    else:
        weighting = str(rng.choice(["T1", "T2"]))
        vol, itype = phantom_mr(ph, weighting, rng), f"mr_{weighting.lower()}"
    prompt = Prompt("3D", modality, ph.anatomy, itype)
    return CTMRSource(f"phantom{seed}_{modality}", vol, ph.spacing, prompt, noise_free=True)


def file_source(path: str | Path, modality: str, anatomy: str, image_type: str) -> CTMRSource:
    """A real volume with its (known) prompt."""
    vol = read_volume(path)
    return CTMRSource(Path(path).name, vol.array, vol.spacing, Prompt("3D", modality, anatomy, image_type))


def reoriented_sources(src: CTMRSource, oblique_degrees: tuple[float, ...] = (30.0,)) -> list[CTMRSource]:
    """``src`` as axial (itself), coronal and sagittal slices, and re-sliced obliquely, where its voxels allow.

    Why: a slice's orientation changes its anatomy's shapes and the direction of its texture; two real MR training
    volumes seen axially only are two kinds of picture, and every artefact the network learns on them is learned on
    those.  Only near-isotropic volumes (voxel sides within 25 %, at least 64 voxels along each axis) are re-sliced:
    a coronal slice of a 3 mm-thick axial series is a blurred, stretched picture that would teach "blur is clean".
    Oblique volumes are rotated about the first and then the second in-plane axis (cubic spline, the corners
    filled with the volume's minimum, i.e. air).
    """
    spacing = np.asarray(src.spacing, float)
    if spacing.max() / spacing.min() > 1.25 or min(src.volume.shape) < 64:
        return [src]
    out, none = [src], np.zeros(0, int)  # no slices given: each new source picks its own foreground slices
    for axis, name in ((0, "coronal"), (1, "sagittal")):
        volume = np.ascontiguousarray(np.moveaxis(src.volume, axis, 2))
        order = [a for a in range(3) if a != axis] + [axis]
        axes = tuple(float(v) for v in spacing[order])
        oriented = replace(src, name=f"{src.name}:{name}", volume=volume, spacing=axes, slices=none)
        out.append(oriented)
    for degrees in oblique_degrees:
        air = float(src.volume.min())
        volume = ndi.rotate(src.volume, degrees, axes=(0, 2), order=3, reshape=True, cval=air)
        volume = ndi.rotate(volume, degrees, axes=(1, 2), order=3, reshape=True, cval=air)
        volume = np.clip(volume, air, float(src.volume.max())).astype(np.float32)  # no spline overshoot
        iso = (float(spacing.mean()),) * 3
        out.append(replace(src, name=f"{src.name}:oblique{degrees:g}", volume=volume, spacing=iso, slices=none))
    return out


def fidelity_score(clean: np.ndarray, degraded: np.ndarray, mask: np.ndarray) -> float:
    """Full-reference pseudo-score 0-100 from foreground SSIM (see the module docstring)."""
    _, smap = structural_similarity(clean, degraded, data_range=1.0, full=True, gaussian_weights=True, sigma=1.5)
    fg = ndi.binary_dilation(mask, iterations=2)
    ssim = float(smap[fg].mean()) if fg.any() else float(smap.mean())
    return 100.0 * float(np.clip(ssim, 0.0, 1.0)) ** 2


def rescale_matrix(slab: np.ndarray, spacing: tuple[float, float, float], side: float) -> tuple[np.ndarray, tuple]:
    """Resample a slab in-plane so that its longer side is ``side`` px (anti-aliased); spacing follows."""
    f = side / max(slab.shape[:2])
    shape = (max(16, round(slab.shape[0] * f)), max(16, round(slab.shape[1] * f)), slab.shape[2])
    out = resize(slab, shape, order=1, anti_aliasing=f < 1, preserve_range=True).astype(np.float32)
    return out, (spacing[0] * slab.shape[0] / shape[0], spacing[1] * slab.shape[1] / shape[1], spacing[2])


def random_fov_crop(slab: np.ndarray, rng: np.random.Generator, foreground: np.ndarray) -> np.ndarray:
    """A random square in-plane window inside the anatomy: a zoomed acquisition (pydicom's 64 x 64 ``MR_small`` is
    one) has tissue to every edge and no air around it.  The side is 30-100 % of the shorter side of the
    foreground's bounding box (at least 32 px); the window is centred on a random foreground pixel and shrunk until
    at least 90 % of it is foreground (a rectangle would be padded to a square with air, which is what it must not
    show).

    Args:
        slab: (H, W, Z) volume.
        rng: randomness.
        foreground: (H, W) mask of the anatomy on the middle slice.
    """
    h, w = foreground.shape
    rows, cols = np.nonzero(foreground)
    if not len(rows):
        return slab
    box = min(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    side = min(h, w, max(32, round(box * rng.uniform(0.3, 1.0))))
    while True:
        k = int(rng.integers(len(rows)))
        r0 = int(np.clip(rows[k] - side // 2, 0, h - side))
        c0 = int(np.clip(cols[k] - side // 2, 0, w - side))
        if foreground[r0 : r0 + side, c0 : c0 + side].mean() >= 0.9 or side <= 32:
            return slab[r0 : r0 + side, c0 : c0 + side]
        side = max(32, int(side * 0.9))


def make_sample(
    src: CTMRSource,
    rng: np.random.Generator,
    severities: dict[str, float] | None = None,
    z: int | None = None,
    size: int = INPUT_SIZE,
    rescale_prob: float = 0.0,
    crop_prob: float = 0.0,
    noise_floor_prob: float = 0.0,
    variant_prob: float = 0.0,
    shading_prob: float = 0.0,
) -> dict[str, np.ndarray | float]:
    """One simulated acquisition of one slice.

    Args:
        src: clean source.
        rng: randomness (slice, artefacts, nuisance).
        severities: artefact -> severity; drawn at random (0-2 artefacts of the modality) when None.
        z: slice index (random foreground slice when None).
        size: network grid.
        rescale_prob: probability of resampling the slab in-plane first, to a matrix of 48-320 px (log-uniform),
            so that the physics also acts on small/low-resolution acquisitions (e.g. a 64 x 64 MR).
        crop_prob: probability of cutting a random square window inside the anatomy first (before any
            resampling), so that the physics also acts on zoomed fields of view without background (pydicom's
            ``MR_small`` is one).
        noise_floor_prob: probability that a noise-free (phantom) MR source first gets a thermal noise floor
            (Rician, SNR log-uniform 8-60) as part of its *clean* acquisition, so the pseudo-score's reference
            carries noise as every real one does.  A network that only saw noise-free clean MR phantoms takes a
            real acquisition's own noise for degradation (the held-out prostate T2 and ``MR_small`` read as noise
            severity 0.78 and 0.57), and then anything that smooths or rescales that noise away - undersampling,
            Gibbs, motion, a bias field that raises the intensity scale - looks like an improvement.
        variant_prob: probability that the artefacts (and the noise floor) use a physical model drawn from each
            artefact's ``variants`` (noise models, bias-field shapes; :func:`~monai_fiqa.ctmr.artefacts.draw_variants`)
            instead of the original one, so that a ranking does not depend on one simulator.
        shading_prob: probability that an MR acquisition's *clean* slab carries a receive-coil intensity profile
            (:data:`NATIVE_SHADING`), so the pseudo-score's reference is shaded as a surface-coil acquisition is.
            Every non-brain MR the project has (held-out prostate T2 and abdomen, the unseen shoulder) is shaded
            by its coil; the training sources are head-coil brains and one pelvic DWI, nearly uniform.  A network
            that only saw uniform clean MR reads native shading as a bias-field degradation: a coil profile put on
            a clean training slice dropped 0.3.0's score from 97.7 to 58.0, and its noise ladder then *rose* (the
            noise floor evens the shading out) - the unseen shoulder's failure, reproduced on a training source.

    Returns:
        dict with ``image`` (2, size, size) float32, ``score``, ``severity``, ``severity_mask``, ``prompt`` ids and
        ``matrix``: the acquired in-plane matrix (longer side, px, after any crop/resampling), which the network
        takes as a condition - a clean 64-px slice upsampled to the grid looks like a Gibbs-ringed 256-px one.
    """
    variants = _draw_variants(src, rng, variant_prob)
    slab, spacing = _acquired_slab(src, rng, z, rescale_prob, crop_prob, noise_floor_prob, variants, shading_prob)
    if severities is None:
        names = artefacts_for(src.prompt.modality, has_z=src.volume.shape[2] > 1)
        n = int(rng.choice(3, p=_N_ARTEFACTS_P))
        chosen = rng.choice(names, size=n, replace=False) if n else []
        severities = {str(a): float(rng.uniform(0.05, 1.0)) for a in chosen}
    return _degraded_sample(src, slab, spacing, severities, rng, size, variants)


def make_ladder(
    src: CTMRSource,
    rng: np.random.Generator,
    rungs: int,
    size: int = INPUT_SIZE,
    rescale_prob: float = 0.0,
    crop_prob: float = 0.0,
    noise_floor_prob: float = 0.0,
    variant_prob: float = 0.0,
    shading_prob: float = 0.0,
) -> list[dict[str, np.ndarray | float]]:
    """``rungs`` copies of one acquired slice under one artefact at increasing severities, for the ranking loss.

        Why: the question a quality ladder asks is "of two copies of the same slice, which is worse?"; within a ladder
        the content, the matrix, any second artefact and every nuisance draw (noise realisation, motion direction,
        ghost axis, undersampling lines) are the same, so only the severity differs and the pairwise loss cannot be
        met by recognising the source.  With probability 0.3 a second artefact of the modality is present at one fixed
        severity on every rung (real images rarely have one problem).  The lowest rung is the clean slice half the
        time (severity 0.001, not 0: an absent artefact draws no random numbers, and the rungs' nuisance draws would
    then differ).  Each sample also carries ``ladder_artefact``: the index in ``ARTEFACT_NAMES`` of the varied artefact.
    ``variant_prob``, ``shading_prob``: as for :func:`make_sample`; one physical model and one shading per ladder.
    """
    modality = src.prompt.modality
    variants = _draw_variants(src, rng, variant_prob)
    slab, spacing = _acquired_slab(src, rng, None, rescale_prob, crop_prob, noise_floor_prob, variants, shading_prob)
    names = [str(a) for a in artefacts_for(modality, has_z=src.volume.shape[2] > 1)]
    varied = str(rng.choice(names))
    base: dict[str, float] = {}
    others = [a for a in names if a != varied]
    if others and rng.uniform() < 0.3:
        base[str(rng.choice(others))] = float(rng.uniform(0.05, 0.5))
    levels = np.sort(rng.uniform(0.05, 1.0, size=rungs))
    if rng.uniform() < 0.5:
        levels[0] = _CLEAN_RUNG
    nuisance = int(rng.integers(2**31))
    ladder = []
    for level in levels:
        severities = {**base, varied: float(level)}
        sample = _degraded_sample(src, slab, spacing, severities, np.random.default_rng(nuisance), size, variants)
        sample["ladder_artefact"] = ARTEFACT_NAMES.index(varied)
        ladder.append(sample)
    return ladder


def _draw_variants(src: CTMRSource, rng: np.random.Generator, variant_prob: float) -> dict[str, str] | None:
    """The physical models of this acquisition's artefacts, or None (the original ones); no draw when 0."""
    if variant_prob <= 0 or rng.uniform() >= variant_prob:
        return None
    return draw_variants(artefacts_for(src.prompt.modality), rng)


def _acquired_slab(
    src: CTMRSource,
    rng: np.random.Generator,
    z: int | None,
    rescale_prob: float,
    crop_prob: float,
    noise_floor_prob: float,
    variants: dict[str, str] | None = None,
    shading_prob: float = 0.0,
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The clean 9-slice slab around slice ``z`` as this acquisition sees it (window, matrix, receive-coil
    shading, noise floor in the noise model of ``variants``)."""
    modality = src.prompt.modality
    z = int(rng.choice(src.slices)) if z is None else z
    lo, hi = max(0, z - 4), min(src.volume.shape[2], z + 5)
    slab = src.volume[:, :, lo:hi]
    # keep the slice of interest in the middle of the slab
    pad_lo, pad_hi = 4 - (z - lo), 4 - (hi - 1 - z)
    slab = np.pad(slab, ((0, 0), (0, 0), (pad_lo, pad_hi)), mode="edge")
    spacing = src.spacing
    if crop_prob > 0 and rng.uniform() < crop_prob:
        slab = random_fov_crop(slab, rng, foreground_mask(slab[:, :, 4], modality))
    if rescale_prob > 0 and rng.uniform() < rescale_prob:
        slab, spacing = rescale_matrix(slab, spacing, float(np.exp(rng.uniform(np.log(48), np.log(320)))))
    if modality == "MR" and shading_prob > 0 and rng.uniform() < shading_prob:
        # before the noise floor: a phantom's noise is then uniform under its shaded signal (one coil); a real
        # source's own noise is shaded with it (a combined array)
        magnitude = float(rng.uniform(*NATIVE_SHADING))
        gain = receive_gain(slab.shape[:2], magnitude, rng, str(rng.choice(BIAS_SHAPES)))
        slab = (slab * gain[:, :, None]).astype(np.float32)
    if src.noise_free and modality == "MR" and noise_floor_prob > 0 and rng.uniform() < noise_floor_prob:
        model = (variants or {}).get("mr_noise")
        slab = mr_noise(slab, float(np.exp(rng.uniform(np.log(8), np.log(60)))), rng, model)
    return slab, spacing


def _degraded_sample(
    src: CTMRSource,
    slab: np.ndarray,
    spacing: tuple[float, float, float],
    severities: dict[str, float],
    rng: np.random.Generator,
    size: int,
    variants: dict[str, str] | None = None,
) -> dict[str, np.ndarray | float]:
    """The network input and targets of ``slab`` degraded by ``severities`` (see :func:`make_sample`)."""
    modality = src.prompt.modality
    clean = slab[:, :, 4]
    degraded = degrade_slab(slab, spacing, severities, rng, variants)
    scale = None if modality == "CT" else intensity_scale(clean)
    ref = prepare_slice(clean, modality, scale, size)[0]
    seen_on_ref_scale = prepare_slice(degraded, modality, scale, size)[0]
    mask = to_square(foreground_mask(clean, modality, scale).astype(np.float32), 0.0, size) > 0.5
    severity = np.array([severities.get(a, 0.0) for a in ARTEFACT_NAMES], np.float32)
    sev_mask = np.array([a in artefacts_for(modality) for a in ARTEFACT_NAMES], np.float32)
    return {
        "image": prepare_slice(degraded, modality, None, size),
        "score": fidelity_score(ref, seen_on_ref_scale, mask),
        "severity": severity,
        "severity_mask": sev_mask,
        "prompt": np.array(src.prompt.ids(), np.int64),
        "matrix": float(max(slab.shape[:2])),
    }
