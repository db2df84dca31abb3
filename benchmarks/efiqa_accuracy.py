"""EFIQA on real photographs it never saw (the 20 DRIVE *test* images): localisation, severity, agreement, speed.

Run: ``.venv/bin/python -m benchmarks.efiqa_accuracy [--bundle bundles/fundus_efiqa] [--n-images 20]``.

* **Localisation** - each photograph is degraded only inside a random region (``random_region``: 15-35 % of the FOV
  diameter) by blur (defocus), haze, darkness (underexposure) and occlusion (artefacts), at severity 0.8; pixel AUROC
  of ``1 - map`` against the region mask inside the FOV, for stage 2 (the shipped adapter) and stage 1.
* **Global severity** - every degradation of the physics at severities 0, 0.2, ..., 1 (one seed per image and type);
  Spearman of the score against severity per image, averaged.  A uniform colour cast (channel gains drifting to
  (1.25, 0.9, 0.6)) is measured as the documented blind spot of an anatomical prior.
* **Agreement** - Pearson correlation of the stage-2 and stage-1 cell maps (cells inside the FOV) and of the scores,
  over every input above.
* **Speed** - ``assess`` wall time per photograph for each stage, measured in the same run (ratio).

Writes ``results/efiqa_accuracy.{json,md}`` and, with ``--figure``, ``docs/images/efiqa_overlays.png``.

``--split training`` runs the same protocol on DRIVE *training* photographs (printed, not written): the DRIVE check
for choosing a change to the maps or the score without the test photographs.  The camera-shift choice set's
source-camera recordings did not show a loss on the test's own illumination ladders that this protocol on training
photographs does (trial log, 2026-12-07).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from scipy import stats

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.efiqa.vessel_segmentation import load_drive
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region
from monai_fiqa.metrics.functional import pixel_auroc
from monai_fiqa.viz import contact_sheet, overlay_map, save_png

ROOT = Path(__file__).resolve().parents[1]
DRIVE = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE"
LOCAL_KINDS = {"blur": "defocus", "haze": "haze", "darkness": "underexposure", "occlusion": "artefacts"}
SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
CAST = np.array([1.25, 0.9, 0.6], np.float32)


def _degrade(img: np.ndarray, fov: np.ndarray, kind: str, sev: float, seed: int, region: bool) -> tuple:
    rng = np.random.default_rng(seed)
    reg = random_region(fov, rng) if region else None
    params = DEGRADATIONS[kind].from_severity(sev, rng)
    out, truth = apply_degradation(img.astype(np.float32) / 255.0, kind, params, fov, rng, region=reg)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8), truth


def _cast(img: np.ndarray, fov: np.ndarray, sev: float) -> np.ndarray:
    gain = 1.0 + sev * (CAST - 1.0)
    out = img.astype(np.float32) * gain
    out[~fov] = img[~fov]
    return np.clip(out, 0, 255).astype(np.uint8)


def _outline(img: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The photograph with the degraded region's border drawn in cyan (3 px)."""
    inside = np.asarray(region) > 0.5
    edge = ndi.binary_dilation(inside, iterations=3) & ~inside
    out = img.copy()
    out[edge] = (0, 255, 255)
    return out


