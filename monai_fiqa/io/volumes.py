"""Read CT/MR data (NIfTI, a DICOM file, a folder holding one DICOM series, or an array) as a checked volume.

Why checks here: a quality score on a volume the reader mangled is worse than no score.  Every reason a volume
cannot be scored (4D data, NaN/Inf voxels, a constant volume, absurd spacing, no pixel data, mixed series) raises
:class:`VolumeReadError` with a message a technologist can act on.  Only acquisition headers used for prompts are
kept in ``meta`` (never patient identity), so results and logs carry no patient data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import nibabel as nib
import numpy as np
import pydicom

from monai_fiqa.io.dicom_header import declared_voxels, header_number, header_numbers, read_dicom

__all__ = [
    "PROMPT_KEYWORDS",
    "Volume",
    "VolumeReadError",
    "check_volume",
    "read_volume",
    "volume_from_datasets",
]

PROMPT_KEYWORDS = (
    "Modality",
    "BodyPartExamined",
    "SeriesDescription",
    "ProtocolName",
    "ScanningSequence",
    "SequenceName",
    "ConvolutionKernel",
    "ImageType",
    "MagneticFieldStrength",
)
MAX_VOXELS_ENV = "MONAI_FIQA_MAX_VOXELS"
# 300 M voxels (1.2 GB as float32) holds a 512 x 512 x 1100 CT; larger is a whole-body stack or a file whose header
# lies, and is refused from the header before anything is allocated.
DEFAULT_MAX_VOXELS = 300_000_000
_SPACING_RANGE_MM = (0.01, 50.0)


class VolumeReadError(ValueError):
    """A file or array cannot be assessed as a CT/MR volume; the message says why."""


def max_voxels() -> int:
    """The voxel limit per volume: ``$MONAI_FIQA_MAX_VOXELS`` or 300 M."""
    try:
        return int(os.environ.get(MAX_VOXELS_ENV, DEFAULT_MAX_VOXELS))
    except ValueError as exc:
        raise VolumeReadError(f"${MAX_VOXELS_ENV} must be an integer number of voxels") from exc


def check_voxel_count(shape: tuple[int, ...], what: str) -> None:
    """Refuse a volume whose (declared) shape exceeds the voxel limit, before it is read.

    Raises:
        VolumeReadError: with the shape and the limit.
    """
    n = int(np.prod([int(s) for s in shape], dtype=np.float64))
    if n > max_voxels():
        raise VolumeReadError(
            f"{what}: {' x '.join(str(int(s)) for s in shape)} = {n:,} voxels exceeds the limit of {max_voxels():,}"
            f" (${MAX_VOXELS_ENV})"
        )


@dataclass
class Volume:
    """A CT (HU) or MR (magnitude) volume.

    Attributes:
        array: (H, W, Z) float32; Z = 1 for a single slice.
        spacing: voxel size (row, column, slice) in mm.
        meta: acquisition headers used for prompts (DICOM keywords; NIfTI ``descrip``), no patient identity.
        source: "nifti", "dicom" or "array".
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    meta: dict[str, str] = field(default_factory=dict)
    source: str = "array"

    @property
    def is_3d(self) -> bool:
        return self.array.shape[2] > 1


def _singleton_last(vol: Volume) -> Volume:
    """A single slice stored as (1, H, W) or (H, 1, W) becomes (H, W, 1): a slice given as 3D is still a slice."""
    arr = vol.array
    if arr.ndim == 3 and arr.shape[2] != 1 and 1 in arr.shape[:2]:
        axis = arr.shape.index(1)
        order = [i for i in range(3) if i != axis] + [axis]
        spacing = tuple(vol.spacing[i] for i in order)
        return Volume(np.ascontiguousarray(arr.transpose(order)), spacing, vol.meta, vol.source)  # type: ignore[arg-type]
    return vol


