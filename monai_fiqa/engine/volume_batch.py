"""Run a CT/MR assessor over a folder: NIfTI files, DICOM files grouped by series, and series sub-folders.

Each series is one item; a series that cannot be read or assessed is reported with its error and the run goes on.
Outputs: ``results.json``, ``results.csv`` and, per series, a PNG montage of the scored slices with the quality map
over them (what a technologist looks at first).  No patient identity is written: items are named by file path.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from tqdm import tqdm

from monai_fiqa.api import QualityResult
from monai_fiqa.io.volumes import Volume, VolumeReadError, read_volume
from monai_fiqa.viz import contact_sheet, overlay_map, save_png

__all__ = ["assess_volume_folder", "evaluate_score_csv", "find_series", "slice_montage", "slice_overlays"]


def find_series(folder: str | Path) -> dict[str, list[Path] | Path]:
    """Items of a folder: every NIfTI file, and every DICOM series (files grouped by SeriesInstanceUID)."""
    root = Path(folder)
    items: dict[str, list[Path] | Path] = {}
    series: dict[str, list[Path]] = {}
    for p in sorted(q for q in root.rglob("*") if q.is_file() and not q.name.startswith(".")):
        if p.name.endswith((".nii", ".nii.gz")):
            items[str(p.relative_to(root))] = p
            continue
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            uid = str(ds.get("SeriesInstanceUID", p))
        except Exception:  # not DICOM, or corrupt: reported as its own item
            items[str(p.relative_to(root))] = p
            continue
        series.setdefault(uid, []).append(p)
    for files in series.values():
        key = str(files[0].parent.relative_to(root)) if len(files) > 1 else str(files[0].relative_to(root))
        key = key if key not in items else f"{key}#{len(items)}"
        items[key] = files
    return items


def _display(vol: Volume, z: int, modality: str) -> np.ndarray:
    sl = vol.array[:, :, z]
    if modality == "CT":
        img = np.clip((sl + 160.0) / 400.0, 0.0, 1.0)
    else:
        img = np.clip(sl / max(float(np.percentile(sl, 99.5)), 1e-6), 0.0, 1.0)
    return np.repeat((img * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def slice_overlays(vol: Volume, result: QualityResult) -> list[tuple[np.ndarray, str]]:
    """(RGB tile, caption) for each scored slice: the slice (CT soft-tissue window) with its quality map over it."""
    modality = result.params["prompt"]["modality"]
    out = []
    for z, s in zip(result.params["slices"], result.params["slice_scores"], strict=True):
        img = _display(vol, z, modality)
        tile = overlay_map(img, result.quality_map[:, :, z]) if result.quality_map is not None else img
        out.append((tile, f"slice {z}: {s:.0f}"))
    return out


def slice_montage(vol: Volume, result: QualityResult) -> np.ndarray:
    """RGB montage of the scored slices, each with its quality map overlaid and its score as a caption."""
    tiles = slice_overlays(vol, result)
    return contact_sheet([t for t, _ in tiles], [c for _, c in tiles], cols=len(tiles), tile=256)


def assess_volume_folder(assessor: Any, input_dir: str | Path, output_dir: str | Path, montages: bool = True) -> Path:
    """Assess every series in ``input_dir``; write results and montages to ``output_dir``; return results.json."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for key, src in tqdm(find_series(input_dir).items(), desc="assess", unit="series"):
        try:
            vol = read_volume(src)
            r = assessor.assess(vol)
        except (VolumeReadError, ValueError) as exc:
            results[key] = {"error": str(exc)}
            continue
        results[key] = r.to_dict()
        if montages:
            name = key.replace("/", "__").replace("#", "_")
            save_png(slice_montage(vol, r), out / "montages" / f"{name}.png")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    with (out / "results.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["series", "score", "grade", "modality", "out_of_distribution", "error"])
        for k, v in results.items():
            params = v.get("params", {})
            w.writerow(
                [
                    k,
                    v.get("score", ""),
                    v.get("grade", ""),
                    params.get("prompt", {}).get("modality", ""),
                    params.get("out_of_distribution", ""),
                    v.get("error", ""),
                ]
            )
    return out / "results.json"


def evaluate_score_csv(assessor: Any, csv_path: str | Path, output: str | Path | None = None) -> dict[str, Any]:
    """PLCC / SRCC / KRCC / RMSE and grade agreement against expert scores (``path, score[, modality, anatomy]``).

    Relative paths are resolved against the CSV's folder; ``modality``/``anatomy`` columns become prompt overrides.
    """
    from monai_fiqa.data.quality_csv import read_score_csv
    from monai_fiqa.metrics.functional import grade_accuracy, krcc, plcc, rmse, srcc
    from monai_fiqa.synth.pseudo_mos import grade_from_score

    pred, target, errors = [], [], {}
    for row in read_score_csv(csv_path):
        try:
            r = assessor.assess(row.path, prompt=row.prompt or None, quality_map=False)
        except (VolumeReadError, ValueError) as exc:
            errors[str(row.path)] = str(exc)
            continue
        pred.append(r.score)
        target.append(row.score)
    p, t = np.asarray(pred), np.asarray(target)
    th = assessor.thresholds
    metrics: dict[str, Any] = {"n": len(p), "errors": errors}
    if len(p) > 2:
        metrics |= {"plcc": plcc(p, t), "srcc": srcc(p, t), "krcc": krcc(p, t), "rmse": rmse(p, t)}
        metrics["grade_accuracy"] = grade_accuracy(
            [grade_from_score(x, th) for x in p], [grade_from_score(x, th) for x in t]
        )
    if output is not None:
        Path(output).write_text(json.dumps(metrics, indent=2))
    return metrics
