"""Take stock of an input folder: DICOM series, loose photographs, NIfTI volumes, and every file that is none of them.

Why our own inventory beside the Deploy SDK's loader: the SDK's ``DICOMDataLoaderOperator`` logs and drops files it
cannot parse (and stops on errors other than ``InvalidDicomError``), and the app must *report* them ("nothing
lost").  The inventory reads every file once; the app's loader operator builds the SDK's study/series objects from
the parsed datasets (for the SDK's series selector) and keeps the rest as items of their own: a photograph or NIfTI
volume to assess, or a file to report as unreadable.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from monai_fiqa.io.dicom_header import parse_elements

__all__ = ["PHOTO_SUFFIXES", "Inventory", "take_inventory"]

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass
class Inventory:
    """What an input folder holds.

    Attributes:
        root: the input folder.
        dicom: readable DICOM files and their parsed datasets (pixel data read, not decoded).
        photos: PNG/JPEG/TIFF/BMP files (fundus photographs).
        volumes: NIfTI files (CT/MR volumes).
        unreadable: file -> reason, for files that are none of the above (reported as items).
        skipped: hidden files and folders inside the input -> reason (listed in the run report, not assessed).
    """

    root: Path
    dicom: dict[Path, pydicom.Dataset] = field(default_factory=dict)
    photos: list[Path] = field(default_factory=list)
    volumes: list[Path] = field(default_factory=list)
    unreadable: dict[Path, str] = field(default_factory=dict)
    skipped: dict[Path, str] = field(default_factory=dict)

    def name(self, path: Path) -> str:
        """A file's name relative to the input folder (what reports show; never patient data)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return path.name


def _walk(root: Path, inv: Inventory) -> list[Path]:
    """Regular files under ``root``, following symbolic links to folders once each (a link loop is not followed
    twice); hidden entries *inside* the input are skipped (``inv.skipped``), whatever the input folder's own path
    is; a broken link, a FIFO, a socket or a device is ``unreadable`` with the reason - never opened (a FIFO would
    block the run)."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        here = Path(folder)
        st = here.stat()
        if (st.st_dev, st.st_ino) in seen:  # reached again through a link: a loop or a second route
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        for d in [d for d in dirs if d.startswith(".")]:
            inv.skipped[here / d] = "hidden folder inside the input"
            dirs.remove(d)
        for name in sorted(names):
            p = here / name
            if name.startswith("."):
                inv.skipped[p] = "hidden file inside the input"
            elif not p.exists():
                inv.unreadable[p] = "broken symbolic link"
            elif not stat.S_ISREG(p.stat().st_mode):
                inv.unreadable[p] = "not a regular file (FIFO, socket or device): not read"
            else:
                files.append(p)
    return sorted(files)


def take_inventory(root: str | Path) -> Inventory:
    """Classify every file under ``root`` (recursively, see :func:`_walk` for links and hidden entries).

    A file that pydicom cannot parse, or that lacks study/series/instance UIDs, is ``unreadable`` with the reason; a
    DICOM file whose pixel data is short or damaged parses here and fails when its series is assessed - reported for
    that series.
    """
    root = Path(root)
    inv = Inventory(root)
    if root.is_file():
        files, inv.root = [root], root.parent
    else:
        files = _walk(root, inv)
    for p in files:
        lower = p.name.lower()
        if lower.endswith(_NIFTI_SUFFIXES):
            inv.volumes.append(p)
        elif lower.endswith(PHOTO_SUFFIXES):
            inv.photos.append(p)
        else:
            try:
                # values over 1 MB (the pixel data) stay on disk until a routed item decodes them, after its
                # declared size has been checked: a sparse file may declare gigabytes
                ds = pydicom.dcmread(p, defer_size="1 MB")
                parse_elements(ds)
                for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                    if not ds.get(kw):
                        raise ValueError(f"no {kw}")
            except InvalidDicomError:
                inv.unreadable[p] = "not a DICOM, photograph or NIfTI file"
                continue
            except Exception as exc:  # truncated header, missing UIDs, ...: pydicom raises many types
                inv.unreadable[p] = f"DICOM file cannot be parsed ({type(exc).__name__}: {exc})"
                continue
            inv.dicom[p] = ds
    return inv