def check_volume(vol: Volume) -> Volume:
    """Validate shape, values and spacing; returns the volume or raises :class:`VolumeReadError`."""
    vol = _singleton_last(vol)
    arr = vol.array
    if arr.ndim != 3:
        raise VolumeReadError(f"expected a 3D volume (H, W, Z), got {arr.ndim} dimensions {arr.shape}")
    if min(arr.shape[:2]) < 16:
        raise VolumeReadError(f"in-plane size {arr.shape[:2]} is too small to assess (minimum 16 x 16)")
    check_voxel_count(arr.shape, "volume")
    finite = np.isfinite(arr)
    if not finite.all():
        raise VolumeReadError(f"{int((~finite).sum())} voxels are NaN or infinite")
    if float(arr.max()) - float(arr.min()) <= 1e-6 * max(1.0, abs(float(arr.max()))):
        raise VolumeReadError("the volume is constant (empty): there is no image to assess")
    lo, hi = _SPACING_RANGE_MM
    if not all(lo <= s <= hi for s in vol.spacing):
        raise VolumeReadError(f"voxel spacing {vol.spacing} mm is outside [{lo}, {hi}] mm")
    return vol


def _meta(ds: pydicom.Dataset) -> dict[str, str]:
    out = {}
    for kw in PROMPT_KEYWORDS:
        value = ds.get(kw)
        if value is not None and str(value).strip():
            out[kw] = "\\".join(map(str, value)) if isinstance(value, pydicom.multival.MultiValue) else str(value)
    return out


def _dicom_pixels(ds: pydicom.Dataset) -> np.ndarray:
    try:
        arr = ds.pixel_array.astype(np.float32)
    except Exception as exc:  # pydicom raises many types for bad pixel data
        raise VolumeReadError(f"pixel data cannot be decoded: {exc}") from exc
    if arr.ndim == 3 and header_number(ds, "SamplesPerPixel", 1, VolumeReadError) == 1:
        arr = np.moveaxis(arr, 0, -1)  # multi-frame -> (H, W, frames)
    elif arr.ndim != 2:
        raise VolumeReadError(f"pixel data of shape {arr.shape} is not a monochrome slice or frame stack")
    slope = header_number(ds, "RescaleSlope", 1.0, VolumeReadError)
    return arr * slope + header_number(ds, "RescaleIntercept", 0.0, VolumeReadError)


def _spacing(ds: pydicom.Dataset, dz: float | None) -> tuple[float, float, float]:
    """(row, column, slice) spacing in mm: PixelSpacing and the slice step (``dz``, else SpacingBetweenSlices or
    SliceThickness); 1 mm where the header has none.

    Raises:
        VolumeReadError: a damaged PixelSpacing (text, a single value) or slice spacing, with its value.
    """
    row, col = header_numbers(ds, "PixelSpacing", 2, (1.0, 1.0), VolumeReadError)
    if dz is None:
        keyword = next((k for k in ("SpacingBetweenSlices", "SliceThickness") if ds.get(k)), None)
        dz = header_number(ds, keyword, 1.0, VolumeReadError) if keyword else 1.0
    return row, col, float(dz)


def _read_dicom_files(files: list[Path]) -> Volume:
    voxels = 0
    for f in files:  # headers first: a few kilobytes may declare gigabytes of pixels
        head = read_dicom(f, VolumeReadError, stop_before_pixels=True)
        voxels += declared_voxels(head, VolumeReadError)
    check_voxel_count((voxels,), f"series of {len(files)} files")
    datasets = [read_dicom(f, VolumeReadError) for f in files]
    return volume_from_datasets(datasets)[0]


# Why highdicom for the geometry: it checks what a hand-written sort cannot (regular spacing, orthogonal axes, one
# orientation, no duplicate positions), reads enhanced multi-frame functional groups and applies per-frame rescale.
# Slices ascend along the normal (row x column direction cosines): the order of volumes since the first version, so
# slice indices in results stay comparable.  With highdicom's (down, right) pixel index convention that is a
# left-handed volume.
_SLICE_HANDEDNESS = "LEFT_HANDED"
_NOT_ONE_VOLUME = (
    "do not form one regularly spaced volume (a missing or duplicated slice, mixed orientations, or several volumes "
    "in one series - e.g. diffusion b-values, echoes or dynamics): assess each volume as its own series"
)


def _highdicom() -> ModuleType:
    """highdicom, imported when a DICOM series or multi-frame instance is read - not at import: the MONAI Label
    environment (pydicom 2, no highdicom) imports this module to read NIfTI volumes."""
    try:
        import highdicom
        import highdicom.image
    except ImportError as exc:
        raise VolumeReadError(f"reading a DICOM series needs highdicom (pip install monai-fiqa): {exc}") from exc
    return highdicom


def _is_enhanced(ds: pydicom.Dataset) -> bool:
    """An enhanced (functional-group) multi-frame instance: geometry and rescale live per frame, not at the top."""
    return "PerFrameFunctionalGroupsSequence" in ds


