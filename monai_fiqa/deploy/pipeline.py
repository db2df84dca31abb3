"""The steps of the quality application, as plain functions on :class:`WorkItem` objects.

Why plain functions: the MONAI Deploy operators (``monai_fiqa.deploy.operators``) are thin wrappers that call these,
so every step is testable without the SDK and the same code runs in a MAP container.  A work item is one DICOM
series, one photograph or one NIfTI volume.  Each step fills in its part or records why it could not; an item with
an error passes through the later steps untouched and ends in the run report - a failure never stops the others.

Routing (:func:`route`): loose photographs -> ``fundus``, NIfTI volumes -> ``ctmr``, DICOM items by the rules of
``series_rules.json`` (:mod:`monai_fiqa.deploy.series_rules`), each skip with its reason.  Each family lists the
bundles that serve it (:data:`FAMILY_BUNDLES`); every installed one is run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pydicom
from pydicom.pixels import pixel_array

from monai_fiqa.api import FAMILY_BUNDLES, BundleNotFoundError, available_bundles, bundle_version, load
from monai_fiqa.deploy.items import ModelRun, WorkItem
from monai_fiqa.deploy.outputs import write_run_outputs
from monai_fiqa.deploy.series_rules import SeriesRules, default_rules, routing_attributes
from monai_fiqa.io.dicom_header import header_number, header_number_or
from monai_fiqa.io.images import ImageReadError, check_image_size, read_rgb, to_rgb_uint8
from monai_fiqa.io.volumes import VolumeReadError, read_volume, volume_from_datasets

__all__ = [
    "FAMILY_BUNDLES",
    "ModelPool",
    "ModelRun",
    "WorkItem",
    "assess_item",
    "dicom_items",
    "file_items",
    "load_item",
    "route",
    "write_item",
]

_BAD_INPUT = (ImageReadError, VolumeReadError, ValueError)


def _series_key(ds: pydicom.Dataset, n: int) -> str:
    desc = str(ds.get("SeriesDescription", "") or "").strip()
    key = f"{ds.get('Modality') or '?'} series {ds.get('SeriesNumber') or '?'}"
    return f"{key} '{desc}' ({n} instances)" if desc else f"{key} ({n} instances)"


def _is_photo_series(sops: list[pydicom.Dataset], rules: SeriesRules) -> bool:
    """Whether the series' first image, on its own, would be assessed as a photograph: then every image (and frame)
    of the series is its own item."""
    try:
        samples = int(header_number(sops[0], "SamplesPerPixel", 1))
    except ValueError:  # routing reports the damaged header
        return False
    return rules.decide(routing_attributes(sops[:1], samples, frames=1, instances=1)).family == "fundus"


def _photo_key(ds: pydicom.Dataset) -> str:
    """``OP series 1 image 2 (R)``: series, instance number and laterality - what a grader needs, no identity."""
    side = ds.get("ImageLaterality") or ds.get("Laterality") or "?"
    series, number = ds.get("SeriesNumber") or "?", ds.get("InstanceNumber") or "?"
    return f"{ds.get('Modality') or '?'} series {series} image {number} ({side})"


MAX_PHOTO_FRAMES = 64  # more frames than any fundus camera stores in one instance: a video, or a damaged header


def _photo_items(ds: pydicom.Dataset) -> list[WorkItem]:
    """One item for a photograph, one per frame for a multi-frame photograph (several fields in one instance)."""
    key, modality = _photo_key(ds), str(ds.get("Modality", ""))
    frames = int(header_number_or(ds, "NumberOfFrames", 1))
    if not 1 < frames <= MAX_PHOTO_FRAMES:  # one photograph; or too many frames: routed as unsupported, with why
        return [WorkItem(key, "dicom", [ds], modality=modality)]
    return [WorkItem(f"{key} frame {k + 1}", "dicom", [ds], modality=modality, frame=k) for k in range(frames)]


def dicom_items(series: list[list[pydicom.Dataset]], rules: SeriesRules | None = None) -> list[WorkItem]:
    """One item per series (each a list of its instances); a photograph series gives one item per photograph, and
    per frame of a multi-frame photograph - both eyes and several fields per eye is the usual fundus series, and a
    corrupt photograph must not take its neighbours with it."""
    rules = rules or default_rules()
    items = []
    for sops in series:
        if not sops:
            continue
        if _is_photo_series(sops, rules) and (len(sops) > 1 or header_number_or(sops[0], "NumberOfFrames", 1) > 1):
            ordered = sorted(sops, key=lambda d: header_number_or(d, "InstanceNumber", 0))
            items += [item for d in ordered for item in _photo_items(d)]
        else:
            items.append(
                WorkItem(
                    _series_key(sops[0], len(sops)), "dicom", list(sops), modality=str(sops[0].get("Modality", ""))
                )
            )
    return items


def file_items(photos: list[Path], volumes: list[Path], name: Any = str) -> list[WorkItem]:
    """Items for loose photographs and NIfTI volumes; ``name`` maps a path to its report name."""
    items = [WorkItem(name(p), "photo", path=p, modality="photo") for p in photos]
    return items + [WorkItem(name(p), "nifti", path=p, modality="NIfTI") for p in volumes]


def route(item: WorkItem, rules: SeriesRules | None = None) -> WorkItem:
    """Decide the family of an item: loose photographs -> ``fundus``, NIfTI volumes -> ``ctmr``, DICOM items by the
    first matching rule of ``series_rules.json`` (:mod:`.series_rules`): a family, or skipped / unsupported /
    failed with the rule's reason.  Skipped items (non-images, this app's outputs, localizers, dose screens) are
    accounted for, not failures.
    """
    if item.kind == "photo":
        item.family = "fundus"
        return item
    if item.kind == "nifti":
        item.family = "ctmr"
        return item
    first = item.datasets[0]
    try:
        samples = int(header_number(first, "SamplesPerPixel", 1))
        frames = 1 if item.frame is not None else int(header_number(first, "NumberOfFrames", 1))
    except ValueError as exc:
        item.fail("failed", f"cannot route the series: {exc}")
        return item
    attributes = routing_attributes(item.datasets, samples, frames, len(item.datasets))
    rule = (rules or default_rules()).decide(attributes)
    if rule.family is not None:
        item.family = rule.family
    else:
        item.fail(rule.status, rule.explain(attributes))  # type: ignore[arg-type]
    return item


def load_item(item: WorkItem) -> WorkItem:
    """Read the pixels: RGB photograph for fundus, checked volume (and z-ordered sources) for CT/MR."""
    if item.status != "pending":
        return item
    try:
        if item.family == "fundus":
            if item.kind == "photo":
                item.image, _ = read_rgb(item.path)  # type: ignore[arg-type]
            else:
                ds = item.datasets[0]
                columns, rows = (int(header_number(ds, k, 0, ImageReadError)) for k in ("Columns", "Rows"))
                check_image_size(columns, rows, item.key)
                # one frame decoded, not the whole instance, for a frame of a multi-frame photograph
                pixels = ds.pixel_array if item.frame is None else pixel_array(ds, index=item.frame)
                item.image, _ = to_rgb_uint8(pixels)
                item.sources = item.datasets
        elif item.kind == "nifti":
            item.volume = read_volume(item.path)  # type: ignore[arg-type]
        else:
            item.volume, item.sources, item.frame_of_slice = volume_from_datasets(item.datasets)
    except _BAD_INPUT as exc:
        item.fail("failed", f"cannot read the image: {exc}")
    except Exception as exc:  # pydicom decoders raise many types on damaged pixel data
        item.fail("failed", f"cannot read the image ({type(exc).__name__}: {exc})")
    return item


class ModelPool:
    """Bundles loaded once per run, by name; a bundle that is not installed is remembered as such."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._models: dict[str, Any] = {}
        self._missing: dict[str, str] = {}

    def installed(self, family: str) -> list[str]:
        have = available_bundles()
        return [b for b in FAMILY_BUNDLES[family] if b in have]

    def get(self, name: str) -> Any:
        if name in self._missing:
            raise BundleNotFoundError(self._missing[name])
        if name not in self._models:
            try:
                self._models[name] = load(name, device=self.device)
            except Exception as exc:  # missing weights, a config or checkpoint that does not load: this bundle only
                self._missing[name] = f"bundle cannot be loaded ({type(exc).__name__}: {str(exc)[:300]})"
                raise BundleNotFoundError(self._missing[name]) from exc
        return self._models[name]

    @staticmethod
    def version(name: str) -> str:
        return bundle_version(name)


