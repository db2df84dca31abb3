"""A MONAI Label infer task that runs a monai-fiqa bundle and returns its quality map as a label.

Why a segmentation-type task: 3D Slicer's MONAI Label module lists only segmentation models, so the quality map is
returned as a label volume on the image's geometry - 1 = "fair quality" (map < 0.75), 2 = "poor quality"
(map < 0.5), 0 elsewhere - and the score, grade and everything else the model reports travel in the response
``params`` (Slicer shows them; the REST client gets them as JSON).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType
from PIL import Image

import monai_fiqa

logger = logging.getLogger(__name__)

LABELS = {"fair quality": 1, "poor quality": 2}
FAIR, POOR = 0.75, 0.5


def quality_to_label(quality_map: np.ndarray) -> np.ndarray:
    """(..., ) map in [0, 1] (1 = good) -> uint8 label: 0 good, 1 fair (< 0.75), 2 poor (< 0.5)."""
    label = np.zeros(quality_map.shape, np.uint8)
    label[quality_map < FAIR] = 1
    label[quality_map < POOR] = 2
    return label


def labels_with_result(score: float, grade: str) -> dict[str, int]:
    """Segment names that carry the result, e.g. ``"poor quality | score 42 reject"`` -> 2."""
    return {f"{name} | score {score:.0f} {grade}": value for name, value in LABELS.items()}


class QualityMapTask(InferTask):
    """Runs one bundle (``fundus_efiqa``, ``fundus_fthnet`` or ``ctmr_mediqa``) on the requested image."""

    def __init__(self, bundle: str, dimension: int, description: str, device: str = "cpu") -> None:
        super().__init__(
            type=InferType.SEGMENTATION,
            labels=LABELS,
            dimension=dimension,
            description=description,
            config={"prompt_modality": "", "prompt_anatomy": ""},
        )
        self.bundle, self.device = bundle, device
        self._assessor: Any = None

    def is_valid(self) -> bool:
        return self.bundle in monai_fiqa.available_bundles()

    def _model(self) -> Any:
        if self._assessor is None:
            self._assessor = monai_fiqa.load(self.bundle, device=self.device)
        return self._assessor

    def __call__(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        t0 = time.perf_counter()
        image = Path(request["image"])
        if self.dimension == 3:
            prompt = {k: request[f"prompt_{k}"] for k in ("modality", "anatomy") if request.get(f"prompt_{k}")}
            result = self._model().assess(str(image), prompt=prompt or None)
            ref = nib.load(str(image))
            label = quality_to_label(result.quality_map).reshape(ref.shape[:3])
            out = tempfile.NamedTemporaryFile(suffix=".nii.gz", delete=False).name
            nib.save(nib.Nifti1Image(label, ref.affine), out)
        else:
            result = self._model().assess(str(image))
            out = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
            Image.fromarray(quality_to_label(result.quality_map)).save(out)
        params = {
            "bundle": self.bundle,
            "score": round(float(result.score), 2),
            "grade": result.grade,
            # Slicer names the segments after label_names: the score and grade are read where the map is shown
            "label_names": labels_with_result(result.score, result.grade),
            "result": result.to_dict()["params"],
            "latencies": {"total": round(time.perf_counter() - t0, 3)},
        }
        logger.info("%s: score %.1f (%s)", self.bundle, result.score, result.grade)  # no patient data
        return out, params
