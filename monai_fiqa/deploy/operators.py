"""MONAI Deploy App SDK operators of the quality application; each wraps one step of :mod:`monai_fiqa.deploy.pipeline`.

Graph (``app_packages/fiqa_app/app.py``)::

    StudyInventoryOperator --dicom_study_list--> DICOMSeriesSelectorOperator (SDK, rules JSON)
            |  inventory                                  | study_selected_series_list
            +--------------------> QualityRouterOperator <+
                                      | fundus_items   | ctmr_items   | other_items
                           ItemLoaderOperator   ItemLoaderOperator      |
                                      |                |                    |
                          BundleInferenceOperator  BundleInferenceOperator  |
                                (fundus)             (ctmr)                 |
                                      +------> QualityWriterOperator <------+
                                                       | outcomes
                                              QCReportOperator (HTML + JSON report, optional C-STORE)

Why our own inventory operator instead of the SDK's ``DICOMDataLoaderOperator``: that loader drops unreadable
files with a log line, and this app must report them; ours subclasses it to reuse its study/series attribute
population, so the SDK's series selector works on its objects unchanged.  Why our own loader: the SDK's
``DICOMSeriesToVolumeOperator`` handles monochrome data only, and ours applies the same input checks as the API.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from monai.deploy.core import Fragment, Operator, OperatorSpec
from monai.deploy.core.domain.dicom_series import DICOMSeries
from monai.deploy.core.domain.dicom_study import DICOMStudy
from monai.deploy.operators import DICOMDataLoaderOperator

from monai_fiqa.deploy import pipeline as pl
from monai_fiqa.deploy.inventory import Inventory, take_inventory
from monai_fiqa.deploy.series_rules import SeriesRules

__all__ = [
    "BundleInferenceOperator",
    "ItemLoaderOperator",
    "QCReportOperator",
    "QualityRouterOperator",
    "QualityWriterOperator",
    "StudyInventoryOperator",
]

_log = logging.getLogger(__name__)


class StudyInventoryOperator(DICOMDataLoaderOperator):
    """Reads every file of the input once; emits the SDK's study list and the full :class:`Inventory`."""

    def __init__(self, fragment: Fragment, *args: Any, input_folder: Path, **kwargs: Any) -> None:
        super().__init__(fragment, *args, input_folder=input_folder, must_load=False, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.output("dicom_study_list")
        spec.output("inventory")

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        inv = take_inventory(self.input_path)
        studies: dict[str, DICOMStudy] = {}
        series: dict[str, DICOMSeries] = {}
        for ds in inv.dicom.values():
            st_uid, se_uid = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
            if st_uid not in studies:
                studies[st_uid] = DICOMStudy(st_uid)
                self.populate_study_attributes(studies[st_uid], ds)
            if se_uid not in series:
                series[se_uid] = DICOMSeries(se_uid)
                try:
                    self.populate_series_attributes(series[se_uid], ds)
                except (TypeError, ValueError) as exc:  # e.g. an empty SeriesNumber; the router reports the series
                    _log.warning("series attributes incomplete (%s): the selection rules may not match it", exc)
                studies[st_uid].add_series(series[se_uid])
            series[se_uid].add_sop_instance(ds)
        _log.info(
            "inventory: %d DICOM files in %d series, %d photographs, %d NIfTI, %d unreadable",
            len(inv.dicom),
            len(series),
            len(inv.photos),
            len(inv.volumes),
            len(inv.unreadable),
        )
        op_output.emit(list(studies.values()), "dicom_study_list")
        op_output.emit(inv, "inventory")


class QualityRouterOperator(Operator):
    """Turns the selected series and loose files into work items and routes them by modality/photometry/dims.

    Series the rules did not select, unsupported series and unreadable files go to ``other_items`` with the reason.
    ``rules``: the parsed ``series_rules.json`` (the same file whose ``selections`` the SDK selector got).
    """

    def __init__(self, fragment: Fragment, *args: Any, rules: SeriesRules, **kwargs: Any) -> None:
        self.rules = rules
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("study_selected_series_list")
        spec.input("inventory")
        spec.output("fundus_items")
        spec.output("ctmr_items")
        spec.output("other_items")

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        selected = op_input.receive("study_selected_series_list") or []
        inv: Inventory = op_input.receive("inventory")
        chosen: dict[str, list[Any]] = {}
        for study_sel in selected:
            for sel in study_sel.selected_series:
                chosen[sel.series.SeriesInstanceUID] = [
                    s.get_native_sop_instance() for s in sel.series.get_sop_instances()
                ]
        by_series: dict[str, list[Any]] = {}
        for ds in inv.dicom.values():
            by_series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
        items = pl.dicom_items(list(chosen.values()), self.rules)
        items += pl.file_items(inv.photos, inv.volumes, inv.name)
        other = []
        for uid, sops in by_series.items():
            if uid not in chosen:
                for item in pl.dicom_items([sops], self.rules):
                    if pl.route(item, self.rules).status == "pending":  # assessable, but the rules left it out
                        item.family = None
                        item.fail("unsupported", "not selected by the series selection rules")
                    other.append(item)
        for path, reason in inv.unreadable.items():
            item = pl.WorkItem(inv.name(path), "file", path=path)
            item.fail("failed", reason)
            other.append(item)
        for path, reason in inv.skipped.items():  # accounted for in the report, not a failure
            item = pl.WorkItem(inv.name(path), "file", path=path)
            item.fail("skipped", reason)
            other.append(item)
        for item in items:
            pl.route(item, self.rules)
        op_output.emit([i for i in items if i.family == "fundus" and i.status == "pending"], "fundus_items")
        op_output.emit([i for i in items if i.family == "ctmr" and i.status == "pending"], "ctmr_items")
        op_output.emit(other + [i for i in items if i.status != "pending"], "other_items")


class _ItemStep(Operator):
    """An operator that applies one pipeline step to every item of its input list."""

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("items")
        spec.output("items")

    def step(self, item: pl.WorkItem) -> pl.WorkItem:
        raise NotImplementedError

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        items = []
        for item in op_input.receive("items"):
            t0 = time.perf_counter()
            items.append(self.step(item))
            item.seconds += time.perf_counter() - t0
        op_output.emit(items, "items")


class ItemLoaderOperator(_ItemStep):
    """Loads pixels: RGB photographs on the fundus path (OP/XC/SC/OT instances, YBR converted by pydicom, and
    PNG/JPEG/TIFF files); checked volumes on the CT/MR path (slices ordered along the normal, NIfTI)."""

    def step(self, item: pl.WorkItem) -> pl.WorkItem:
        return pl.load_item(item)


class BundleInferenceOperator(_ItemStep):
    """Runs every installed bundle of one family (loaded once, on first use) on each item."""

    def __init__(self, fragment: Fragment, *args: Any, device: str = "cpu", **kwargs: Any) -> None:
        self.pool = pl.ModelPool(device)
        super().__init__(fragment, *args, **kwargs)

    def step(self, item: pl.WorkItem) -> pl.WorkItem:
        return pl.assess_item(item, self.pool)


class QualityWriterOperator(Operator):
    """Writes SR / SEG / SC (DICOM sources), previews and NIfTI maps; emits every item, done or not."""

    def __init__(self, fragment: Fragment, *args: Any, output_folder: Path, **kwargs: Any) -> None:
        self.output_folder = Path(output_folder)
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("fundus_items")
        spec.input("ctmr_items")
        spec.input("other_items")
        spec.output("outcomes")

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        done = []
        for port in ("fundus_items", "ctmr_items"):
            for item in op_input.receive(port):
                t0 = time.perf_counter()
                done.append(pl.write_item(item, self.output_folder))
                item.seconds += time.perf_counter() - t0
        op_output.emit(done + list(op_input.receive("other_items")), "outcomes")


class QCReportOperator(Operator):
    """Writes ``run_report.json`` and ``report.html``; optionally C-STOREs the DICOM outputs to a PACS."""

    def __init__(
        self, fragment: Fragment, *args: Any, output_folder: Path, pacs: str | None = None, **kwargs: Any
    ) -> None:
        self.output_folder, self.pacs = Path(output_folder), pacs
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("outcomes")

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        from monai_fiqa.deploy.report import summary_lines, write_reports

        items: list[pl.WorkItem] = op_input.receive("outcomes")
        stored = None
        if self.pacs:
            from monai_fiqa.deploy.pacs import parse_destination, store_outputs

            written = [o for item in items for run in item.runs for o in run.outputs if o.endswith(".dcm")]
            stored = store_outputs(self.output_folder, parse_destination(self.pacs), [Path(o) for o in written])
        report = write_reports(items, self.output_folder, pacs=stored)
        print("\n".join(summary_lines(report, self.output_folder)), flush=True)
