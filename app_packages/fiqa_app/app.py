"""The monai-fiqa MONAI Deploy application: this file only wires operators (see ``monai_fiqa.deploy.operators``).

Run from the repository root: ``python -m app_packages.fiqa_app -i IN -o OUT [-m BUNDLES]``, or inside this folder:
``python app.py -i IN -o OUT``.  ``-m`` names a folder of bundles (a MAP's models folder); otherwise the installed
bundles are used.  Environment: ``FIQA_SERIES_RULES`` (selection and routing rules JSON, default the package's
``monai_fiqa/deploy/series_rules.json``),
``FIQA_PACS`` (``AE@host:port``: C-STORE the DICOM outputs there), ``FIQA_DEVICE`` (torch device, default cpu).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from monai.deploy.conditions import CountCondition
from monai.deploy.core import AppContext, Application, init_app_context
from monai.deploy.operators import DICOMSeriesSelectorOperator

import monai_fiqa
from monai_fiqa.api import BUNDLE_PATH_ENV
from monai_fiqa.deploy.operators import (
    BundleInferenceOperator,
    ItemLoaderOperator,
    QCReportOperator,
    QualityRouterOperator,
    QualityWriterOperator,
    StudyInventoryOperator,
)
from monai_fiqa.deploy.preflight import PreflightError, check_configuration, output_lock
from monai_fiqa.deploy.report import EXIT_CODES, exit_code_of
from monai_fiqa.deploy.series_rules import load_rules

RULES_ENV = "FIQA_SERIES_RULES"


class FundusCTMRQualityApp(Application):
    """Scores every series of a study with the matching quality bundle and writes SR, SEG and SC objects."""

    name = "monai-fiqa"
    description = "Image quality (score, grade, quality map) for fundus photographs and CT/MR series"
    version = monai_fiqa.__version__

    def compose(self) -> None:
        ctx: AppContext = init_app_context(sys.argv)
        logging.getLogger("highdicom").setLevel(logging.WARNING)  # its INFO lines name source instance UIDs
        out = self.out_folder = Path(ctx.output_path)
        if ctx.model_path and Path(ctx.model_path).is_dir():  # a MAP's models folder holds our bundles
            os.environ[BUNDLE_PATH_ENV] = os.pathsep.join(
                filter(None, [ctx.model_path, os.environ.get(BUNDLE_PATH_ENV)])
            )
        rules = load_rules(os.environ.get(RULES_ENV) or None)  # checked by the preflight before the run
        device = os.environ.get("FIQA_DEVICE", "cpu")

        inventory = StudyInventoryOperator(
            self, CountCondition(self, 1), input_folder=Path(ctx.input_path), name="inventory"
        )
        selector = DICOMSeriesSelectorOperator(
            self, rules=rules.selector_json(), all_matched=True, name="series_selector"
        )
        router = QualityRouterOperator(self, rules=rules, name="router")
        fundus_loader = ItemLoaderOperator(self, name="fundus_loader")
        volume_loader = ItemLoaderOperator(self, name="volume_loader")
        fundus_model = BundleInferenceOperator(self, device=device, name="fundus_inference")
        ctmr_model = BundleInferenceOperator(self, device=device, name="ctmr_inference")
        writer = QualityWriterOperator(self, output_folder=out, name="dicom_writer")
        report = QCReportOperator(self, output_folder=out, pacs=os.environ.get("FIQA_PACS") or None, name="qc_report")

        self.add_flow(inventory, selector, {("dicom_study_list", "dicom_study_list")})
        self.add_flow(inventory, router, {("inventory", "inventory")})
        self.add_flow(selector, router, {("study_selected_series_list", "study_selected_series_list")})
        self.add_flow(router, fundus_loader, {("fundus_items", "items")})
        self.add_flow(router, volume_loader, {("ctmr_items", "items")})
        self.add_flow(fundus_loader, fundus_model, {("items", "items")})
        self.add_flow(volume_loader, ctmr_model, {("items", "items")})
        self.add_flow(fundus_model, writer, {("items", "fundus_items")})
        self.add_flow(ctmr_model, writer, {("items", "ctmr_items")})
        self.add_flow(router, writer, {("other_items", "other_items")})
        self.add_flow(writer, report, {("outcomes", "outcomes")})
        logging.info("composed %s: input %s, output %s", self.name, ctx.input_path, out)


def main() -> int:
    """Run the app.  Exit status (``monai_fiqa.deploy.report.EXIT_CODES``, docs/deploy.md): 0 every assessable item
    assessed; 1 none; 2 configuration error, nothing ran (unwritable output, malformed FIQA_PACS or
    FIQA_SERIES_RULES, another run on the same output folder); 3 partial; 4 assessed but a PACS store failed."""
    app = FundusCTMRQualityApp()
    try:
        out = Path(_output_arg(sys.argv))
        check_configuration(out, os.environ.get("FIQA_PACS") or None, os.environ.get(RULES_ENV) or None)
        with output_lock(out):
            app.run()
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CODES["configuration"]
    return exit_code_of(app.out_folder)


def _output_arg(argv: list[str]) -> str:
    """The ``-o/--output`` folder (the SDK's default ``output`` when absent), needed before the SDK parses it."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--output="):
            return arg.split("=", 1)[1]
    return os.environ.get("HOLOSCAN_OUTPUT_PATH", "output")


if __name__ == "__main__":
    sys.exit(main())
