"""What an assessment returns (:class:`QualityResult`) and how a score becomes a grade.

Why a module of its own: every model, runner, writer and the Deploy app speak this vocabulary, so it sits at the
bottom of the package and imports nothing of it.  Grade thresholds are not facts of this module: each bundle's
``configs/inference.json`` holds its own (the bundle is the source of truth) and passes them to its assessor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GRADES", "QualityResult", "Scored", "grade_from_score", "require_thresholds"]

GRADES = ("good", "usable", "reject")


@dataclass
class QualityResult:
    """The result of assessing one image.

    Attributes:
        score: quality in [0, 100], higher is better.
        grade: ``good``, ``usable`` or ``reject``.
        quality_map: float32 map of the input's spatial size, 1 = good; ``None`` only for models without one.
        params: anything else the model reports (estimated physical parameters, warnings, model name/version).
    """

    score: float
    grade: str
    quality_map: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (the map is summarised, not embedded)."""
        out: dict[str, Any] = {"score": round(float(self.score), 3), "grade": self.grade, "params": self.params}
        if self.quality_map is not None:
            out["quality_map_shape"] = list(self.quality_map.shape)
        return out


def grade_from_score(score: float, thresholds: Mapping[str, float]) -> str:
    """Map a 0-100 score to ``good`` (>= ``thresholds["good"]``), ``usable`` (>= ``thresholds["usable"]``) or
    ``reject``."""
    if score >= thresholds["good"]:
        return "good"
    if score >= thresholds["usable"]:
        return "usable"
    return "reject"


def require_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """Validate an assessor's grade thresholds: ``good`` >= ``usable``, both in [0, 100].

    Raises:
        ValueError: missing (they come from the bundle's ``inference.json``) or inconsistent.
    """
    if thresholds is None or not {"good", "usable"} <= set(thresholds):
        raise ValueError(
            "grade thresholds {'good': G, 'usable': U} are required: take them from the bundle's "
            "configs/inference.json (monai_fiqa.load does)"
        )
    good, usable = float(thresholds["good"]), float(thresholds["usable"])
    if not 0.0 <= usable <= good <= 100.0:
        raise ValueError(f"grade thresholds must satisfy 0 <= usable <= good <= 100, got {dict(thresholds)}")
    return {"good": good, "usable": usable}


@dataclass
class Scored:
    """What a model's inferer returns: score, map and params, before the bundle's thresholds grade it.

    Why separate from :class:`QualityResult`: grading is the one step every model shares and its thresholds belong
    to the bundle, so inferers stop here and :meth:`graded` (an assessor, or the workflow's ``GradeQualityd``)
    finishes.  An input flagged out of distribution (``params["warnings"]`` not empty) is graded ``reject``.
    """

    score: float
    quality_map: np.ndarray | None
    params: dict[str, Any]

    def graded(self, thresholds: Mapping[str, float]) -> QualityResult:
        """The result with its grade: ``reject`` for a flagged input, else by ``thresholds``."""
        flagged = bool(self.params.get("warnings"))
        grade = "reject" if flagged else grade_from_score(self.score, thresholds)
        return QualityResult(self.score, grade, self.quality_map, self.params)
