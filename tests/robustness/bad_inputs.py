"""The named bad-input catalogue: each case builds one bad photograph or volume and says what must happen.

Used by ``test_bad_input_matrix.py`` (through the API and the CLI) and by reader-level tests.  An expectation is an
error (type and message) or a flagged result (scored, out of distribution, graded ``reject``, with a reason).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

from monai_fiqa.io.images import ImageReadError
from monai_fiqa.io.volumes import VolumeReadError

__all__ = ["PHOTOGRAPHS", "VOLUMES", "Case", "good_photograph", "good_volume", "lying_nifti", "png_header_only"]


@dataclass(frozen=True)
class Case:
    """``build(folder)`` returns the input (a path or an array); ``error``/``match`` or ``flagged`` is the outcome."""

    name: str
    build: Callable[[Path], Any]
    error: type[Exception] | None = None
    match: str | None = None
    flagged: bool = False


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares width x height (the pixel data is a few bytes): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    )
    return path


def good_photograph(folder: Path, name: str = "good.jpg") -> Path:
    import skimage.data

    path = folder / name
    Image.fromarray(skimage.data.retina()).resize((512, 512)).save(path, quality=95)
    return path


def good_volume(folder: Path) -> Path:
    from importlib import resources

    return Path(str(resources.files("monai_fiqa") / "sample_data" / "prostate_t2.nii.gz"))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _save(folder: Path, name: str, array: np.ndarray, **kw: Any) -> Path:
    Image.fromarray(array).save(folder / name, **kw)
    return folder / name


def _truncated(folder: Path, name: str, keep: float = 0.3) -> Path:
    data = good_photograph(folder, "src_" + name).read_bytes()
    (folder / name).write_bytes(data[: int(len(data) * keep)])
    return folder / name


def _pages(folder: Path, name: str) -> Path:
    pages = [Image.fromarray(np.full((128, 128, 3), v, np.uint8)) for v in (10, 200)]
    pages[0].save(folder / name, save_all=True, append_images=pages[1:])
    return folder / name


def _transparent(folder: Path) -> Path:
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[..., :3] = 180
    return _save(folder, "clear.png", rgba)


def _fifo(folder: Path, name: str) -> Path:
    os.mkfifo(folder / name)
    return folder / name


def _greyscale_fundus(folder: Path) -> Path:
    rgb = np.asarray(Image.open(good_photograph(folder, "src_grey.jpg")).convert("L"))
    return _save(folder, "grey.png", rgb)


def _astronaut(folder: Path) -> Path:
    import skimage.data

    return _save(folder, "astronaut.png", skimage.data.astronaut())


def _text_grid(folder: Path) -> Path:  # a screenshot-like page: white with black text lines
    page = np.full((600, 800, 3), 255, np.uint8)
    page[40::24, 40:760] = 0
    return _save(folder, "document.png", page)


PHOTOGRAPHS: list[Case] = [
    Case("truncated jpeg", lambda d: _truncated(d, "cut.jpg"), ImageReadError, "cut.jpg"),
    Case("zero-byte png", lambda d: _write(d / "empty.png", b""), ImageReadError),
    Case("text renamed .png", lambda d: _write(d / "t.png", b"hello\n"), ImageReadError),
    Case(
        "decompression bomb 20000^2", lambda d: png_header_only(d / "bomb.png", 20000, 20000), ImageReadError, "exceeds"
    ),
    Case("9000^2 over our limit", lambda d: png_header_only(d / "big.png", 9000, 9000), ImageReadError, "60,000,000"),
    Case("200 x 100000 strip", lambda d: png_header_only(d / "strip.png", 100000, 200), ImageReadError, "aspect"),
    Case("fully transparent rgba", _transparent, ImageReadError, "transparent"),
    Case("multi-page tiff", lambda d: _pages(d, "two.tif"), ImageReadError, "2 pages/frames"),
    Case("animated gif", lambda d: _pages(d, "anim.gif"), ImageReadError, "2 pages/frames"),
    Case("8 x 8 image", lambda d: _save(d, "tiny.png", np.full((8, 8, 3), 120, np.uint8)), ValueError, "at least"),
    Case("all black", lambda d: _save(d, "black.png", np.zeros((512, 512, 3), np.uint8)), ValueError, "blank|no field"),
    Case("missing file", lambda d: d / "nope.jpg", ImageReadError, "no such file"),
    Case("a folder given as a photograph", lambda d: d, ImageReadError),
    Case("named pipe", lambda d: _fifo(d, "pipe.png"), ImageReadError, "not a regular file"),
    Case("channel-first array", lambda d: np.zeros((3, 256, 256), np.uint8), ImageReadError, "channel-first"),
    Case("NaN float array", lambda d: np.full((256, 256, 3), np.nan, np.float32), ValueError),
    Case("4-D array", lambda d: np.zeros((2, 64, 64, 3), np.uint8), ImageReadError),
    Case(
        "DICOM RT plan (no pixels)", lambda d: Path(get_testdata_file("rtplan.dcm")), ImageReadError, "not a readable"
    ),
    Case("non-fundus photograph", _astronaut, flagged=True),
    Case("greyscale fundus", _greyscale_fundus, flagged=True),
    Case("document page", _text_grid, flagged=True),
]


def _nifti(folder: Path, name: str, array: np.ndarray, zooms: tuple[float, ...] | None = None) -> Path:
    import nibabel as nib

    img = nib.Nifti1Image(array, np.eye(4))
    if zooms is not None:
        img.header.set_zooms(zooms)
    nib.save(img, folder / name)
    return folder / name


def lying_nifti(folder: Path) -> Path:
    path = _nifti(folder, "liar.nii", np.zeros((4, 4, 4), np.float32))
    raw = bytearray(path.read_bytes())
    raw[42:48] = struct.pack("<3h", 1024, 1024, 1024)  # dim[1..3]: the header lies, the file holds 64 voxels
    path.write_bytes(bytes(raw))
    return path


def _sparse_huge_nifti(folder: Path) -> Path:
    """1024 x 1024 x 512 declared and compressed to a few MB: refused by the voxel limit before decoding."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape((1024, 1024, 512))
    header.set_data_dtype(np.uint8)
    path = folder / "sparse.nii"
    with path.open("wb") as fh:
        header.write_to(fh)
        fh.seek(int(header["vox_offset"]) + 1024 * 1024 * 512 - 1)
        fh.write(b"\0")  # a sparse file: 512 MB declared, nothing written
    return path


