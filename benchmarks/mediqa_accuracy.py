"""Accuracy of MedIQA on held-out real CT/MR data degraded at graded severities, beside classical baselines.

Run: ``.venv/bin/python -m benchmarks.mediqa_accuracy [--checkpoint runs/model.pt]`` (default: the ``ctmr_mediqa``
bundle).  Held out (never used in training): the CT angiogram ``CT_AVM`` and the prostate T2 series from
``../shared/data/volumes``, and pydicom's real CT/MR slices.  Each is degraded by every artefact of its modality at
severities 0, 0.2, ..., 1 (three nuisance draws per source and artefact, ``--seeds``; slice thickness only where
there are neighbouring slices) and scored through ``assess`` with the modality/anatomy given as a user prompt
(NIfTI has no headers).  To keep the run short, a volume is represented by 21 slices evenly spread through it
(thickness blur is applied to the full volume first); the assessor still picks its 7 salient slices among them.

Artefacts with several physical models (CT dose and MR noise: the physical model, white and correlated
image-domain noise; MR bias: TorchIO's cubic field and polynomial / coil / gradient / blob fields) get one ladder
per model, reported as ``artefact:model`` (issue 25, item 6: a ranking must not depend on one simulator).

Reported per artefact: mean per-source Spearman of score against severity, for MedIQA and, in the same run on the
same inputs and slices, two classical no-reference baselines (noise: ``-estimate_sigma``; sharpness: mean gradient
magnitude); SRCC of the estimated physical parameter against the true one (upstream head); salient vs evenly spaced
slices (Spearman and agreement with the all-slice pseudo-score); the modality predictor on clean sources without a
prompt.  Also MedIQA's and the better baseline's means over the sources of at least ``MIN_TRAINED_SIDE`` px only -
the population of the issue's targets ("pydicom's MR slices at or above 80 px"): pydicom's 64-px ``MR_small`` is
flagged out of distribution and never graded, but its ladders stay in the main columns.  Writes
``results/mediqa_accuracy.{json,md}``.

``--split val`` runs the same ladders on ``VALIDATION`` sources built from the training data instead (printed, not
written; MedIQA and the baselines only, ~2 min), for choosing between checkpoints without the held-out ladders.
Measured on 2026-12-03 it does *not* predict the held-out ranking (bundle docs, "Validation ladders").

``--split loso --public-mr DIR`` runs them on ``VALIDATION_LOSO``: real MR acquisitions from ``fetch-public-mr`` that
a run *leaves out of its training sources* (train with ``--extra-mr`` on a folder without them: ``LOSO_SOURCES``),
whole and as a small window - unseen acquisitions with their own noise, as the held-out ones are, so that the
choice of a checkpoint does not reward fitting the training volumes.

``--split matrix`` runs them on ``VALIDATION_MATRIX``: training slices resampled to 256, 512 and 1024 px before the
artefacts are simulated (issue 25 item 5: large slices must rank as well as 256-px ones).

``--split unseen`` runs them on ``VALIDATION_UNSEEN``: clinical slices from the ``pydicom-data`` wheel that no training
run uses and that are not held out - the only unseen non-brain MR the project has outside the held-out set (a
surface-coil shoulder, as the held-out prostate T2 is a surface-coil pelvis), and two CT slices as the CT guard.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pydicom.data as pdd
from scipy import ndimage as ndi
from scipy import stats
from skimage.restoration import estimate_sigma

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.ctmr.artefacts import ARTEFACTS, artefacts_for, degrade_slab, severity_to_physical
from monai_fiqa.ctmr.build import TRAIN_VOLUMES
from monai_fiqa.ctmr.preprocessing import foreground_mask, intensity_scale, prepare_slice, to_square
from monai_fiqa.ctmr.synth_set import fidelity_score, phantom_source, pick_slices, random_fov_crop, rescale_matrix
from monai_fiqa.io.volumes import Volume, read_volume
from monai_fiqa.mediqa.assessor import MedIQAAssessor
from monai_fiqa.mediqa.inferer import MIN_TRAINED_SIDE

ROOT = Path(__file__).resolve().parents[1]
VOLUMES = ROOT.parent / "shared" / "data" / "volumes"
SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
N_SLICES = 21
HELD_OUT = (
    ("CT_AVM.nii.gz", "CT", "head"),
    ("prostate_t2_tse.nii.gz", "MR", "pelvis"),
    ("pydicom:CT_small.dcm", "CT", "unknown"),
    ("pydicom:J2K_pixelrep_mismatch.dcm", "CT", "head"),
    ("pydicom:693_J2KI.dcm", "CT", "unknown"),
    ("pydicom:MR_small.dcm", "MR", "unknown"),
    ("pydicom:examples_overlay.dcm", "MR", "abdomen"),
)
# Validation ladders, for choosing between checkpoints without looking at the held-out ones: training sources
# (real MR volumes, an unseen phantom) in the held-out sources' situations - a full volume, one 2D slice, and a square
# window inside the anatomy resampled to a small matrix (what pydicom's 64 px ``MR_small`` and 128 px ``CT_small``
# are).  Spec: ``[slice:|windowN:]source``, source a training volume's file name or ``phantom-CT``/``phantom-MR``.
VALIDATION = (
    ("MR_Gd.nii.gz", "MR", "head"),
    ("prostate_dwi.nii.gz", "MR", "pelvis"),
    ("slice:MR_Gd.nii.gz", "MR", "head"),
    ("window64:MR_Gd.nii.gz", "MR", "unknown"),
    ("window64:phantom-MR", "MR", "unknown"),
    ("window128:phantom-CT", "CT", "unknown"),
)
# Leave-sources-out validation: two real acquisitions of fetch-public-mr that the training run must not use.
LOSO_SOURCES = ("dipy_aniso_vox.nii.gz", "nibabel_example4d_epi.nii.gz")
VALIDATION_LOSO = (
    ("public/dipy_aniso_vox.nii.gz", "MR", "head"),  # 58 x 58 x 24 at 4 x 4 x 5 mm: a real small matrix
    ("public/nibabel_example4d_epi.nii.gz", "MR", "head"),  # an EPI volume, 128 x 96 x 24
    ("slice:public/nibabel_example4d_epi.nii.gz", "MR", "head"),
    ("window64:public/nibabel_example4d_epi.nii.gz", "MR", "unknown"),
)
# Large-matrix validation (issue 25 item 5): one middle slice of each training MR volume resampled in-plane to 256,
# 512 and 1024 px before the artefact is simulated - the held-out MR slices are 384 and 484 px, larger than any
# training image - and an unseen CT phantom at 512 px (most clinical CT).  ``sliceN:source``: the middle slice at N px.
VALIDATION_MATRIX = tuple(
    (f"slice{n}:{name}", "MR", anatomy)
    for name, anatomy in (("MR_Gd.nii.gz", "head"), ("prostate_dwi.nii.gz", "pelvis"))
    for n in (256, 512, 1024)
) + (("slice512:phantom-CT", "CT", "unknown"),)
# Unseen-acquisition validation: clinical slices shipped by the pydicom-data wheel (MIT licence; not pydicom's own
# test files, among which the held-out ones are), never trained on: a 1.5 T shoulder T1 spin echo with a surface coil
# (1024 px, and resampled to 384 px, the held-out prostate T2's matrix), a prone abdominal CT and a zoomed spine CT.
VALIDATION_UNSEEN = (
    ("unseen/MR2_UNCR.dcm", "MR", "unknown"),
    ("slice384:unseen/MR2_UNCR.dcm", "MR", "unknown"),
    ("unseen/explicit_VR-UN.dcm", "CT", "abdomen"),
    ("unseen/bad_sequence.dcm", "CT", "unknown"),
)
PUBLIC_MR_DIR: list[Path] = []  # set by --public-mr
VALIDATION_PHANTOM_SEED = 9000  # training phantoms use seeds 1000-1047
PARAM_ARTEFACTS = ("ct_dose", "mr_noise")  # the upstream head's headline parameters


def _read(name: str) -> Volume:
    if name.startswith("pydicom:"):
        return read_volume(pdd.get_testdata_file(name.split(":", 1)[1]))
    if ":" in name or name.startswith(("phantom-", "public/", "unseen/")):
        return _validation_source(name)
    return read_volume(VOLUMES / name)


def _validation_source(spec: str) -> Volume:
    """One validation source (see ``VALIDATION``); deterministic, so every checkpoint sees the same inputs."""
    view, _, source = spec.rpartition(":")
    if source.startswith("phantom-"):
        src = phantom_source(VALIDATION_PHANTOM_SEED, source.split("-", 1)[1])
        arr, spacing, modality = src.volume, src.spacing, src.prompt.modality
    elif source.startswith("unseen/"):
        path = pdd.get_testdata_file(source.removeprefix("unseen/"))
        if path is None:
            raise SystemExit("--split unseen needs the pydicom-data package (installed by `make setup`)")
        arr, spacing = (vol := read_volume(path)).array, vol.spacing
        modality = next(m for name, m, _ in VALIDATION_UNSEEN if name.endswith(source))
    elif source.startswith("public/"):
        if not PUBLIC_MR_DIR:
            raise SystemExit("--split loso needs --public-mr DIR (a fetch-public-mr folder)")
        vol = read_volume(PUBLIC_MR_DIR[0] / source.removeprefix("public/"))
        arr, spacing, modality = vol.array, vol.spacing, "MR"
    else:
        vol = read_volume(VOLUMES / source)
        arr, spacing, modality = vol.array, vol.spacing, TRAIN_VOLUMES[source][0]
    if not view:
        return Volume(arr, spacing, {}, "array")
    z = int(np.median(pick_slices(arr, modality)))
    one = arr[:, :, z : z + 1]
    if view.startswith("slice") and view != "slice":
        one, spacing = rescale_matrix(one, spacing, float(view.removeprefix("slice")))
    if view.startswith("window"):
        scale = None if modality == "CT" else intensity_scale(arr)
        one = random_fov_crop(one, np.random.default_rng(0), foreground_mask(one[:, :, 0], modality, scale))
        one, spacing = rescale_matrix(one, spacing, float(view.removeprefix("window")))
    return Volume(np.ascontiguousarray(one), spacing, {}, "array")


def _subvolume(vol: np.ndarray, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """Up to N_SLICES slices evenly spread over the slices holding anatomy; returns (slab indices, picks)."""
    z = vol.shape[2]
    if z <= N_SLICES:
        return vol, np.arange(z)
    scale = None if modality == "CT" else intensity_scale(vol)
    frac = foreground_mask(vol[::4, ::4], modality, scale).mean(axis=(0, 1))
    body = np.flatnonzero(frac > 0.02)
    lo, hi = (body[0], body[-1]) if len(body) else (0, z - 1)
    picks = np.unique(np.linspace(lo, hi, N_SLICES).astype(int))
    return vol[:, :, picks], picks


def _degrade_volume(
    vol: Volume, modality: str, artefact: str, severity: float, seed: int, variant: str | None = None
) -> tuple[np.ndarray, list[float]]:
    """Degraded representative slices (by ``variant``, one of the artefact's physical models, if given) and the
    per-slice pseudo-score against the clean ones."""
    arr = vol.array
    sev = {artefact: severity}
    if ARTEFACTS[artefact].needs_z:
        from monai_fiqa.ctmr.ct_physics import ct_slice_thickness

        arr = ct_slice_thickness(arr, vol.spacing[2], vol.spacing[2] + severity_to_physical(artefact, severity))
        sev = {}
    clean, picks = _subvolume(vol.array, modality)
    out = np.empty_like(clean)
    fidelity = []
    for i, z in enumerate(picks):
        rng = np.random.default_rng([seed, i])
        variants = {artefact: variant} if variant else None
        out[:, :, i] = degrade_slab(arr[:, :, z : z + 1], vol.spacing, sev, rng, variants) if sev else arr[:, :, z]
        c = clean[:, :, i]
        scale = None if modality == "CT" else intensity_scale(c)
        if c.max() > c.min():
            ref, deg = prepare_slice(c, modality, scale)[0], prepare_slice(out[:, :, i], modality, scale)[0]
            mask = to_square(foreground_mask(c, modality, scale).astype(np.float32), 0.0) > 0.5
            fidelity.append(fidelity_score(ref, deg, mask))
    return out, fidelity


def _baselines(arr: np.ndarray, slices: list[int], modality: str) -> tuple[float, float]:
    """Classical no-reference scores on the same slices: (-noise sigma, sharpness), both higher = better."""
    sig, sharp = [], []
    for z in slices:
        x = prepare_slice(arr[:, :, z], modality)[0]
        sig.append(float(estimate_sigma(x)))
        gy, gx = ndi.sobel(x, 0), ndi.sobel(x, 1)
        sharp.append(float(np.hypot(gx, gy).mean()))
    return -float(np.mean(sig)), float(np.mean(sharp))


def _srcc(true: list[float], estimated: list[float]) -> float:
    """Spearman of estimated against true physical parameters (0 when the estimate is constant)."""
    return float(stats.spearmanr(true, estimated).statistic) if np.ptp(estimated) > 0 else 0.0


def _rho(scores: list[float]) -> float:
    r = stats.spearmanr(SEVERITIES[: len(scores)], scores).statistic
    return float(r) if np.isfinite(r) else 0.0


def _mean_where(values: list[float], keep: list[bool]) -> float | None:
    """Mean of the values whose flag is set (None if none is): the issue's targets count only sources at or above
    ``MIN_TRAINED_SIDE`` px (a smaller slice is flagged out of distribution, not graded)."""
    kept = [v for v, k in zip(values, keep, strict=True) if k]
    return float(np.mean(kept)) if kept else None


def _columns(even: MedIQAAssessor | None) -> tuple[str, ...]:
    return ("mediqa", "noise_baseline", "sharpness_baseline", *(("even_slices",) if even is not None else ()))


def _ladder(
    assessor: MedIQAAssessor,
    even: MedIQAAssessor | None,
    vol: Volume,
    modality: str,
    prompt: dict,
    kind: str,
    seed: int,
    params: dict,
    agree: dict,
) -> dict[str, list[float]]:
    """Scores of one source along one ladder kind's severities (one seed); appends to ``params`` and ``agree``.
    ``even=None`` skips the evenly-spaced-slices comparison (half the network time; checkpoint selection)."""
    artefact, _, variant = kind.partition(":")
    rows: dict[str, list[float]] = {k: [] for k in _columns(even)}
    for severity in SEVERITIES:
        arr, fidelity = _degrade_volume(vol, modality, artefact, severity, seed, variant or None)
        v = Volume(arr, vol.spacing, {}, "array")
        r = assessor.assess(v, prompt=prompt, quality_map=False)
        noise, sharp = _baselines(arr, r.params["slices"], modality)
        rows["mediqa"].append(r.score)
        rows["noise_baseline"].append(noise)
        rows["sharpness_baseline"].append(sharp)
        est = r.params["artefacts"][artefact]
        params[kind][0].append(severity_to_physical(artefact, severity))
        params[kind][1].append(est[ARTEFACTS[artefact].parameter])
        if even is not None:
            r_even = even.assess(v, prompt=prompt, quality_map=False)
            rows["even_slices"].append(r_even.score)
            if vol.is_3d and fidelity:
                agree["salient"].append(r.score)
                agree["even"].append(r_even.score)
                agree["truth"].append(float(np.mean(fidelity)))
    return rows


def _ladder_kinds(modality: str, has_z: bool) -> list[str]:
    """The artefacts of a modality, then ``artefact:variant`` for each other physical model of the artefacts that
    have several (noise models, bias-field shapes): a ranking must not depend on one simulator."""
    artefacts = artefacts_for(modality, has_z=has_z)
    return artefacts + [f"{a}:{v}" for a in artefacts for v in ARTEFACTS[a].variants[1:]]


LADDER_KINDS = tuple(dict.fromkeys(_ladder_kinds("CT", True) + _ladder_kinds("MR", True)))


def run(assessor: MedIQAAssessor, even: MedIQAAssessor | None, sources: tuple = HELD_OUT, n_seeds: int = 3) -> dict:
    """Per-source Spearman of score against severity, the mean over ``n_seeds`` nuisance draws (motion direction,
    ghost axis, coil pattern, mask lines, metal position): one draw can rank by luck either way."""
    per: dict[str, dict[str, list[float]]] = {a: {k: [] for k in _columns(even)} for a in LADDER_KINDS}
    params: dict[str, tuple[list[float], list[float]]] = {a: ([], []) for a in LADDER_KINDS}
    agree: dict[str, tuple[list[float], list[float], list[float]]] = {"salient": [], "even": [], "truth": []}  # type: ignore[dict-item]
    predictor: list[dict] = []
    upstream_within: dict[str, list[float]] = {a: [] for a in LADDER_KINDS}
    graded: dict[str, list[bool]] = {a: [] for a in LADDER_KINDS}  # source at or above the assessed matrix
    names = [h[0] for h in HELD_OUT + VALIDATION + VALIDATION_LOSO + VALIDATION_MATRIX + VALIDATION_UNSEEN]
    for name, modality, anatomy in sources:
        seed = names.index(name) if name in names else len(names)  # a source's draws do not depend on the others
        vol = _read(name)
        clean = assessor.assess(vol, quality_map=False)
        predictor.append({"source": name, "true": modality, "predicted": clean.params["prompt"]["modality"],
                          "how": clean.params["prompt_source"].get("modality", "header")})  # fmt: skip
        prompt = {"modality": modality, **({"anatomy": anatomy} if anatomy != "unknown" else {})}
        is_graded = min(vol.array.shape[:2]) >= MIN_TRAINED_SIDE  # smaller: flagged out of distribution
        for kind in _ladder_kinds(modality, vol.is_3d):
            ladders, within = [], []
            for rep in range(n_seeds):
                n0 = len(params[kind][0])
                rows = _ladder(assessor, even, vol, modality, prompt, kind, seed + len(HELD_OUT) * rep, params, agree)
                ladders.append({k: _rho(v) for k, v in rows.items()})
                within.append(_srcc(params[kind][0][n0:], params[kind][1][n0:]))
            for k in per[kind]:
                per[kind][k].append(float(np.mean([lad[k] for lad in ladders])))
            upstream_within[kind].append(float(np.mean(within)))
            graded[kind].append(is_graded)
            print(f"{name} {kind}: " + ", ".join(f"{k} {v[-1]:+.2f}" for k, v in per[kind].items()), flush=True)
    summary = {
        a: {k: (float(np.mean(v)) if v else None) for k, v in d.items()}
        | {"n_sources": len(d["mediqa"]), "graded_sources": {k: _mean_where(v, graded[a]) for k, v in d.items()}}
        for a, d in per.items()
        if d["mediqa"]
    }
    upstream = {a: _srcc(t, e) for a, (t, e) in params.items() if len(t) > 2}
    comparison = {
        k: float(stats.spearmanr(agree[k], agree["truth"]).statistic) for k in ("salient", "even") if agree["truth"]
    }
    return {"per_artefact": summary, "per_source": per, "upstream_srcc": upstream,
            "upstream_srcc_within_source": {a: float(np.mean(v)) for a, v in upstream_within.items() if v},
            "slice_selection_srcc_vs_all_slice_pseudo_score": comparison, "modality_predictor": predictor}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", help="MedIQA state dict (default: the ctmr_mediqa bundle's weights)")
    ap.add_argument("--quick", action="store_true", help="only two small pydicom slices (a smoke run)")
    ap.add_argument("--modality", choices=("CT", "MR"), help="only this modality's sources (printed, not written)")
    ap.add_argument(
        "--split",
        choices=("test", "val", "loso", "matrix", "unseen"),
        default="test",
        help="val / loso / matrix / unseen: validation ladders on training / left-out / large-matrix training / "
        "never-trained pydicom-data sources, for choosing a checkpoint or an inference setting (printed)",
    )
    ap.add_argument("--public-mr", type=Path, help="the fetch-public-mr folder (for --split loso)")
    ap.add_argument("--seeds", type=int, default=3, help="nuisance draws per source and artefact (Spearman averaged)")
    args = ap.parse_args()
    if args.checkpoint:
        assessor = monai_fiqa.load("ctmr_mediqa", checkpoint=str(args.checkpoint))
        label = str(args.checkpoint)
    else:
        assessor = monai_fiqa.load("ctmr_mediqa")  # type: ignore[assignment]
        label = "bundle ctmr_mediqa"
    sources = {
        "test": HELD_OUT,
        "val": VALIDATION,
        "loso": VALIDATION_LOSO,
        "matrix": VALIDATION_MATRIX,
        "unseen": VALIDATION_UNSEEN,
    }[args.split]
    if args.public_mr:
        PUBLIC_MR_DIR.append(args.public_mr)
    even = MedIQAAssessor(assessor.net, thresholds=assessor.thresholds, slice_selection="even")
    even = even if args.split == "test" else None
    if args.quick:
        sources = tuple(h for h in HELD_OUT if h[0] in ("pydicom:CT_small.dcm", "pydicom:MR_small.dcm"))
    if args.modality:
        sources = tuple(h for h in sources if h[1] == args.modality)
    res = run(assessor, even, sources, args.seeds)
    if args.quick or args.modality or args.split != "test":
        print(res["per_artefact"])
        means = [d["mediqa"] for d in res["per_artefact"].values() if d["mediqa"] is not None]
        print(f"MedIQA mean Spearman over artefacts {np.mean(means):+.3f}, worst {max(means):+.3f}")
        return
    rows = []
    for a, d in res["per_artefact"].items():
        best_baseline = min(d["noise_baseline"], d["sharpness_baseline"])
        margin = best_baseline - d["mediqa"]  # > 0: MedIQA falls more steadily than the better baseline
        versus = "better" if margin > 0.005 else ("tie" if margin > -0.005 else "worse")
        cells = [d["mediqa"], d["even_slices"], d["noise_baseline"], d["sharpness_baseline"]]
        param = res["upstream_srcc"].get(a, float("nan"))
        within = res["upstream_srcc_within_source"].get(a, float("nan"))
        g = d["graded_sources"]
        graded_cell = (
            "n/a"
            if g["mediqa"] is None
            else f"{g['mediqa']:+.3f} ({min(g['noise_baseline'], g['sharpness_baseline']):+.3f})"
        )
        rows.append(
            [a, d["n_sources"], *(f"{c:+.3f}" for c in cells), graded_cell, versus, f"{param:.3f}", f"{within:.3f}"]
        )
    write_results(
        "mediqa_accuracy",
        {"model": label, "severities": SEVERITIES, **res},
        [
            "artefact",
            "sources",
            "MedIQA Spearman",
            "even slices",
            "noise baseline",
            "sharpness baseline",
            f"MedIQA (better baseline), sources >= {MIN_TRAINED_SIDE} px",
            "vs the better baseline (all sources)",
            "param SRCC (pooled)",
            "param SRCC (within source)",
        ],  # fmt: skip
        rows,
    )
    print("slice selection (SRCC vs all-slice pseudo-score):", res["slice_selection_srcc_vs_all_slice_pseudo_score"])
    print("modality predictor:", res["modality_predictor"])


if __name__ == "__main__":
    main()
