"""Send the DICOM outputs to a PACS (C-STORE) and find them back (C-FIND), with pynetdicom.

A destination is written ``AE_TITLE@host:port`` (e.g. ``ORTHANC@127.0.0.1:4242``); our calling AE title is
``MONAI_FIQA``.  Every object is stored or reported on its own: a PACS that refuses a SOP class (many refuse
Segmentation or Parametric Map objects), a rejected object or a dropped association never stops the others, and
the outputs stay on disk either way.  Warning statuses (0xB000, 0xB006, 0xB007) are successes with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pynetdicom import AE
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


WARNING_STATUSES = (0xB000, 0xB006, 0xB007)


def _store_one(assoc: Any, path: Path, accepted: set[str]) -> tuple[bool, str | None]:
    """(stored, reason or warning) for one file on an established association."""
    ds = pydicom.dcmread(path)
    if str(ds.SOPClassUID) not in accepted:
        return False, f"the PACS does not accept SOP class {ds.SOPClassUID.name} ({ds.SOPClassUID})"
    if not assoc.is_established:
        return False, "association lost before this object"
    try:
        status = assoc.send_c_store(ds)
    except (ValueError, RuntimeError, OSError) as exc:  # pynetdicom: no context, aborted association, socket
        return False, f"{type(exc).__name__}: {exc}"
    if not status or "Status" not in status:
        return False, "no response (timeout or aborted association)"
    code = int(status.Status)
    if code == 0:
        return True, None
    if code in WARNING_STATUSES:
        return True, f"stored with warning status {code:#06x}"
    return False, f"status {code:#06x}"


def store_files(files: list[Path], dest: PacsDestination) -> dict[str, Any]:
    """C-STORE ``files`` one by one; returns ``{"destination", "stored", "warnings": {file: status},
    "failed": {file: reason}}``.

    Raises:
        ConnectionError: no association at all (the caller reports it for every file).
    """
    failed: dict[str, str] = {}
    warnings: dict[str, str] = {}
    stored = 0
    if files:
        # request exactly the classes we send (pynetdicom's default storage list stops at 128 classes and leaves
        # out some we write, e.g. Parametric Map)
        classes = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPClassUID) for f in files}
        assoc = _associate(dest, sorted(classes))
        accepted = {str(c.abstract_syntax) for c in assoc.accepted_contexts}
        try:
            for f in files:
                ok, note = _store_one(assoc, f, accepted)
                stored += ok
                if note:
                    (warnings if ok else failed)[str(f)] = note
        finally:
            if assoc.is_established:
                assoc.release()
    return {"destination": str(dest), "stored": stored, "warnings": warnings, "failed": failed}


def store_outputs(out: Path, dest: PacsDestination, files: list[Path] | None = None) -> dict[str, Any]:
    """C-STORE this run's DICOM objects (``files``, relative to ``out``; default every ``.dcm`` under
    ``out/dicom``); an unreachable PACS is reported per file, not raised."""
    paths = sorted(out / f for f in files) if files is not None else sorted((out / "dicom").rglob("*.dcm"))
    try:
        result = store_files(paths, dest)
    except ConnectionError as exc:
        result = {"destination": str(dest), "stored": 0, "warnings": {}, "failed": {str(f): str(exc) for f in paths}}
    for key in ("failed", "warnings"):
        result[key] = {str(Path(k).relative_to(out)): v for k, v in result[key].items()}
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
