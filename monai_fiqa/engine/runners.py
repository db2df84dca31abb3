"""Run any assessor over a folder (``monai.bundle run``) or a labelled CSV (evaluation): one runner for every model.

Why one: every bundle's ``inference.json`` and ``evaluate.json`` wire these two functions, so a folder run and an
evaluation behave the same whichever model is inside.  What differs between a photograph model and a volume model
is only what an *item* is (an image file, or a NIfTI file / DICOM series) and what picture is saved beside its
result (the map over the photograph, or a montage of the scored slices): :class:`_ItemKind` holds exactly that.

A bad item is reported with its error and the run goes on.  No patient identity is written: items are named by
their path relative to the input folder.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from tqdm import tqdm

from monai_fiqa.io.images import ImageReadError, read_rgb
from monai_fiqa.io.quality_csv import read_quality_csv, read_score_csv
from monai_fiqa.io.volumes import Volume, VolumeReadError, read_volume
from monai_fiqa.metrics.functional import grade_accuracy, krcc, plcc, rmse, srcc
from monai_fiqa.results import QualityResult, grade_from_score
from monai_fiqa.viz import overlay_map, save_png

__all__ = [
    "ASSESS_ERRORS",
    "IMAGE_SUFFIXES",
    "ResultsWriter",
    "assess_folder",
    "evaluate_csv",
    "find_images",
    "find_items",
    "find_series",
    "input_kind",
    "photo_overlay",
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".dcm"}
ASSESS_ERRORS = (ImageReadError, VolumeReadError, ValueError)


def input_kind(assessor: Any) -> str:
    """``"image"`` (fundus photographs) or ``"volume"`` (CT/MR), as the assessor declares it."""
    kind = getattr(assessor, "input_kind", "image")
    if kind not in ("image", "volume"):
        raise ValueError(f"assessor input_kind must be 'image' or 'volume', got {kind!r}")
    return kind


def find_images(folder: str | Path) -> dict[str, Path]:
    """Image files of a folder (recursively), by path relative to it."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return {str(p.relative_to(root)): p for p in files}


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


@dataclass(frozen=True)
class _ItemKind:
    """What differs between photograph and volume runs."""

    find: Callable[[str | Path], dict[str, Any]]
    read: Callable[[Any], Any]  # the item as the assessor takes it
    picture: Callable[[Any, QualityResult], np.ndarray | None]  # saved beside the result, unless the assessor has
    # a ``preview(item, result)`` of its own
    picture_name: Callable[[str], str]  # item key -> relative PNG path
    csv_columns: tuple[str, ...]


def photo_overlay(photo: Any, result: QualityResult) -> np.ndarray | None:
    """The picture beside a photograph's result: its quality map over the photograph (a ``FundusInput`` or array)."""
    if result.quality_map is None:
        return None
    return overlay_map(np.asarray(getattr(photo, "image", photo)), result.quality_map)


def _image_picture(path: Path, r: QualityResult) -> np.ndarray | None:
    return photo_overlay(read_rgb(path)[0], r)


def _volume_picture(vol: Volume, r: QualityResult) -> np.ndarray | None:
    return None  # replaced by the assessor's own ``preview`` (MedIQA: a montage of the scored slices)


_KINDS = {
    "image": _ItemKind(
        find_images,
        lambda p: p,
        _image_picture,
        lambda key: f"maps/{key.replace('/', '__').rsplit('.', 1)[0]}_overlay.png",
        ("image", "score", "grade", "out_of_distribution", "error"),
    ),
    "volume": _ItemKind(
        find_series,
        read_volume,
        _volume_picture,
        lambda key: f"montages/{key.replace('/', '__').replace('#', '_')}.png",
        ("series", "score", "grade", "modality", "out_of_distribution", "error"),
    ),
}


def _csv_row(key: str, v: dict[str, Any], columns: Iterable[str]) -> list[Any]:
    params = v.get("params", {})
    values = {
        "score": v.get("score", ""),
        "grade": v.get("grade", ""),
        "modality": params.get("prompt", {}).get("modality", ""),
        "out_of_distribution": params.get("out_of_distribution", ""),
        "error": v.get("error", ""),
    }
    return [key if i == 0 else values[c] for i, c in enumerate(columns)]


def _kind(kind: str) -> _ItemKind:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    return _KINDS[kind]


def find_items(folder: str | Path, kind: str) -> dict[str, Any]:
    """The items of a folder run, by path relative to ``folder``: photographs (``kind="image"``) or NIfTI files and
    DICOM series (``kind="volume"``)."""
    return _kind(kind).find(folder)


