"""The item index of an archive run: every item of the INPUT, written in bounded chunks as Parquet parts.

Why an index on disk: an archive can hold millions of files.  The folder is walked lazily (``os.scandir``, one
folder at a time) and the items go to ``OUT/_index/part-*.parquet`` in chunks of :data:`CHUNK` rows, so the driver
never holds the whole list; Ray Data then streams the parts to the workers.  A manifest (CSV or Parquet, local or
any ``fsspec`` URL) is copied into the same form, so the pipeline has one input format.

An item is a photograph or NIfTI file (``kind`` image / volume) or one DICOM series (``kind`` volume, its files in
``files``).  DICOM files are grouped per folder by SeriesInstanceUID, reading headers only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pydicom

__all__ = ["CHUNK", "INDEX_SCHEMA", "BatchInputError", "Item", "iter_folder", "iter_manifest", "write_index"]

CHUNK = 10_000  # rows per index part: bounds the driver's memory whatever the archive's size
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha")
INDEX_SCHEMA = pa.schema([("path", pa.string()), ("kind", pa.string()), ("files", pa.list_(pa.string()))])


class BatchInputError(ValueError):
    """The INPUT (folder or manifest) cannot be read at all: reported before any work starts."""


@dataclass(frozen=True)
class Item:
    """One unit of work: ``path`` names it in the results; ``files`` lists a DICOM series' files."""

    path: str
    kind: str  # "image" | "volume"
    files: list[str] = field(default_factory=list)


def _kind_of(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(IMAGE_SUFFIXES):
        return "image"
    if lower.endswith(VOLUME_SUFFIXES):
        return "volume"
    return None


def _dicom_series(folder: Path, files: list[Path]) -> Iterator[Item]:
    """The DICOM series among a folder's files; a file that is not readable DICOM is its own item (an error row)."""
    series: dict[str, list[str]] = {}
    for f in files:
        try:
            header = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
            uid = str(header.SeriesInstanceUID)
        except Exception:  # corrupt or not DICOM: the worker reports why
            yield Item(str(f), "volume", [str(f)])
            continue
        series.setdefault(uid, []).append(str(f))
    for n, members in enumerate(series.values()):
        name = str(folder) if len(series) == 1 else f"{folder}#series{n + 1}"
        yield Item(name, "volume", sorted(members))


def iter_folder(root: str | Path) -> Iterator[Item]:
    """Items of a folder tree, one folder in memory at a time (hidden files and folders are skipped)."""
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue  # unreadable sub-folder: nothing to list (the root itself is checked by write_index)
        dicom: list[Path] = []
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
            elif e.is_file(follow_symlinks=False):
                kind = _kind_of(e.name)
                if kind is not None:
                    yield Item(e.path, kind)
                elif e.name.lower().endswith(".dcm"):
                    dicom.append(Path(e.path))
        yield from _dicom_series(folder, dicom)


def _manifest_table(manifest: str) -> pa.Table:
    import fsspec
    import pyarrow.csv as pacsv

    try:
        with fsspec.open(manifest, "rb") as fh:
            table = pq.read_table(fh) if manifest.lower().endswith(".parquet") else pacsv.read_csv(fh)
    except Exception as exc:
        raise BatchInputError(f"cannot read the manifest {manifest}: {type(exc).__name__}: {exc}") from exc
    if "path" not in table.column_names:
        raise BatchInputError(f"manifest {manifest} has no 'path' column (columns: {', '.join(table.column_names)})")
    return table


def iter_manifest(manifest: str) -> Iterator[Item]:
    """Items listed by a CSV/Parquet manifest with a ``path`` column (and optionally ``kind``: image / volume).

    A path without a recognised suffix and without ``kind`` is taken as a volume (a DICOM file or series folder).
    """
    table = _manifest_table(manifest)
    kinds = table.column("kind").to_pylist() if "kind" in table.column_names else None
    for i, path in enumerate(table.column("path").to_pylist()):
        if not path:
            continue
        kind = (kinds[i] if kinds and kinds[i] else None) or _kind_of(str(path)) or "volume"
        yield Item(str(path), kind)


def write_index(source: str | Path, out: Path) -> int:
    """Write the items of ``source`` (folder, or manifest file / URL) to ``out/_index``; return how many.

    Raises:
        BatchInputError: the folder does not exist or cannot be listed, or the manifest cannot be read.
    """
    text = str(source)
    local = Path(text)
    if "://" not in text and local.is_dir():
        if not os.access(local, os.R_OK | os.X_OK):
            raise BatchInputError(f"cannot list the input folder {local}")
        items = iter_folder(local)
    elif "://" in text or local.is_file():
        items = iter_manifest(text)
    else:
        raise BatchInputError(f"input {text} is neither a folder nor a manifest file")
    index = out / "_index"
    shutil.rmtree(index, ignore_errors=True)  # the index is rebuilt on every run; results live in the shards
    index.mkdir(parents=True)
    total, chunk = 0, []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            total += _write_part(index, total // CHUNK, chunk)
            chunk = []
    if chunk or total == 0:
        total += _write_part(index, total // CHUNK + (1 if total % CHUNK else 0), chunk)
    return total


def _write_part(index: Path, n: int, items: list[Item]) -> int:
    table = pa.table(
        {"path": [i.path for i in items], "kind": [i.kind for i in items], "files": [i.files for i in items]},
        schema=INDEX_SCHEMA,
    )
    pq.write_table(table, index / f"part-{n:06d}.parquet")
    return len(items)
