"""monai-fiqa MONAI Label app: every installed quality bundle as an infer task (quality map as a label).

Start: ``monailabel start_server --app app_packages/monailabel_app --studies IMAGES`` (in the label environment,
``make label-env``); 3D Slicer's MONAI Label module then lists ``fundus_efiqa`` / ``fundus_fthnet`` (2D) and
``ctmr_mediqa`` (3D) and shows the returned label with the score and grade.
"""

from __future__ import annotations

import logging
from typing import Any

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
        tasks = {name: QualityMapTask(name, dim, desc) for name, (dim, desc) in TASKS.items() if name in installed}
        logger.info("quality tasks: %s", ", ".join(tasks) or "none (no bundle with weights installed)")
        return tasks