def assess_item(item: WorkItem, pool: ModelPool) -> WorkItem:
    """Run every installed bundle of the item's family; the item fails if none is installed or all fail."""
    if item.status != "pending":
        return item
    names = pool.installed(item.family or "")
    if not names:
        item.fail("failed", f"no trained {item.family} bundle is installed ({', '.join(FAMILY_BUNDLES[item.family])})")
        return item
    for name in names:
        run = ModelRun(name, pool.version(name))
        t0 = time.perf_counter()
        try:
            x = item.image if item.family == "fundus" else item.volume
            run.result = pool.get(name).assess(x)
        except (*_BAD_INPUT, BundleNotFoundError) as exc:
            run.error = str(exc)
        except Exception as exc:  # a model crash is this item's failure; the run goes on with the others
            run.error = f"model error ({type(exc).__name__}: {str(exc)[:300]})"
        run.seconds = time.perf_counter() - t0
        item.runs.append(run)
    if all(r.error for r in item.runs):
        item.fail("failed", "; ".join(f"{r.bundle}: {r.error}" for r in item.runs))
    return item


def write_item(item: WorkItem, out: Path) -> WorkItem:
    """Write each successful run's outputs (see :mod:`monai_fiqa.deploy.outputs`) and mark the item done."""
    if item.status != "pending":
        return item
    for run in item.runs:
        if run.result is None:
            continue
        try:
            write_run_outputs(item, run, out)
        except Exception as exc:  # a writer failure is this item's failure, not the run's
            run.error = f"writing outputs failed ({type(exc).__name__}: {exc})"
    ok = [r for r in item.runs if r.result is not None and r.error is None]
    if ok:
        item.status = "done"
    else:
        item.fail("failed", "; ".join(f"{r.bundle}: {r.error}" for r in item.runs))
    return item