def _enhanced_volume(ds: pydicom.Dataset) -> tuple[Volume, list[int]]:
    """An enhanced multi-frame CT/MR instance as a volume, and the frame index of each slice.

    Raises:
        VolumeReadError: the frames are not one regular volume, or highdicom cannot read them.
    """
    hd = _highdicom()
    try:
        image = hd.Image.from_dataset(ds, copy=False)
        geometry = image.get_volume_geometry()
        if geometry is None:
            raise VolumeReadError(f"the frames of the multi-frame instance {_NOT_ONE_VOLUME}")
        shared = ds.get("SharedFunctionalGroupsSequence", [pydicom.Dataset()])[0]

        def group(frame: pydicom.Dataset, name: str) -> pydicom.Dataset:
            return (frame.get(name) or shared.get(name))[0]

        frames = ds.PerFrameFunctionalGroupsSequence
        positions = [group(f, "PlanePositionSequence").ImagePositionPatient for f in frames]
        orientation = group(frames[0], "PlaneOrientationSequence").ImageOrientationPatient
        _, index = hd.image.get_volume_positions(positions, orientation, handedness=_SLICE_HANDEDNESS)
        if index is None:
            raise VolumeReadError(f"the frames of the multi-frame instance {_NOT_ONE_VOLUME}")
        order = [int(i) for i in np.argsort(index)]
        pixels = [image.get_frame(i + 1, dtype=np.float32, apply_voi_transform=False) for i in order]
    except VolumeReadError:
        raise
    except Exception as exc:  # highdicom raises many types on unusual functional groups
        raise VolumeReadError(f"multi-frame instance cannot be read ({type(exc).__name__}: {exc})") from exc
    dz, dy, dx = (float(v) for v in geometry.spacing)
    return Volume(np.stack(pixels, -1), (dy, dx, dz), _meta(ds), "dicom"), order


def _stack_order(datasets: list[pydicom.Dataset]) -> tuple[list[pydicom.Dataset], float]:
    """The single-frame instances of a series in volume order, and the slice spacing (mm).

    Raises:
        VolumeReadError: they are not one regularly spaced volume.
    """
    hd = _highdicom()
    try:
        spacing, index = hd.image.get_series_volume_positions(datasets, handedness=_SLICE_HANDEDNESS)
    except Exception as exc:  # highdicom raises on missing or damaged geometry attributes
        raise VolumeReadError(f"the slices' geometry cannot be read ({type(exc).__name__}: {exc})") from exc
    if spacing is None or index is None:
        raise VolumeReadError(f"the {len(datasets)} slices {_NOT_ONE_VOLUME}")
    return [datasets[i] for i in np.argsort(index)], float(spacing)


def volume_from_datasets(datasets: list[pydicom.Dataset]) -> tuple[Volume, list[pydicom.Dataset], list[int] | None]:
    """Build a checked volume from the in-memory datasets of one series.

    Returns:
        The volume; the datasets that hold its slices in volume order (``volume.array[..., k]`` comes from the
        k-th), so that writers can put a per-slice result back on the right source instance (for a multi-frame
        instance the list holds that one dataset); and for an enhanced multi-frame instance the frame index of each
        slice (``None`` otherwise: slice k is frame k).

    Raises:
        VolumeReadError: no pixel data, mixed series, slices of different sizes, slices that are not one regular
            volume, or a volume that fails the checks.
    """
    datasets = [d for d in datasets if "PixelData" in d]
    if not datasets:
        raise VolumeReadError("no DICOM file with pixel data")
    declared = sum(declared_voxels(d, VolumeReadError) for d in datasets)
    check_voxel_count((declared,), f"series of {len(datasets)} instances")  # before any pixel is decoded
    if len({d.get("SeriesInstanceUID") for d in datasets}) > 1:
        raise VolumeReadError("the files belong to more than one series; give one series at a time")
    if len(datasets) == 1 and _is_enhanced(datasets[0]):
        vol, frames = _enhanced_volume(datasets[0])
        return check_volume(vol), datasets, frames
    if len(datasets) == 1:  # one slice, or a classic multi-frame stack (frames in slice order by definition)
        arr = _dicom_pixels(datasets[0])
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        return check_volume(Volume(arr, _spacing(datasets[0], None), _meta(datasets[0]), "dicom")), datasets, None
    if len({(d.get("Rows"), d.get("Columns")) for d in datasets}) > 1:
        raise VolumeReadError("slices of the series differ in size")
    ordered, dz = _stack_order(datasets)
    slices = [_dicom_pixels(d) for d in ordered]
    vol = Volume(np.stack(slices, -1), _spacing(ordered[0], dz), _meta(ordered[0]), "dicom")
    return check_volume(vol), ordered, None