def _truncated_gz(folder: Path) -> Path:
    vol = np.random.default_rng(0).uniform(0, 100, (64, 64, 8)).astype(np.float32)
    data = _nifti(folder, "whole.nii.gz", vol).read_bytes()
    (folder / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    return folder / "cut.nii.gz"


def _ct_small(folder: Path, name: str, edit: Callable[[pydicom.Dataset], None]) -> Path:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    edit(ds)
    sub = folder / name
    sub.mkdir()
    ds.save_as(sub / "1.dcm")
    return sub / "1.dcm"


def _two_valued_slope(ds: pydicom.Dataset) -> None:
    ds.RescaleSlope = [1, 2]


def _empty_slope(ds: pydicom.Dataset) -> None:
    ds.RescaleSlope = ""


def _no_pixels(ds: pydicom.Dataset) -> None:
    del ds.PixelData


def _cut_pixels(ds: pydicom.Dataset) -> None:
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]


def _gigavoxels(ds: pydicom.Dataset) -> None:
    ds.Rows = ds.Columns = 60000


_RNG = np.random.default_rng(3)
VOLUMES: list[Case] = [
    Case(
        "NaN voxels", lambda d: _nifti(d, "nan.nii", np.full((32, 32, 4), np.nan, np.float32)), VolumeReadError, "NaN"
    ),
    Case(
        "constant volume",
        lambda d: _nifti(d, "flat.nii", np.ones((32, 32, 4), np.float32)),
        VolumeReadError,
        "constant",
    ),
    Case(
        "4-D volume",
        lambda d: _nifti(d, "4d.nii", _RNG.uniform(size=(32, 32, 4, 3)).astype(np.float32)),
        VolumeReadError,
        "3D volume",
    ),
    Case("header declares 1024^3", lying_nifti, VolumeReadError, "exceeds the limit"),
    Case("sparse 1024x1024x512", _sparse_huge_nifti, VolumeReadError, "exceeds the limit"),
    Case("truncated .nii.gz", _truncated_gz, VolumeReadError),
    Case(
        "zero voxel spacing",
        lambda d: _nifti(d, "zero.nii", _RNG.uniform(0, 9, (32, 32, 4)).astype(np.float32), (1.0, 0.0, 1.0)),
        VolumeReadError,
        "spacing",
    ),
    Case("in-plane 8 x 8", lambda d: _RNG.uniform(0, 9, (8, 8, 3)).astype(np.float32), VolumeReadError, "too small"),
    Case("(Z, H, W) array", lambda d: _RNG.uniform(0, 9, (12, 48, 48)).astype(np.float32), VolumeReadError, "Z, H, W"),
    Case("DICOM without pixel data", lambda d: _ct_small(d, "nopix", _no_pixels), VolumeReadError),
    Case("DICOM pixel data cut in half", lambda d: _ct_small(d, "cut", _cut_pixels), VolumeReadError),
    Case("two-valued RescaleSlope", lambda d: _ct_small(d, "slope2", _two_valued_slope), VolumeReadError, "Rescale"),
    Case("empty RescaleSlope", lambda d: _ct_small(d, "slope0", _empty_slope), VolumeReadError, "Rescale"),
    Case("DICOM declaring 60000^2", lambda d: _ct_small(d, "giga", _gigavoxels), VolumeReadError, "exceeds the limit"),
    Case("text file named .dcm", lambda d: _write(d / "x.dcm", b"no"), VolumeReadError),
    Case("empty folder", lambda d: (d / "none").mkdir() or d / "none", VolumeReadError, "empty folder"),
    Case("missing path", lambda d: d / "gone.nii.gz", VolumeReadError, "does not exist"),
    Case("named pipe as a volume", lambda d: _fifo(d, "pipe.dcm"), VolumeReadError, "not a regular file"),
]
