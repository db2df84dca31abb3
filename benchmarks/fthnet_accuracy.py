"""Accuracy of FTHNet on held-out photographs as other cameras record them (the shipping bar of fundus_fthnet).

Run: ``.venv/bin/python -m benchmarks.fthnet_accuracy [--checkpoint RUN/best_model.pt] [--n-drive 20] [--quick]``.

Held-out set (:mod:`benchmarks._camera_shift`): the DRIVE *test* photographs and scikit-image's ``retina.jpg``,
each recorded by every camera-shift profile.  Per camera:

* **ladders** - every degradation kind at severities 0, 0.2, ..., 1 over the whole field of view (one nuisance seed
  per photograph and kind), scored single-view: mean per-image Spearman of score against severity per kind, and
  SRCC / PLCC of score against the pseudo-MOS over every rung;
* **untouched** - the clean recordings through the full ``assess`` (10 views): share graded ``good``, and the spread
  of each photograph's score across cameras;
* **regional** - one kind inside a random region (severity 0.8): pixel AUROC of ``1 - quality map`` against the
  region inside the field of view;
* **severity head** - on single-degradation rungs of severity >= 0.4, how often the applied kind is the largest
  predicted severity.

Writes ``results/fthnet_accuracy.{json,md}`` (``--checkpoint`` evaluates a training run's weights through the
bundle's config; ``--quick`` is a smoke run on the source camera and three photographs, not written).

A full run takes hours on two cores (four cameras took 83 min split over two processes), longer than a working
session, so ``--cache DIR`` keeps each finished camera's report under ``DIR/<sha256 of the weights>/`` and a later
run with the same weights reuses it; two processes can share the cores by splitting ``--cameras`` over one cache,
and a last run without ``--cameras`` gathers them and writes the results.  The key is the weights only: empty the
folder when this protocol changes.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy import stats

import monai_fiqa
from benchmarks._camera_shift import (
    CAMERA_SHIFT_PROFILES,
    REGIONAL_KINDS,
    SEVERITIES,
    cached_camera_report,
    held_out_sources,
    ladder,
    regional,
    select_cameras,
)
from benchmarks._common import write_results
from monai_fiqa.api import file_sha256, resolve_bundle
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.metrics.functional import pixel_auroc, plcc, srcc

BARS = {"spearman": -0.90, "srcc": 0.90, "plcc": 0.90, "good": 0.90, "auroc": 0.85, "severity_top1": 0.80}


def _camera_report(assessors: dict, sources: list, camera, kinds: tuple[str, ...]) -> dict:
    single, mapped, full = assessors["single"], assessors["map"], assessors["full"]
    pred, mos, spearman, top1 = [], [], defaultdict(list), []
    for i, src in enumerate(sources):
        for k, kind in enumerate(kinds):
            scores = []
            for s, rung in ladder(src, camera, kind, SEVERITIES, seed=1000 * i + k):
                r = single.assess(rung.image)
                scores.append(r.score)
                pred.append(r.score)
                mos.append(rung.mos)
                sev = r.params.get("degradations")
                if sev and s >= 0.4:
                    top1.append(max(sev, key=sev.get) == kind)
            rho = stats.spearmanr(SEVERITIES, scores).statistic
            spearman[kind].append(0.0 if np.isnan(rho) else float(rho))  # constant scores rank nothing
    auroc = defaultdict(list)
    for i, src in enumerate(sources):
        for k, kind in enumerate(REGIONAL_KINDS):
            rung = regional(src, camera, kind, 0.8, seed=5000 + 100 * i + k)
            auroc[kind].append(pixel_auroc(1.0 - mapped.assess(rung.image).quality_map, rung.region, rung.fov))
    untouched = {}
    for src in sources:
        _, rung = next(ladder(src, camera, kinds[0], (0.0,), seed=0))
        r = full.assess(rung.image)
        untouched[src.name] = [round(r.score, 2), r.grade]
    return {
        "n_rungs": len(pred),
        "srcc_vs_pseudo_mos": round(srcc(pred, mos), 4),
        "plcc_vs_pseudo_mos": round(plcc(pred, mos), 4),
        "mean_spearman_vs_severity": {k: round(float(np.nanmean(v)), 4) for k, v in spearman.items()},
        "regional_auroc": {k: round(float(np.nanmean(v)), 4) for k, v in auroc.items()},
        "regional_auroc_mean": round(float(np.nanmean([x for v in auroc.values() for x in v])), 4),
        "severity_top1": round(float(np.mean(top1)), 4) if top1 else None,
        "untouched": untouched,
        "untouched_good_share": round(float(np.mean([g == "good" for _, g in untouched.values()])), 4),
    }


def _passes(report: dict) -> bool:
    return (
        max(report["mean_spearman_vs_severity"].values()) <= BARS["spearman"]
        and report["srcc_vs_pseudo_mos"] >= BARS["srcc"]
        and report["plcc_vs_pseudo_mos"] >= BARS["plcc"]
        and report["untouched_good_share"] >= BARS["good"]
        and report["regional_auroc_mean"] >= BARS["auroc"]
        and (report["severity_top1"] or 0.0) >= BARS["severity_top1"]
    )


def _weights_digest(checkpoint: str | None) -> str:
    path = Path(checkpoint) if checkpoint else resolve_bundle("fundus_fthnet") / "models" / "model.pt"
    return file_sha256(path)[:16]


def main(
    checkpoint: str | None,
    n_drive: int | None,
    quick: bool,
    camera_names: list[str] | None = None,
    cache: str | None = None,
) -> dict:
    torch.set_num_threads(2)
    extra = {"checkpoint": checkpoint} if checkpoint else {}
    assessors = {
        "single": monai_fiqa.load("fundus_fthnet", tta=False, quality_map=False, **extra),
        "map": monai_fiqa.load("fundus_fthnet", tta=False, quality_map=True, **extra),
        "full": monai_fiqa.load("fundus_fthnet", **extra),
    }
    sources = held_out_sources(2 if quick else n_drive)
    cameras = CAMERA_SHIFT_PROFILES[:1] if quick else select_cameras(camera_names)
    kinds = ("defocus", "noise", "overexposure") if quick else tuple(DEGRADATIONS)
    payload: dict = {"weights": checkpoint or "bundle fundus_fthnet", "severities": list(SEVERITIES), "bars": BARS}
    if cache and (quick or n_drive):
        raise SystemExit("--cache keeps full-protocol reports only (not with --quick or --n-drive)")
    cache_dir = Path(cache) / _weights_digest(checkpoint) if cache else None
    payload["cameras"] = {
        c.name: cached_camera_report(cache_dir, c, lambda c=c: _camera_report(assessors, sources, c, kinds))
        for c in cameras
    }
    clean = defaultdict(list)
    for report in payload["cameras"].values():
        for name, (score, _) in report["untouched"].items():
            clean[name].append(score)
    payload["clean_score_spread_across_cameras"] = round(max(max(v) - min(v) for v in clean.values()), 2)
    payload["passes_every_bar"] = all(_passes(r) for r in payload["cameras"].values())
    rows = [
        [
            name,
            r["srcc_vs_pseudo_mos"],
            r["plcc_vs_pseudo_mos"],
            max(r["mean_spearman_vs_severity"].values()),
            r["untouched_good_share"],
            r["regional_auroc_mean"],
            r["severity_top1"],
            " ".join(f"{k}:{v:.2f}" for k, v in r["mean_spearman_vs_severity"].items()),
        ]
        for name, r in payload["cameras"].items()
    ]
    header = ["camera", "SRCC", "PLCC", "worst kind Spearman", "clean good", "regional AUROC", "severity top-1"]
    if quick or camera_names:  # a partial run is printed, never written over the held-out results
        print(payload)
    else:
        write_results("fthnet_accuracy", payload, [*header, "Spearman per kind"], rows)
    return payload


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", help="weights to evaluate instead of the bundle's (e.g. RUN/best_model.pt)")
    ap.add_argument("--n-drive", type=int, default=None, help="DRIVE test photographs to use (default: all 20)")
    ap.add_argument("--quick", action="store_true", help="smoke run: source camera, 2 photographs, 3 kinds")
    ap.add_argument("--cameras", nargs="+", help="only these camera-shift profiles (printed, not written)")
    ap.add_argument("--cache", help="folder keeping each finished camera's report per weights (resumable runs)")
    a = ap.parse_args()
    main(a.checkpoint, a.n_drive, a.quick, a.cameras, a.cache)
