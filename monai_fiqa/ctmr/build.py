"""Build a MedIQA training set on disk: simulated acquisitions of phantoms and real training volumes.

Layout of ``out/``: ``images.npy`` (N, 2, S, S) float16 network inputs; ``targets.npz`` with ``score`` (N,),
``severity`` / ``severity_mask`` (N, n_artefacts), ``prompt`` (N, 4), ``matrix`` (N,) acquired in-plane matrix;
``group`` (N,) the ladder each sample belongs to (-1: an independent sample) and ``ladder_artefact`` (N,) the index
of the artefact its ladder varies (-1: none); ``manifest.json`` with the sources, seeds and the command, so the set
can be rebuilt exactly.  Work is split over
processes by sample index; sample ``i`` depends only on ``(seed, i)``, so the result does not depend on the number
of workers.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import numpy as np

from monai_fiqa.ctmr.preprocessing import INPUT_SIZE
from monai_fiqa.ctmr.public_mr import NOISE_FREE, SOURCES_FILE
from monai_fiqa.ctmr.synth_set import (
    CTMRSource,
    file_source,
    make_ladder,
    make_sample,
    phantom_source,
    reoriented_sources,
)
from monai_fiqa.engine.parallel import process_map

__all__ = ["TRAIN_VOLUMES", "build_ctmr_set", "extra_sources"]

# Real training volumes (file name in the volumes folder -> modality, anatomy, image type).  CT_AVM and the
# prostate T2 series, and every pydicom CT/MR slice, are held out for evaluation.
TRAIN_VOLUMES = {
    "MR_Gd.nii.gz": ("MR", "head", "mr_t1"),
    "prostate_dwi.nii.gz": ("MR", "pelvis", "mr_dwi"),
}
_N_PHANTOMS = 48
_MIX = (("ct_phantom", 0.5), ("mr_phantom", 0.25), ("mr_real", 0.25))
# with extra real MR sources (``public_mr``): more of the MR share is real, and half of it goes to the extras
_MIX_EXTRA = (("ct_phantom", 0.5), ("mr_phantom", 0.15), ("mr_real", 0.35))
_REAL_P = (0.7, 0.3)
_REAL_P_EXTRA = (0.35, 0.15)


@cache
def _phantom(i: int, modality: str) -> CTMRSource:
    return phantom_source(1000 + i, modality)


def extra_sources(extra_dir: str | Path) -> dict[str, tuple[str, str, str]]:
    """File -> (modality, anatomy, image type) of a folder written by ``public_mr.fetch_public_mr``."""
    return {k: tuple(v) for k, v in json.loads((Path(extra_dir) / SOURCES_FILE).read_text()).items()}


@cache
def _real(volumes_dir: str, extra_dir: str, orientations: bool) -> tuple[tuple[CTMRSource, ...], tuple[float, ...]]:
    """The real MR sources and their sampling probabilities (the extras share what the training volumes leave);
    with ``orientations`` each near-isotropic volume also as coronal, sagittal and oblique slices, which share its
    probability (the mix of volumes stays the same)."""
    srcs = [file_source(Path(volumes_dir) / name, *info) for name, info in TRAIN_VOLUMES.items()]
    probabilities = list(_REAL_P)
    if extra_dir:
        extra = [file_source(Path(extra_dir) / name, *info) for name, info in extra_sources(extra_dir).items()]
        for src in extra:
            src.noise_free = src.name in NOISE_FREE
        share = (1.0 - sum(_REAL_P_EXTRA)) / len(extra)
        srcs, probabilities = srcs + extra, [*_REAL_P_EXTRA, *[share] * len(extra)]
    if not orientations:
        return tuple(srcs), tuple(probabilities)
    out, p_out = [], []
    for src, p in zip(srcs, probabilities, strict=True):
        views = reoriented_sources(src)
        out += views
        p_out += [p / len(views)] * len(views)
    return tuple(out), tuple(p_out)


def _one(args: tuple[int, int, str, str, bool, int, float, float, float, float, float, int]) -> list[dict]:
    """Job ``i``: one sample, or one ladder of ``rungs`` samples (one slice, one varied artefact)."""
    seed, i, volumes_dir, extra_dir, orientations, size, *probabilities, rungs = args
    rescale_prob, crop_prob, noise_floor_prob, variant_prob, shading_prob = probabilities
    rng = np.random.default_rng([seed, i])
    mix = _MIX_EXTRA if extra_dir else _MIX
    kind = rng.choice([k for k, _ in mix], p=[p for _, p in mix])
    if kind == "mr_real" and not volumes_dir:  # no real volumes given: phantoms only
        kind = "mr_phantom"
    if kind == "mr_real":
        real, p = _real(volumes_dir, extra_dir, orientations)
        src = real[int(rng.choice(len(real), p=p))]
    else:
        src = _phantom(int(rng.integers(_N_PHANTOMS)), "CT" if kind == "ct_phantom" else "MR")
    options = {
        "size": size,
        "rescale_prob": rescale_prob,
        "crop_prob": crop_prob,
        "noise_floor_prob": noise_floor_prob,
        "variant_prob": variant_prob,
        "shading_prob": shading_prob,
    }
    if rungs > 1:
        return [{**sample, "group": i} for sample in make_ladder(src, rng, rungs, **options)]  # type: ignore[arg-type]
    return [{**make_sample(src, rng, **options), "group": -1, "ladder_artefact": -1}]  # type: ignore[arg-type]


def build_ctmr_set(
    out: str | Path,
    n: int,
    seed: int,
    volumes_dir: str | Path | None,
    size: int = INPUT_SIZE,
    workers: int = 2,
    rescale_prob: float = 0.0,
    crop_prob: float = 0.0,
    noise_floor_prob: float = 0.0,
    extra_dir: str | Path | None = None,
    ladder_rungs: int = 0,
    orientations: bool = False,
    variant_prob: float = 0.0,
    shading_prob: float = 0.0,
) -> Path:
    """Write ``n`` samples to ``out`` (see the module docstring) and return the folder.

    ``rescale_prob``: share of samples whose source is first resampled to a 48-320 px matrix; ``crop_prob``: share
    first cut to a random small field of view; ``noise_floor_prob``: share of MR phantom samples whose clean
    acquisition gets a thermal noise floor first (see ``make_sample``); ``extra_dir``: a folder of extra real MR
    sources (``public_mr.fetch_public_mr``), which then get half of a larger real-MR share (``_MIX_EXTRA``);
    ``ladder_rungs`` (> 1): the ``n`` samples are ``n // ladder_rungs`` ladders (``synth_set.make_ladder``) for the
    ranking loss, instead of independent samples; ``orientations``: real volumes also sliced coronally, sagittally
    and obliquely (``synth_set.reoriented_sources``); ``variant_prob``: share of samples (ladders) whose noise and
    bias field come from a physical model drawn from ``artefacts.ArtefactSpec.variants``; ``shading_prob``: share of
    MR samples (ladders) whose clean acquisition carries a receive-coil shading (``synth_set.make_sample``);
    ``volumes_dir`` None
    (and no ``extra_dir``): phantoms only (a tiny set for a bundle's smoke run, or a site without volumes).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extra = str(extra_dir) if extra_dir else ""
    per_job = ladder_rungs if ladder_rungs > 1 else 1
    n = n // per_job * per_job
    options = (size, rescale_prob, crop_prob, noise_floor_prob, variant_prob, shading_prob, ladder_rungs)
    jobs = [(seed, i, str(volumes_dir or ""), extra, orientations, *options) for i in range(n // per_job)]
    images = np.lib.format.open_memmap(out / "images.npy", mode="w+", dtype=np.float16, shape=(n, 2, size, size))
    keys = ("score", "severity", "severity_mask", "prompt", "matrix", "group", "ladder_artefact")
    targets: dict[str, list] = {k: [] for k in keys}
    results = process_map(_one, jobs, workers, chunksize=max(1, 16 // per_job), min_items=2)
    samples = (sample for job in results for sample in job)
    for i, sample in enumerate(samples):
        images[i] = sample["image"].astype(np.float16)
        for k in keys:
            targets[k].append(sample[k])
        if (i + 1) % 500 == 0:
            print(f"{i + 1}/{n} samples", flush=True)
    images.flush()
    np.savez(out / "targets.npz", **{k: np.asarray(v) for k, v in targets.items()})
    manifest = {
        "n": n,
        "seed": seed,
        "size": size,
        "rescale_prob": rescale_prob,
        "crop_prob": crop_prob,
        "noise_floor_prob": noise_floor_prob,
        "variant_prob": variant_prob,
        "shading_prob": shading_prob,
        "ladder_rungs": ladder_rungs,
        "orientations": orientations,
        "mix": dict(_MIX_EXTRA if extra else _MIX),
        "phantom_seeds": [1000, 1000 + _N_PHANTOMS],
        "real_volumes": TRAIN_VOLUMES,
        "extra_mr": extra_sources(extra) if extra else {},
        "command": " ".join(sys.argv),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out
