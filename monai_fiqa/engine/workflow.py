"""The MONAI workflow pieces every bundle's configs name: items, their loading, batch preparation, grading, writing.

Why: MONAI's ``create_workflow`` / ``ConfigWorkflow`` and the bundle tools of MONAI Deploy and MONAI Label expect
the standard inference keys (``dataset``, ``preprocessing``, ``inferer``, ``postprocessing``, ``evaluator``).  A
quality assessment fits that shape with three choices, made here once for every model:

* one item per iteration, not collated (``batch_size`` 1, ``monai.data.utils.no_collation``): an item is a
  photograph of any size or a whole volume, not a fixed-shape tensor, so :func:`prepare_item` hands the item dict
  itself to the inferer;
* an item that cannot be read keeps its error through the run (:class:`LoadQualityItemd` records it, the
  :class:`QualityInferer` skips it, :class:`QualityResultWriter` reports it) instead of stopping the run;
* a model's inferer (how the network is applied: views, slices, fusion) returns a :class:`~monai_fiqa.results.Scored`;
  grading with the bundle's thresholds is the shared postprocessing :class:`GradeQualityd`; the writer uses the same
  :class:`~monai_fiqa.engine.runners.ResultsWriter` as :func:`~monai_fiqa.engine.runners.assess_folder`, so a
  ``monai.bundle run`` and a folder run write the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.inferers import Inferer
from monai.transforms import MapTransform

from monai_fiqa.engine import runners
from monai_fiqa.engine.runners import ASSESS_ERRORS, ResultsWriter, photo_overlay
from monai_fiqa.results import QualityResult, Scored, require_thresholds

__all__ = [
    "ERROR_KEY",
    "NAME_KEY",
    "GradeQualityd",
    "LoadQualityItemd",
    "QualityInferer",
    "QualityResultWriter",
    "find_items",
    "network_device",
    "photo_overlay",
    "prepare_item",
]

NAME_KEY = "name"  # the item's path relative to the input folder: how results are keyed (no patient identity)
ERROR_KEY = "error"  # why the item could not be assessed


def find_items(dataset_dir: str | Path, kind: str) -> list[dict[str, Any]]:
    """The dataset of a folder run: ``{"name", "image"}`` per photograph (``kind="image"``) or per NIfTI file /
    DICOM series (``kind="volume"``), in the folder runner's order."""
    return [{NAME_KEY: key, "image": src} for key, src in runners.find_items(dataset_dir, kind).items()]


class LoadQualityItemd(MapTransform):
    """Read ``d["image"]`` (a path, or a DICOM series' files) with the model's ``reader``; on failure record why.

    Args:
        reader: the model's input reader, e.g. :func:`monai_fiqa.fundus.checks.fundus_input` (photograph + field
            of view + checks) or :func:`monai_fiqa.io.volumes.read_volume`.
        keys: the item key to read.
    """

    def __init__(self, reader: Callable[[Any], Any], keys: KeysCollection = "image") -> None:
        super().__init__(keys)
        self.reader = reader

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            try:
                d[key] = self.reader(d[key])
            except ASSESS_ERRORS as exc:  # a bad item is reported, the run goes on
                d[ERROR_KEY] = str(exc)
        return d


def prepare_item(
    batchdata: list[dict[str, Any]], device: Any = None, non_blocking: bool = False, **kwargs: Any
) -> tuple[dict[str, Any], None]:
    """``prepare_batch`` of the evaluator: the one uncollated item dict is the inferer's input; no target."""
    if len(batchdata) != 1:
        raise ValueError(f"quality workflows run one item per iteration (batch_size 1), got {len(batchdata)}")
    return batchdata[0], None


class QualityInferer(Inferer):
    """How a model's network is applied to one loaded item (subclasses: :meth:`infer`).

    Called by MONAI's evaluator with the item dict: an item carrying a load error is passed over (``None``).
    """

    def infer(self, loaded: Any, network: torch.nn.Module) -> Scored:
        """Score one loaded input (a photograph, a volume) with ``network``."""
        raise NotImplementedError

    def infer_item(self, item: Mapping[Hashable, Any], network: torch.nn.Module) -> Scored:
        """The item dict's input and any per-item options (a subclass may read e.g. a prompt) -> :meth:`infer`."""
        return self.infer(item["image"], network)

    def __call__(self, inputs: Mapping[Hashable, Any], network: Callable[..., Any], *args: Any, **kwargs: Any):
        if ERROR_KEY in inputs:
            return None
        try:
            return self.infer_item(inputs, network)  # type: ignore[arg-type]
        except ASSESS_ERRORS as exc:  # e.g. a volume that reads but cannot be scored: reported, the run goes on
            return exc


class GradeQualityd(MapTransform):
    """Grade the inferer's :class:`~monai_fiqa.results.Scored` with the bundle's thresholds -> ``QualityResult``."""

    def __init__(self, thresholds: Mapping[str, float], keys: KeysCollection = "pred") -> None:
        super().__init__(keys)
        self.thresholds = require_thresholds(thresholds)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if isinstance(d[key], Scored):
                d[key] = d[key].graded(self.thresholds)
        return d


def network_device(network: torch.nn.Module) -> torch.device:
    """Where a network's weights are (the inputs go there)."""
    return next(network.parameters()).device


class QualityResultWriter:
    """Evaluator handler: each iteration's result (or error) into ``results.json`` / ``.csv`` and its picture.

    Args:
        output_dir: where the files go.
        kind: ``"image"`` or ``"volume"`` (names the pictures and the CSV columns as the folder runner does).
        picture: ``(loaded input, result) -> RGB array or None``; e.g. :func:`photo_overlay` or
            :func:`monai_fiqa.ctmr.preview.slice_montage`.
    """

    def __init__(
        self,
        output_dir: str | Path,
        kind: str,
        picture: Callable[[Any, QualityResult], np.ndarray | None] | None = None,
    ) -> None:
        self.output_dir, self.kind, self.picture = output_dir, kind, picture
        self.writer: ResultsWriter | None = None

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._record)
        engine.add_event_handler(Events.COMPLETED, self._finish)

    def _start(self, engine: Any) -> None:
        self.writer = ResultsWriter(self.output_dir, self.kind)

    def _record(self, engine: Any) -> None:
        item, pred = engine.state.output["image"], engine.state.output["pred"]
        assert self.writer is not None
        if isinstance(pred, QualityResult):
            picture = self.picture(item["image"], pred) if self.picture is not None else None
            self.writer.add(item[NAME_KEY], pred, picture=picture)
        else:
            self.writer.add(item[NAME_KEY], None, str(pred) if pred is not None else item.get(ERROR_KEY))

    def _finish(self, engine: Any) -> None:
        assert self.writer is not None
        self.writer.close()
