"""Read 2D photographs (PNG, JPEG, TIFF, GIF, BMP, single-frame RGB DICOM) as (H, W, 3) uint8 RGB.

Why one reader with explicit conversions: quality models are trained on 8-bit RGB, and silently feeding them a
16-bit or greyscale image would give a confident, meaningless score.  Conversions are recorded in the returned
metadata so that callers can flag out-of-distribution inputs; unreadable or truncated files raise
:class:`ImageReadError` with the reason, never a half-decoded image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["ImageReadError", "check_image_size", "max_image_pixels", "read_rgb", "to_rgb_uint8"]

_DICOM_SUFFIXES = {".dcm", ".dicom", ""}
MAX_PIXELS_ENV = "MONAI_FIQA_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 60_000_000  # the largest fundus cameras record ~24 MP; 60 MP decodes to ~180 MB of RGB
MAX_ASPECT = 10.0  # a photograph is not a strip: 200 x 100000 px is a malformed or hostile file


class ImageReadError(ValueError):
    """A file could not be read as a photograph (corrupt, truncated, unsupported)."""


def max_image_pixels() -> int:
    """The pixel limit per photograph: ``$MONAI_FIQA_MAX_PIXELS`` or 60 M (checked before decoding)."""
    try:
        return int(os.environ.get(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS))
    except ValueError as exc:
        raise ImageReadError(f"${MAX_PIXELS_ENV} must be an integer number of pixels") from exc


def check_image_size(width: int, height: int, what: str) -> None:
    """Refuse, before decoding, an image whose header promises more pixels than the limit or a strip-like shape.

    Why from the header: a few kilobytes of PNG or DICOM can declare gigabytes of pixels.

    Raises:
        ImageReadError: with the size and the limit.
    """
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{what}: empty image ({width} x {height})")
    if width * height > max_image_pixels():
        raise ImageReadError(
            f"{what}: {width} x {height} px exceeds the limit of {max_image_pixels():,} pixels (${MAX_PIXELS_ENV})"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageReadError(f"{what}: {width} x {height} px is not a photograph (aspect ratio over {MAX_ASPECT:g})")


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

    Expected layout: (H, W, 3) or (H, W) - the layout of PIL, imageio and OpenCV (after BGR->RGB).

    Raises:
        ImageReadError: NaN/Inf values, an unsupported pixel type, a shape that is not a 2D image (a channel-first
            (3, H, W) array is refused, not silently read as a 3-pixel-high strip), or too many pixels.
    """
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        raise ImageReadError(f"channel-first array {arr.shape}: give (H, W, 3) (e.g. arr.transpose(1, 2, 0))")
    if arr.ndim in (2, 3):
        check_image_size(arr.shape[1], arr.shape[0], "array")
    arr, note = _to_uint8(arr)
    conversions = [note] if note else []
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
        arr = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=-1)
        conversions.append("greyscale expanded to RGB")
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageReadError(f"expected a 2D RGB or greyscale image, got shape {arr.shape}")
    return np.ascontiguousarray(arr), conversions


def _read_dicom(path: Path) -> tuple[np.ndarray, dict]:
    from monai_fiqa.io.dicom_header import header_number, read_dicom

    head = read_dicom(path, ImageReadError, stop_before_pixels=True)
    frames = int(header_number(head, "NumberOfFrames", 1, ImageReadError))
    if frames > 1:
        raise ImageReadError(f"{path.name}: multi-frame DICOM ({frames} frames) is not a single photograph")
    if not head.get("Rows") or not head.get("Columns"):
        raise ImageReadError(f"{path.name}: not a readable DICOM image (no pixel matrix: a non-image object)")
    columns, rows = (int(header_number(head, k, 0, ImageReadError)) for k in ("Columns", "Rows"))
    check_image_size(columns, rows, path.name)
    ds = read_dicom(path, ImageReadError)
    try:
        arr = ds.pixel_array  # pydicom 3 converts YBR colour spaces to RGB here
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise ImageReadError(f"{path.name}: not a readable DICOM image ({type(exc).__name__}: {exc})") from exc
    photometric = str(ds.get("PhotometricInterpretation", ""))
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
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if not p.is_file():  # a folder, pipe or device: opening a pipe would wait forever
        raise ImageReadError(f"{p}: not a regular file (a folder, pipe or device)")
    conversions: list[str] = []
    if p.suffix.lower() in _DICOM_SUFFIXES and _is_dicom(p):
        arr, meta = _read_dicom(p)
    else:
        try:
            with Image.open(p) as im:
                check_image_size(im.width, im.height, p.name)  # from the header, before any pixel is decoded
                frames = getattr(im, "n_frames", 1)
                if frames > 1:  # a multi-page TIFF or an animation: which page is the photograph is not ours to guess
                    raise ImageReadError(f"{p.name}: {frames} pages/frames; give one photograph per file")
                im.load()
                mode = im.mode
                arr = _flatten_modes(im, p.name, conversions)
        except ImageReadError:
            raise  # ours, already worded (it is a ValueError: must not be caught as Pillow's below)
        except Image.DecompressionBombError as exc:
            raise ImageReadError(f"{p.name}: {exc}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            # Pillow raises ValueError for some damaged headers (a PNG IHDR chunk shorter than 13 bytes)
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


def _flatten_modes(im: Image.Image, name: str, conversions: list[str]) -> np.ndarray:
    """Palette, CMYK, YCbCr to RGB; transparency dropped only when the image is opaque enough to be a photograph.

    Raises:
        ImageReadError: mostly transparent (what would be scored is not what a viewer shows).
    """
    if im.mode not in ("P", "PA", "RGBA", "LA", "CMYK", "YCbCr"):
        return np.asarray(im)
    has_alpha = "A" in im.mode or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    if im.mode == "RGBA":
        alpha = np.asarray(im)[..., 3]
        if float((alpha < 128).mean()) > 0.5:
            raise ImageReadError(f"{name}: mostly transparent ({(alpha < 128).mean():.0%} of pixels)")
        im = im.convert("RGB")
        conversions.append("alpha dropped")
    return np.asarray(im)