def _declared_spacing(path: Path, img: nib.spatialimages.SpatialImage, n: int) -> np.ndarray:
    """The voxel sizes as the file states them (``nib.load`` has already replaced zeros by 1 mm)."""
    try:
        with nib.openers.ImageOpener(str(path)) as fh:
            raw = type(img.header).from_fileobj(fh, check=False)
        return np.asarray(raw["pixdim"][1 : 1 + n], float)
    except Exception:  # not a NIfTI-style header with pixdim (e.g. Analyze): trust the loaded one
        return np.asarray(img.header.get_zooms()[:n], float)


def _read_nifti(path: Path) -> Volume:
    try:
        img = nib.load(str(path))
    except Exception as exc:
        raise VolumeReadError(f"{path.name}: not readable as NIfTI ({exc})") from exc
    check_voxel_count(tuple(img.shape), path.name)  # from the header, before allocating
    try:
        arr = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as exc:
        raise VolumeReadError(f"{path.name}: not readable as NIfTI ({exc})") from exc
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    zooms = zooms + (1.0,) * (3 - len(zooms))
    declared = _declared_spacing(path, img, min(3, arr.ndim))
    if not (np.isfinite(declared).all() and (declared > 0).all()):  # nibabel silently turns 0 into 1 mm
        raise VolumeReadError(f"{path.name}: voxel spacing {tuple(declared.tolist())} in the header is not positive")
    descrip = bytes(img.header.get("descrip", b"")).decode("latin-1", "replace").strip("\x00 ")
    meta = {"descrip": descrip} if descrip else {}
    return Volume(arr, zooms, meta, "nifti")  # type: ignore[arg-type]


def _refuse_slice_first(shape: tuple[int, ...]) -> None:
    """Refuse an array whose shape says (Z, H, W) - numpy/SimpleITK order - where (H, W, Z) is expected.

    Why a refusal and not a guess: scored in the wrong order the "slices" are cuts across the stack and the score is
    plausible but meaningless.  Slices are square in almost every CT/MR series, so equal last two axes and a
    different first one (more than one slice) is the (Z, H, W) signature; an array with no two equal axes is taken
    as (H, W, Z).
    """
    if len(shape) == 3 and shape[0] > 1 and shape[1] == shape[2] != shape[0]:  # (1, H, W) is one slice: read as is
        raise VolumeReadError(
            f"array of shape {shape} looks like (Z, H, W) (square slices on the last two axes); arrays are read as "
            f"(H, W, Z): pass np.moveaxis(array, 0, -1) (shape {(shape[1], shape[2], shape[0])})"
        )


def read_volume(
    src: str | Path | np.ndarray | list[Path], spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> Volume:
    """Read and validate a volume.

    Args:
        src: NIfTI path (.nii/.nii.gz), DICOM file, folder of one DICOM series, a list of the DICOM files of one
            series, or an (H, W) / (H, W, Z) array (an array shaped like (Z, H, W) is refused, see
            :func:`_refuse_slice_first`).
        spacing: voxel size for arrays.

    Raises:
        VolumeReadError: with the reason the data cannot be assessed.
    """
    if isinstance(src, np.ndarray):
        _refuse_slice_first(src.shape)
        arr = src.astype(np.float32)
        vol = Volume(arr[:, :, None] if arr.ndim == 2 else arr, tuple(map(float, spacing)), {}, "array")  # type: ignore[arg-type]
        return check_volume(vol)
    if isinstance(src, list):
        return _read_dicom_files([Path(p) for p in src])
    path = Path(src)
    if not path.exists():
        raise VolumeReadError(f"{path} does not exist")
    if not (path.is_file() or path.is_dir()):  # opening a pipe would wait forever
        raise VolumeReadError(f"{path}: not a regular file or folder (a pipe or device)")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise VolumeReadError(f"{path} is an empty folder")
        return _read_dicom_files(files)
    if path.name.endswith((".nii", ".nii.gz")):
        return check_volume(_read_nifti(path))
    return _read_dicom_files([path])
