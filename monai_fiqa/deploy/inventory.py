"""Take stock of an input folder: DICOM series, loose photographs, NIfTI volumes, and every file that is none of them.

Why our own inventory beside the Deploy SDK's loader: the SDK's ``DICOMDataLoaderOperator`` logs and drops files it
cannot parse (and stops on errors other than ``InvalidDicomError``), and the app must *report* them ("nothing
lost").  The inventory reads every file once; the app's loader operator builds the SDK's study/series objects from
the parsed datasets (for the SDK's series selector) and keeps the rest as items of their own: a photograph or NIfTI
volume to assess, or a file to report as unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

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
        unreadable: file -> reason, for files that are none of the above.
    """

    root: Path
    dicom: dict[Path, pydicom.Dataset] = field(default_factory=dict)
    photos: list[Path] = field(default_factory=list)
    volumes: list[Path] = field(default_factory=list)
    unreadable: dict[Path, str] = field(default_factory=dict)

    def name(self, path: Path) -> str:
        """A file's name relative to the input folder (what reports show; never patient data)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return path.name


def take_inventory(root: str | Path) -> Inventory:
    """Classify every file under ``root`` (recursively; hidden files are skipped).

    A file that pydicom cannot parse, or that lacks study/series/instance UIDs, is ``unreadable`` with the reason; a
    DICOM file whose pixel data is short or damaged parses here and fails when its series is assessed - reported for
    that series.
    """
    root = Path(root)
    inv = Inventory(root)
    if root.is_file():
        files, inv.root = [root], root.parent
    else:
        files = sorted(p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts))
    for p in files:
        lower = p.name.lower()
        if lower.endswith(_NIFTI_SUFFIXES):
            inv.volumes.append(p)
        elif lower.endswith(PHOTO_SUFFIXES):
            inv.photos.append(p)
        else:
            try:
                ds = pydicom.dcmread(p)
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