def _heat(qmap: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """The quality map alone (green good, yellow fair, red poor) on the field of view, black outside."""
    grey = np.where(fov[..., None], 128, 0).astype(np.uint8).repeat(3, axis=2)
    return overlay_map(grey, qmap, alpha=1.0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle", default=str(ROOT / "bundles" / "fundus_efiqa"))
    ap.add_argument("--n-images", type=int, default=20)
    ap.add_argument("--figure", action="store_true", help="write docs/images/efiqa_overlays.png")
    ap.add_argument(
        "--split",
        choices=("test", "training"),
        default="test",
        help="training: the same protocol on DRIVE training photographs, for choosing a change (printed only)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    models = {m: monai_fiqa.load(args.bundle, mode=m) for m in ("stage2", "stage1")}
    pairs = load_drive(DRIVE, args.split)[: args.n_images]
    auroc = {m: {k: [] for k in LOCAL_KINDS} for m in models}
    spearman: dict[str, dict[str, list[float]]] = {m: {} for m in models}
    seconds = {m: [] for m in models}
    agree_cells, agree_scores = [], []
    tiles: list[tuple[np.ndarray, str]] = []

    def run(img: np.ndarray, fov: np.ndarray) -> dict:
        out = {}
        for m, a in models.items():
            t0 = time.perf_counter()
            out[m] = a.assess(img)
            seconds[m].append(time.perf_counter() - t0)
        agree_cells.append((out["stage2"].quality_map[fov][::7], out["stage1"].quality_map[fov][::7]))
        agree_scores.append((out["stage2"].score, out["stage1"].score))
        return out

    for i, p in enumerate(pairs):
        for name, kind in LOCAL_KINDS.items():
            img, truth = _degrade(p.image, p.fov, kind, 0.8, seed=1000 * i + len(name), region=True)
            res = run(img, p.fov)
            for m in models:
                auroc[m][name].append(pixel_auroc(1.0 - res[m].quality_map, truth, p.fov))
            if args.figure and i < 2:
                tiles += [(_outline(img, truth), f"{p.name}: {name} (true region outlined)")]
                tiles += [(overlay_map(img, res["stage1"].quality_map), f"stage 1 overlay: {res['stage1'].score:.0f}")]
                tiles += [
                    (_heat(res[m].quality_map, p.fov), f"{m} map: {res[m].score:.0f}") for m in ("stage1", "stage2")
                ]
        ladders = {
            k: [_degrade(p.image, p.fov, k, s, seed=7 * i + 1, region=False)[0] for s in SEVERITIES]
            for k in DEGRADATIONS
        }
        ladders["colour_cast"] = [_cast(p.image, p.fov, s) for s in SEVERITIES]
        for kind, images in ladders.items():
            scores = {m: [] for m in models}
            for img in images:
                res = run(img, p.fov)
                for m in models:
                    scores[m].append(res[m].score)
            for m in models:
                rho = stats.spearmanr(SEVERITIES, scores[m]).statistic
                spearman[m].setdefault(kind, []).append(0.0 if np.isnan(rho) else float(rho))
        print(f"{p.name}: done", flush=True)

    cells = np.concatenate([a for a, _ in agree_cells]), np.concatenate([b for _, b in agree_cells])
    sc = np.asarray(agree_scores)
    payload = {
        "n_images": len(pairs),
        "localisation_auroc": {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in auroc.items()},
        "severity_spearman": {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in spearman.items()},
        "stage_agreement": {
            "map_pearson": float(np.corrcoef(*cells)[0, 1]),
            "score_pearson": float(np.corrcoef(sc[:, 0], sc[:, 1])[0, 1]),
            "score_srcc": float(stats.spearmanr(sc[:, 0], sc[:, 1]).statistic),
        },
        "seconds_per_image": {m: float(np.median(v)) for m, v in seconds.items()},
    }
    secs = payload["seconds_per_image"]
    payload["speedup_stage2_vs_stage1"] = secs["stage1"] / secs["stage2"]
    loc, sev = payload["localisation_auroc"], payload["severity_spearman"]
    rows = [[f"localisation AUROC: {k}", *(f"{loc[m][k]:.3f}" for m in models)] for k in LOCAL_KINDS]
    rows += [[f"severity Spearman: {k}", *(f"{sev[m][k]:+.2f}" for m in models)] for k in spearman["stage2"]]
    rows += [["s / photograph (assess)", *(f"{payload['seconds_per_image'][m]:.3f}" for m in models)]]
    if args.split != "test":
        print("\n".join(" | ".join(r) for r in rows))
        return
    write_results("efiqa_accuracy", payload, ["measure (DRIVE test)", "stage 2 (shipped)", "stage 1"], rows)
    print(f"stage agreement {payload['stage_agreement']}; speed-up {payload['speedup_stage2_vs_stage1']:.1f}x")
    if args.figure and tiles:
        sheet = contact_sheet([t for t, _ in tiles], [c for _, c in tiles], cols=8, tile=256)
        save_png(sheet, ROOT / "docs" / "images" / "efiqa_overlays.png")


if __name__ == "__main__":
    main()
