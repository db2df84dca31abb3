"""monai-fiqa MONAI Label app: every installed quality bundle as an infer task (quality map as a label).

Start: ``monailabel start_server --app app_packages/monailabel_app --studies IMAGES [--conf models ctmr_mediqa]
[--conf device cuda]`` (in the label environment, ``make label-env``); 3D Slicer's MONAI Label module then lists
``fundus_efiqa`` / ``fundus_fthnet`` (2D) and ``ctmr_mediqa`` (3D) and shows the returned label, its segment names
carrying the score and grade.  ``--conf models`` takes a comma-separated list (default: every installed bundle),
as the radiology sample app does; ``--conf device`` picks the torch device (default: CUDA when available).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from lib.quality_task import QualityMapTask
from monailabel.interfaces.app import MONAILabelApp

import monai_fiqa

logger = logging.getLogger(__name__)

TASKS = {
    "fundus_efiqa": (2, "Fundus quality map from anatomical priors (EFIQA); label 1 fair, 2 poor"),
    "fundus_fthnet": (2, "Fundus quality score (FTHNet) with a coarse map; label 1 fair, 2 poor"),
    "ctmr_mediqa": (3, "CT/MR quality (MedIQA) on 7 salient slices; label 1 fair, 2 poor"),
}


class FiqaLabelApp(MONAILabelApp):
    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="monai-fiqa",
            description="Image quality maps for fundus photographs and CT/MR (monai-fiqa bundles)",
            version=monai_fiqa.__version__,
        )

    def init_infers(self) -> dict[str, Any]:
        installed = monai_fiqa.available_bundles()
        wanted = [m.strip() for m in str(self.conf.get("models", "") or "").split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(TASKS))
        if unknown:
            raise ValueError(f"--conf models: unknown {unknown}; available: {', '.join(TASKS)}")
        device = str(self.conf.get("device", "") or ("cuda" if torch.cuda.is_available() else "cpu"))
        tasks = {
            name: QualityMapTask(name, dim, desc, device=device)
            for name, (dim, desc) in TASKS.items()
            if name in installed and (not wanted or name in wanted)
        }
        logger.info("quality tasks: %s", ", ".join(tasks) or "none (no bundle with weights installed)")
        return tasks