class ResultsWriter:
    """``results.json``, ``results.csv`` and a picture per item in ``output_dir``: what a folder run leaves behind.

    One writer for :func:`assess_folder` and for the bundle workflow's
    :class:`~monai_fiqa.engine.workflow.QualityResultWriter`, so both runs write the same files.
    """

    def __init__(self, output_dir: str | Path, kind: str) -> None:
        self.out, self.kind = Path(output_dir), _kind(kind)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {}

    def add(self, key: str, result: QualityResult | None, error: str | None = None, picture: np.ndarray | None = None):
        """Record one item: its result (and picture), or the error that stopped it."""
        if result is None:
            self.results[key] = {"error": error or "not assessed"}
            return
        self.results[key] = result.to_dict()
        if picture is not None:
            save_png(picture, self.out / self.kind.picture_name(key))

    def close(self) -> Path:
        """Write ``results.json`` and ``results.csv``; returns the path of ``results.json``."""
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2))
        with (self.out / "results.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.kind.csv_columns)
            for k, v in self.results.items():
                w.writerow(_csv_row(k, v, self.kind.csv_columns))
        return self.out / "results.json"


def assess_folder(assessor: Any, input_dir: str | Path, output_dir: str | Path, maps: bool = True) -> Path:
    """Assess every item of ``input_dir``; write ``results.json``, ``results.csv`` and a picture per item.

    Items are image files for photograph models and NIfTI files / DICOM series for volume models
    (:func:`input_kind`); pictures are map overlays (``maps/``) or slice montages (``montages/``).

    Returns:
        Path of ``results.json``.
    """
    kind_name = input_kind(assessor)
    kind = _KINDS[kind_name]
    writer = ResultsWriter(output_dir, kind_name)
    for key, src in tqdm(kind.find(input_dir).items(), desc="assess", unit="item"):
        try:
            item = kind.read(src)
            r = assessor.assess(item)
        except ASSESS_ERRORS as exc:
            writer.add(key, None, str(exc))
            continue
        make_picture = getattr(assessor, "preview", kind.picture)  # a model may draw its own (slice montages)
        writer.add(key, r, picture=make_picture(item, r) if maps else None)
    return writer.close()


def _labelled_rows(assessor: Any, csv_path: str | Path) -> list[tuple[Path, float, str | None, dict[str, str]]]:
    """(path, true score, true grade or None, prompt) per CSV row: FQS/EyeQ style for photographs,
    ``path, score[, modality, anatomy]`` for volumes."""
    if input_kind(assessor) == "image":
        return [(r.path, r.mos, r.grade, {}) for r in read_quality_csv(csv_path)]
    return [(r.path, r.score, None, r.prompt) for r in read_score_csv(csv_path)]


def evaluate_csv(assessor: Any, csv_path: str | Path, output: str | Path | None = None) -> dict[str, Any]:
    """PLCC / SRCC / KRCC / RMSE against the CSV's scores and grade accuracy, through the full ``assess`` path.

    The predicted grade is the assessor's own (its thresholds, and ``reject`` for out-of-distribution input); a
    row without a grade gets one from its true score and the same thresholds.  Rows that fail are listed under
    ``errors`` and left out of the metrics.
    """
    th = assessor.thresholds
    pred, target, grades_p, grades_t, errors = [], [], [], [], {}
    volume = input_kind(assessor) == "volume"
    for path, truth, grade, prompt in tqdm(_labelled_rows(assessor, csv_path), desc="evaluate", unit="item"):
        try:
            r = assessor.assess(path, prompt=prompt or None, quality_map=False) if volume else assessor.assess(path)
        except ASSESS_ERRORS as exc:
            errors[str(path)] = str(exc)
            continue
        pred.append(r.score)
        target.append(truth)
        grades_p.append(r.grade)
        grades_t.append(grade or grade_from_score(truth, th))
    p, t = np.asarray(pred), np.asarray(target)
    metrics: dict[str, Any] = {"n": len(p), "errors": errors}
    if len(p) > 2:
        metrics |= {"plcc": plcc(p, t), "srcc": srcc(p, t), "krcc": krcc(p, t), "rmse": rmse(p, t)}
        metrics["grade_accuracy"] = grade_accuracy(grades_p, grades_t)
    if output is not None:
        Path(output).write_text(json.dumps(metrics, indent=2))
    return metrics
