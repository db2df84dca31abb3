"""What the application's steps pass along: one :class:`WorkItem` per series or file, one :class:`ModelRun` per
bundle on it (its own module so that the steps and the writers both import it, neither the other)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from monai_fiqa.io.volumes import Volume
from monai_fiqa.results import QualityResult

__all__ = ["ModelRun", "WorkItem"]


@dataclass
class ModelRun:
    """One bundle's result on one item and the files written from it."""

    bundle: str
    version: str
    result: QualityResult | None = None
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    preview: str | None = None  # PNG (overlay or montage), relative to the output folder
    output_errors: dict[str, str] = field(default_factory=dict)  # object kind (SR/SEG/SC) -> why it was not written
    seconds: float = 0.0


@dataclass
class WorkItem:
    """One series or file and everything learned about it.

    Attributes:
        key: what reports call it (modality, series number and description, or the file path; no patient data).
        kind: "dicom", "photo" or "nifti".
        datasets: the series' instances (DICOM).
        path: the file (photo, NIfTI) or the series' first file.
        modality: DICOM Modality, or what the file kind implies.
        family: "fundus" or "ctmr" once routed; None when unsupported.
        status: "pending", "done", "failed", "unsupported" or "skipped" (hidden files: listed, not counted).
        error: why it failed or is unsupported.
        image: loaded (H, W, 3) uint8 photograph (fundus).
        volume: loaded volume (CT/MR); ``sources`` the instances in its z order.
        runs: one :class:`ModelRun` per bundle.
    """

    key: str
    kind: str
    datasets: list[pydicom.Dataset] = field(default_factory=list)
    path: Path | None = None
    modality: str = ""
    family: str | None = None
    status: str = "pending"
    error: str | None = None
    image: np.ndarray | None = None
    volume: Volume | None = None
    sources: list[pydicom.Dataset] = field(default_factory=list)
    frame_of_slice: list[int] | None = None  # enhanced multi-frame source: the frame each volume slice came from
    frame: int | None = None  # one frame (0-based) of a multi-frame photograph; None: the whole instance
    runs: list[ModelRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def slug(self) -> str:
        """A file-system-safe name for this item's outputs, unique within a run."""
        base = re.sub(r"[^A-Za-z0-9]+", "_", self.key.split(" (")[0]).strip("_")[:48]
        if len(self.datasets) == 1:  # one instance (a photograph of a series that holds several), or one frame
            sop = self.datasets[0].get("SOPInstanceUID", "")
            ident = sop if self.frame is None else f"{sop}/frame {self.frame}"
        else:
            ident = self.datasets[0].get("SeriesInstanceUID", "") if self.datasets else str(self.path)
        return f"{base}_{hashlib.sha1(str(ident).encode()).hexdigest()[:8]}"

    def fail(self, status: str, reason: str) -> None:
        self.status, self.error = status, reason

    def summary(self) -> dict[str, Any]:
        """JSON view for the run report."""
        return {
            "item": self.key,
            "kind": self.kind,
            "modality": self.modality,
            "instances": len(self.datasets),
            "route": self.family,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "models": [
                {
                    "bundle": r.bundle,
                    "version": r.version,
                    "error": r.error,
                    "outputs": r.outputs,
                    "output_errors": r.output_errors,
                    "preview": r.preview,
                    "seconds": round(r.seconds, 3),
                    **(r.result.to_dict() if r.result is not None else {}),
                }
                for r in self.runs
            ],
        }
