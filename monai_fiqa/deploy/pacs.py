"""Send the DICOM outputs to a PACS (C-STORE) and find them back (C-FIND), with pynetdicom.

A destination is written ``AE_TITLE@host:port`` (e.g. ``ORTHANC@127.0.0.1:4242``); our calling AE title is
``MONAI_FIQA``.  A failed store is listed per file; the outputs stay on disk either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pynetdicom import AE, StoragePresentationContexts
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

__all__ = ["CALLING_AE", "PacsDestination", "find_series", "parse_destination", "store_files", "store_outputs"]

CALLING_AE = "MONAI_FIQA"


@dataclass(frozen=True)
class PacsDestination:
    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def parse_destination(text: str) -> PacsDestination:
    """``AE@host:port`` -> :class:`PacsDestination`; raises ValueError with the expected form."""
    try:
        ae, rest = text.split("@", 1)
        host, port = rest.rsplit(":", 1)
        if not ae or len(ae) > 16 or not host:
            raise ValueError
        return PacsDestination(ae, host, int(port))
    except ValueError as exc:
        raise ValueError(f"PACS destination {text!r} is not AE_TITLE@host:port (AE title at most 16 chars)") from exc


def _associate(dest: PacsDestination, abstract_syntaxes: list[str]) -> Any:
    ae = AE(ae_title=CALLING_AE)
    for uid in abstract_syntaxes:
        ae.add_requested_context(uid)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {dest}")
    return assoc


def store_files(files: list[Path], dest: PacsDestination) -> dict[str, Any]:
    """C-STORE ``files``; returns ``{"destination", "stored", "failed": {file: reason}}``."""
    failed: dict[str, str] = {}
    stored = 0
    if files:
        classes = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPClassUID) for f in files}
        known = {c.abstract_syntax for c in StoragePresentationContexts}
        assoc = _associate(dest, sorted(classes & known))
        try:
            for f in files:
                status = assoc.send_c_store(pydicom.dcmread(f))
                if status and int(status.Status) == 0:
                    stored += 1
                else:
                    failed[str(f)] = f"status {getattr(status, 'Status', 'none'):#06x}" if status else "no response"
        finally:
            assoc.release()
    return {"destination": str(dest), "stored": stored, "failed": failed}


def store_outputs(out: Path, dest: PacsDestination) -> dict[str, Any]:
    """C-STORE every DICOM object the run wrote under ``out/dicom``; an unreachable PACS is reported, not raised."""
    files = sorted((out / "dicom").rglob("*.dcm"))
    try:
        result = store_files(files, dest)
    except ConnectionError as exc:
        result = {"destination": str(dest), "stored": 0, "failed": {str(f): str(exc) for f in files}}
    result["failed"] = {str(Path(k).relative_to(out)): v for k, v in result["failed"].items()}
    return result


def find_series(dest: PacsDestination, study_uid: str) -> list[dict[str, str]]:
    """C-FIND (study root, SERIES level): the series of a study with Modality, number and description."""
    query = pydicom.Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    for kw in ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription"):
        setattr(query, kw, "")
    assoc = _associate(dest, [StudyRootQueryRetrieveInformationModelFind])
    found = []
    try:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            if status and int(status.Status) in (0xFF00, 0xFF01) and identifier is not None:
                found.append(
                    {kw: str(identifier.get(kw, "")) for kw in ("SeriesInstanceUID", "Modality", "SeriesDescription")}
                )
    finally:
        assoc.release()
    return found
