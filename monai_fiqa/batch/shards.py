"""Result shards of an archive run: their schema, atomic writes, and what a rerun may skip.

Exactly-once, by construction: a worker writes one shard per batch to a temporary name and renames it into
``OUT/shards/`` (a rename is atomic), so a shard is either complete or absent, whatever is killed when.  The
shard's name is a hash of the keys it holds, so a batch that Ray retries after a worker died rewrites the same file
instead of adding a duplicate.  A rerun reads the keys already in the shards (path + content hash + model +
model version) and skips them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["RESULT_SCHEMA", "SHARDS", "done_keys", "read_results", "result_key", "write_shard"]

SHARDS = "shards"
# One row per (item, model).  status: "ok" (scored) or "error" (the reason in ``error``); severities and params
# are JSON objects (per-kind severities of FTHNet, artefact parameters of MedIQA, anything else a model reports).
RESULT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("content_hash", pa.string()),  # sha256 of the file (of a series: of its files' names and bytes)
        ("kind", pa.string()),  # image | volume
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("status", pa.string()),
        ("score", pa.float64()),
        ("grade", pa.string()),
        ("out_of_distribution", pa.bool_()),
        ("ood_reason", pa.string()),
        ("error", pa.string()),
        ("severities", pa.string()),
        ("params", pa.string()),
        ("map_png", pa.string()),  # relative to OUT, when --maps
        ("seconds", pa.float64()),
    ]
)


def result_key(path: str, content_hash: str, model: str, model_version: str) -> str:
    """What identifies a finished result: the same file content scored by the same model version."""
    return "\x1f".join((path, content_hash, model, model_version))


def write_shard(out: Path, rows: Sequence[dict]) -> Path | None:
    """Write rows as one Parquet shard, atomically, under a name derived from their keys; ``None`` for no rows."""
    if not rows:
        return None
    keys = sorted(result_key(r["path"], r["content_hash"], r["model"], r["model_version"]) for r in rows)
    name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
    folder = out / SHARDS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"part-{name}.parquet"
    tmp = folder / f".tmp-{name}-{os.getpid()}.parquet"
    pq.write_table(pa.Table.from_pylist(list(rows), schema=RESULT_SCHEMA), tmp)
    os.replace(tmp, final)
    return final


def _shard_files(out: Path) -> list[Path]:
    folder = out / SHARDS
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def done_keys(out: Path) -> set[str]:
    """Keys of every result already written (an unreadable shard is ignored: its items are simply redone)."""
    keys: set[str] = set()
    for f in _shard_files(out):
        try:
            t = pq.read_table(f, columns=["path", "content_hash", "model", "model_version"])
        except (OSError, pa.ArrowException):
            continue
        keys.update(result_key(*row) for row in zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
    return keys


def read_results(out: Path, columns: Iterable[str] | None = None) -> pa.Table:
    """All result rows of a run folder as one table (the documented :data:`RESULT_SCHEMA`)."""
    files = _shard_files(out)
    cols = list(columns) if columns is not None else None
    if not files:
        return RESULT_SCHEMA.empty_table() if cols is None else RESULT_SCHEMA.empty_table().select(cols)
    return pa.concat_tables(pq.read_table(f, columns=cols) for f in files)
