"""Read quality-labelled image lists from CSV files, whatever their flavour.

Why one reader: sites have FQS-style tables (``path, mos[, level]``), EyeQ-style ones (``path, label`` with
0 = good, 1 = usable, 2 = reject) or the ``labels.csv`` written by ``monai-fiqa synth``; the training command takes
any of them.  Relative paths resolve against the CSV's folder.  Grade-only rows get a documented MOS per level
(:data:`EYEQ_LEVEL_MOS`, the middle of each grade's pseudo-MOS band) so one regression loss serves both.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EYEQ_LEVEL_MOS", "QualityRecord", "ScoreRow", "read_quality_csv", "read_score_csv", "split_by_source"]

_PATH_COLS = ("image", "path", "filename", "file", "image_path")
_MOS_COLS = ("mos", "score", "MOS", "quality")
_LEVEL_COLS = ("level", "label", "grade", "quality_level")
EYEQ_LEVEL_MOS = {"good": 80.0, "usable": 57.5, "reject": 25.0}
_LEVEL_NAMES = {"0": "good", "1": "usable", "2": "reject", "good": "good", "usable": "usable", "reject": "reject"}


@dataclass(frozen=True)
class QualityRecord:
    """One labelled image: absolute path, MOS (0-100), grade if known, the source it was made from, the raw row.

    ``row`` keeps the CSV's other columns (for ``monai-fiqa synth`` sets: the clean source and the anatomy), which
    lets training compute labels for zoomed views.
    """

    path: Path
    mos: float
    grade: str | None
    source: str
    row: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


def _pick(row: dict[str, str], names: Sequence[str]) -> str | None:
    for n in names:
        if n in row and row[n] != "":
            return row[n]
    return None


def read_quality_csv(path: str | Path) -> list[QualityRecord]:
    """Read one CSV into records.

    Raises:
        ValueError: no path column, or a row with neither a MOS nor a known grade.
    """
    p = Path(path)
    with p.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    if not any(c in rows[0] for c in _PATH_COLS):
        raise ValueError(f"{p}: no image path column (expected one of {_PATH_COLS})")
    out = []
    for i, row in enumerate(rows):
        rel = _pick(row, _PATH_COLS)
        mos_s, level_s = _pick(row, _MOS_COLS), _pick(row, _LEVEL_COLS)
        grade = _LEVEL_NAMES.get(level_s.strip().lower()) if level_s is not None else None
        if mos_s is not None:
            mos = float(mos_s)
        elif grade is not None:
            mos = EYEQ_LEVEL_MOS[grade]
        else:
            raise ValueError(f"{p}: row {i + 2} has neither a MOS nor a grade")
        img = Path(rel) if Path(rel).is_absolute() else p.parent / rel
        source = row.get("source") or img.name
        if source == "synthetic":  # every rendered image is its own scene
            source = img.name
        out.append(QualityRecord(img, mos, grade, source, {**row, "_csv_dir": str(p.parent)}))
    return out


def split_by_source(
    records: Sequence[QualityRecord], fractions: Sequence[float] = (0.8, 0.15, 0.05), seed: int = 0, fold: int = 0
) -> list[list[QualityRecord]]:
    """Split records into parts (train/val/test by default 80/15/5, as in the FTHNet paper) by *source*.

    Why by source: degraded copies of one photograph are near-duplicates; if they fell on both sides, validation
    would measure memory, not generalisation.  ``fold`` rotates the shuffled source list, giving k-fold splits.
    """
    sources = sorted({r.source for r in records})
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(sources)))
    shift = int(round(fold * len(sources) * fractions[-1])) if len(fractions) > 1 else 0
    order = order[shift:] + order[:shift]
    bounds = np.cumsum([0.0, *fractions]) / sum(fractions) * len(sources)
    groups = [
        {sources[j] for j in order[int(round(a)) : int(round(b))]} for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return [[r for r in records if r.source in g] for g in groups]


@dataclass(frozen=True)
class ScoreRow:
    """One row of a CT/MR expert-score CSV: the series, its score, and prompt overrides from the row."""

    path: Path
    score: float
    prompt: dict[str, str]


def read_score_csv(csv_path: str | Path) -> list[ScoreRow]:
    """Read ``path, score[, modality, anatomy]`` (header names case-insensitive; ``image`` also names the path).

    Relative paths are resolved against the CSV's folder; ``modality``/``anatomy`` cells become prompt overrides.
    """
    root = Path(csv_path).parent
    rows = []
    with open(csv_path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            path = Path(row.get("path") or row.get("image") or "")
            prompt = {k: row[k] for k in ("modality", "anatomy") if row.get(k)}
            rows.append(ScoreRow(path if path.is_absolute() else root / path, float(row["score"]), prompt))
    return rows
