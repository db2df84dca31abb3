"""Accuracy of the shipped FTHNet bundle on held-out photographs degraded at graded severities.

Run: ``.venv/bin/python -m benchmarks.fthnet_accuracy [--bundle fundus_fthnet]``.  Held-out real photographs are the
20 DRIVE *test* images (never used in training), plus rendered fundus images with seeds outside the training range
(synthetic-only numbers).  Each is degraded by every physics type at severities 0, 0.2, ..., 1 (one seed per
image and type) and scored through ``assess`` (single view, no map, for speed).  Reported: SRCC / PLCC of the score
against the pseudo-MOS over all rungs, mean per-image Spearman of score against severity per type, and the grades
of untouched photographs.  Writes ``results/fthnet_accuracy.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import stats

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.demo import retina_path
from monai_fiqa.fundus.ladder import severity_ladder
from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.fundus.synth_set import resize_longest
from monai_fiqa.io.images import read_rgb
from monai_fiqa.metrics.functional import plcc, srcc

ROOT = Path(__file__).resolve().parents[1]
DRIVE_TEST = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE" / "test" / "images"
SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _ladders(assessor, sources: list[tuple[str, np.ndarray, Anatomy]]) -> dict:
    pred, mos, per_type = [], [], {k: [] for k in DEGRADATIONS}
    for i, (_name, image, anatomy) in enumerate(sources):
        for kind in DEGRADATIONS:
            rungs = severity_ladder(image, [kind], SEVERITIES, seed=i, anatomy=anatomy)
            scores = [assessor.assess(r["image"]).score for r in rungs]
            pred += scores
            mos += [r["label"].score for r in rungs]
            per_type[kind].append(float(stats.spearmanr(SEVERITIES, scores).statistic))
    return {
        "n_images": len(sources),
        "n_rungs": len(pred),
        "srcc_vs_pseudo_mos": round(srcc(pred, mos), 4),
        "plcc_vs_pseudo_mos": round(plcc(pred, mos), 4),
        "mean_spearman_vs_severity": {k: round(float(np.nanmean(v)), 4) for k, v in per_type.items()},
    }


def main(bundle: str = "fundus_fthnet", n_synthetic: int = 10) -> None:
    assessor = monai_fiqa.load(bundle, tta=False, quality_map=False)
    real = []
    for p in sorted(DRIVE_TEST.glob("*_test.tif")):
        img = resize_longest(np.asarray(Image.open(p).convert("RGB")), 512)
        real.append((p.name, img, estimate_anatomy(img)))
    synth = []
    for seed in range(900_000, 900_000 + n_synthetic):  # far from any training seed
        s = render_fundus(seed)
        synth.append(
            (
                f"synthetic {seed}",
                s.image,
                Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask),
            )
        )
    payload: dict = {"bundle": bundle, "severities": list(SEVERITIES)}
    if real:
        payload["drive_test"] = _ladders(assessor, real)
    payload["synthetic"] = _ladders(assessor, synth)
    full = monai_fiqa.load(bundle)
    clean = [("retina.jpg", read_rgb(retina_path())[0])] + [(n, i) for n, i, _ in real]
    payload["untouched_grades"] = {n: [round(full.assess(i).score, 1), full.assess(i).grade] for n, i in clean[:6]}
    rows = []
    for part in ("drive_test", "synthetic"):
        if part in payload:
            d = payload[part]
            worst = max(d["mean_spearman_vs_severity"].values())
            rows.append(
                [
                    part,
                    d["n_images"],
                    d["srcc_vs_pseudo_mos"],
                    d["plcc_vs_pseudo_mos"],
                    worst,
                    " ".join(f"{k}:{v:.2f}" for k, v in d["mean_spearman_vs_severity"].items()),
                ]
            )
    write_results(
        "fthnet_accuracy",
        payload,
        ["held-out set", "images", "SRCC", "PLCC", "worst mean Spearman", "mean Spearman per type"],
        rows,
    )
    print(payload["untouched_grades"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="fundus_fthnet")
    ap.add_argument("--n-synthetic", type=int, default=10)
    a = ap.parse_args()
    main(a.bundle, a.n_synthetic)
