"""Files written for one model run on one item.

For a DICOM source: ``dicom/<item>/<bundle>_SR.dcm`` (always), ``<bundle>_SEG.dcm`` (when the model gives a map)
and ``<bundle>_SC.dcm`` (the preview picture); for every source a PNG preview in ``previews/`` (fundus: the map over
the photograph; CT/MR: the scored slices with their maps).  NIfTI inputs also get the quality map as NIfTI on the
input's affine.  Loose photographs and NIfTI volumes get no DICOM objects: there is no patient or study identity to
copy, and the writers never invent one.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fiqa.ctmr.preview import slice_montage
from monai_fiqa.deploy.items import ModelRun, WorkItem
from monai_fiqa.io.dicom_writers import WriterIdentity, quality_pm, quality_sc, quality_seg, quality_sr
from monai_fiqa.viz import contact_sheet, overlay_map, save_png

__all__ = ["preview_picture", "write_run_outputs"]


def _in_frame_order(quality_map: np.ndarray, frame_of_slice: list[int] | None) -> np.ndarray:
    """The (H, W, Z) map with slice k moved to the frame it came from (an enhanced multi-frame source stores its
    frames in any order; the volume is in slice order)."""
    if frame_of_slice is None or quality_map.ndim != 3:
        return quality_map
    frames = np.empty_like(quality_map)
    frames[..., frame_of_slice] = quality_map
    return frames


def preview_picture(item: WorkItem, run: ModelRun) -> np.ndarray:
    """The picture a person looks at first: map over the photograph, or the montage of scored slices."""
    r = run.result
    assert r is not None
    caption = f"{run.bundle}: {r.score:.0f} / 100, {r.grade}"
    if item.family == "fundus":
        assert item.image is not None
        over = overlay_map(item.image, r.quality_map) if r.quality_map is not None else item.image
        return contact_sheet([item.image, over], ["source", caption], cols=2, tile=384)
    assert item.volume is not None
    return slice_montage(item.volume, r)


def write_run_outputs(item: WorkItem, run: ModelRun, out: Path) -> None:
    """Write the run's outputs under ``out`` and record their paths (relative to ``out``) on ``run``.

    Each object is written on its own: one that cannot be built (e.g. a SEG for a series without a Frame of
    Reference) is listed in ``run.output_errors`` with the reason and the others - and the score - are kept.
    """
    r = run.result
    assert r is not None
    picture = preview_picture(item, run)
    preview = save_png(picture, out / "previews" / f"{item.slug}__{run.bundle}.png")
    run.preview = str(preview.relative_to(out))
    written: list[Path] = [preview]
    if item.kind == "dicom":
        folder = out / "dicom" / item.slug
        folder.mkdir(parents=True, exist_ok=True)
        who = WriterIdentity(run.bundle, run.version)
        slices = r.params.get("slices")
        scored = [item.sources[z] for z in slices] if slices and len(item.sources) > 1 else None
        title = "Quality map overlay" if item.family == "fundus" else "Quality montage"
        eye = item.family == "fundus"
        builders = {"SR": lambda: quality_sr(item.sources, r, who, scored=scored, frame=item.frame, eye=eye)}
        if item.frame is not None:
            # a SEG on one frame would need that frame's own geometry, which a (non-enhanced) multi-frame photograph
            # does not describe; the SR references the frame by number and the SC shows it
            run.output_errors["SEG"] = "not written for one frame of a multi-frame photograph (the SR names the frame)"
        elif r.quality_map is not None:
            qmap = _in_frame_order(r.quality_map, item.frame_of_slice)
            builders["SEG"] = lambda: quality_seg(item.sources, qmap, who)
            if "FrameOfReferenceUID" in item.sources[0]:  # CT/MR: the map itself, for OHIF-class viewers
                builders["PM"] = lambda: quality_pm(item.sources, qmap, who)
        builders["SC"] = lambda: quality_sc(item.sources[0], picture, who, f"{title} ({run.bundle})")
        for kind, build in builders.items():
            path = folder / f"{run.bundle}_{kind}.dcm"
            try:
                build().save_as(path, enforce_file_format=True)
            except Exception as exc:  # highdicom/pydicom raise many types for unusual sources
                run.output_errors[kind] = f"{type(exc).__name__}: {exc}"
                continue
            written.append(path)
    elif item.kind == "nifti" and r.quality_map is not None:
        img = nib.load(str(item.path))
        path = out / "maps" / f"{item.slug}__{run.bundle}_quality.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(r.quality_map.astype(np.float32), img.affine), str(path))
        written.append(path)
    run.outputs = [str(p.relative_to(out)) for p in written]
