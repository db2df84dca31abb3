"""Run an assessor over many images: a folder (for ``monai.bundle run``) or a labelled CSV (evaluation).

Why here and not in each bundle: every bundle's ``inference.json`` and ``evaluate.json`` wire the same two
functions, so a folder run and an evaluation behave the same whichever model is inside.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from monai_fiqa.api import Assessor
from monai_fiqa.data.quality_csv import read_quality_csv
from monai_fiqa.io.images import ImageReadError, read_rgb
from monai_fiqa.metrics.functional import grade_accuracy, krcc, plcc, rmse, srcc
from monai_fiqa.synth.pseudo_mos import grade_from_score
from monai_fiqa.viz import overlay_map, save_png

__all__ = ["IMAGE_SUFFIXES", "assess_folder", "evaluate_csv"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".dcm"}


def assess_folder(assessor: Assessor, input_dir: str | Path, output_dir: str | Path, maps: bool = True) -> Path:
    """Assess every image in ``input_dir``; write ``results.json``, ``results.csv`` and map overlays.

    A file that cannot be assessed is reported with its error and the run goes on.

    Returns:
        Path of ``results.json``.
    """
    src, out = Path(input_dir), Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    results: dict[str, Any] = {}
    for p in tqdm(files, desc="assess", unit="img"):
        key = str(p.relative_to(src))
        try:
            r = assessor.assess(p)
        except (ImageReadError, ValueError) as exc:
            results[key] = {"error": str(exc)}
            continue
        results[key] = r.to_dict()
        if maps and r.quality_map is not None:
            image, _ = read_rgb(p)
            name = key.replace("/", "__").rsplit(".", 1)[0]
            save_png(overlay_map(image, r.quality_map), out / "maps" / f"{name}_overlay.png")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    with (out / "results.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "score", "grade", "out_of_distribution", "error"])
        for k, v in results.items():
            params = v.get("params", {})
            w.writerow(
                [k, v.get("score", ""), v.get("grade", ""), params.get("out_of_distribution", ""), v.get("error", "")]
            )
    return out / "results.json"


def evaluate_csv(assessor: Assessor, csv_path: str | Path, output: str | Path | None = None) -> dict[str, Any]:
    """PLCC / SRCC / KRCC / RMSE against the CSV's MOS and grade accuracy, through the full ``assess`` path."""
    records = read_quality_csv(csv_path)
    pred, target, grades_p, grades_t = [], [], [], []
    for r in tqdm(records, desc="evaluate", unit="img"):
        res = assessor.assess(r.path)
        pred.append(res.score)
        target.append(r.mos)
        grades_p.append(grade_from_score(res.score))
        grades_t.append(r.grade or grade_from_score(r.mos))
    p, t = np.asarray(pred), np.asarray(target)
    metrics = {
        "n": len(p),
        "plcc": plcc(p, t),
        "srcc": srcc(p, t),
        "krcc": krcc(p, t),
        "rmse": rmse(p, t),
        "grade_accuracy": grade_accuracy(grades_p, grades_t),
    }
    if output:
        Path(output).write_text(json.dumps(metrics, indent=2))
    return metrics
