"""Read 2D photographs (PNG, JPEG, TIFF, GIF, BMP, single-frame RGB DICOM) as (H, W, 3) uint8 RGB.

Why one reader with explicit conversions: quality models are trained on 8-bit RGB, and silently feeding them a
16-bit or greyscale image would give a confident, meaningless score.  Conversions are recorded in the returned
metadata so that callers can flag out-of-distribution inputs; unreadable or truncated files raise
:class:`ImageReadError` with the reason, never a half-decoded image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageReadError", "read_rgb", "to_rgb_uint8"]

_DICOM_SUFFIXES = {".dcm", ".dicom", ""}


class ImageReadError(ValueError):
    """A file could not be read as a photograph (corrupt, truncated, unsupported)."""


def _to_uint8(arr: np.ndarray) -> tuple[np.ndarray, str | None]:
    if arr.dtype == np.uint8:
        return arr, None
    if np.issubdtype(arr.dtype, np.integer):
        top = float(arr.max()) if arr.size else 0.0
        bits = 16 if top > 255 else 8
        scaled = arr.astype(np.float64) * (255.0 / (2**bits - 1))
        return np.clip(np.round(scaled), 0, 255).astype(np.uint8), f"rescaled from {arr.dtype}"
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageReadError("image contains NaN or infinite values")
        top = 1.0 if arr.max() <= 1.0 else 255.0
        return np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8), f"rescaled from {arr.dtype}"
    raise ImageReadError(f"unsupported pixel type {arr.dtype}")


def to_rgb_uint8(arr: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Bring a decoded image or a caller's array to (H, W, 3) uint8, listing every conversion made.

    Raises:
        ImageReadError: NaN/Inf values, an unsupported pixel type, or a shape that is not a 2D image.
    """
    arr, note = _to_uint8(arr)
    conversions = [note] if note else []
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
        arr = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=-1)
        conversions.append("greyscale expanded to RGB")
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageReadError(f"expected a 2D RGB or greyscale image, got shape {arr.shape}")
    return np.ascontiguousarray(arr), conversions


def _read_dicom(path: Path) -> tuple[np.ndarray, dict]:
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array  # pydicom 3 converts YBR colour spaces to RGB here
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise ImageReadError(f"{path.name}: not a readable DICOM image ({type(exc).__name__}: {exc})") from exc
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise ImageReadError(f"{path.name}: multi-frame DICOM is not a single photograph")
    meta = {"format": "DICOM", "modality": str(ds.get("Modality", "")), "photometric": photometric}
    return arr, meta


def read_rgb(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read a photograph as (H, W, 3) uint8 RGB.

    Args:
        path: PNG, JPEG, TIFF, GIF, BMP or single-frame DICOM file.

    Returns:
        The image and metadata: ``format``, ``source_mode`` and ``conversions`` (list of what was changed,
        e.g. ``"greyscale expanded to RGB"``), so callers can flag unusual inputs.

    Raises:
        ImageReadError: missing, corrupt, truncated or unsupported file.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such file")
    conversions: list[str] = []
    if p.suffix.lower() in _DICOM_SUFFIXES and _is_dicom(p):
        arr, meta = _read_dicom(p)
    else:
        try:
            with Image.open(p) as im:
                im.load()
                mode = im.mode
                if mode in ("P", "PA", "RGBA", "LA", "CMYK", "YCbCr"):
                    im = im.convert("RGBA" if "A" in mode else "RGB")
                    if im.mode == "RGBA":
                        im = im.convert("RGB")
                        conversions.append("alpha dropped")
                arr = np.asarray(im)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ImageReadError(f"{p.name}: not a readable image ({exc})") from exc
        meta = {"format": p.suffix.lower().lstrip("."), "source_mode": mode}
    try:
        arr, notes = to_rgb_uint8(np.asarray(arr))
    except ValueError as exc:
        raise ImageReadError(f"{p.name}: {exc}") from exc
    conversions += notes
    meta["conversions"] = conversions
    return arr, meta


def _is_dicom(p: Path) -> bool:
    with p.open("rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"
