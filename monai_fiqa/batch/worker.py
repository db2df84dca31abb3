"""The model actor of an archive run: loads its bundles once, scores a batch of items, writes one shard.

Ray Data calls :class:`AssessWorker` on batches of index rows (``map_batches`` with an actor pool).  Each item goes
to every requested model whose input kind (photograph or volume) matches it; every (item, model) pair becomes one
result row, an error row included, so a bad item never stops the run and is never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from monai_fiqa.api import bundle_version, load
from monai_fiqa.batch.shards import done_keys, result_key, write_shard
from monai_fiqa.engine.runners import input_kind
from monai_fiqa.io.images import read_rgb
from monai_fiqa.io.volumes import read_volume
from monai_fiqa.viz import overlay_map, save_png

__all__ = ["NO_MODEL", "AssessWorker", "content_hash"]

NO_MODEL = "(none)"  # the model column of an item that no requested model can assess


def _hash_files(paths: Sequence[str], named: bool) -> str:
    h = hashlib.sha256()
    for p in paths:
        if named:  # a series: its files' names belong to its identity, not only their bytes
            h.update(os.path.basename(p).encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def content_hash(path: str, files: Sequence[str]) -> str:
    """SHA-256 of an item's content: the file's bytes, or a series' files (names and bytes, in order)."""
    if files:
        return _hash_files(sorted(files), named=True)
    if os.path.isdir(path):
        return _hash_files(sorted(str(p) for p in Path(path).iterdir() if p.is_file()), named=True)
    return _hash_files([path], named=False)


@contextmanager
def _local_copy(path: str):
    """A local path for an item: the path itself, or a temporary copy of an ``fsspec`` URL (same suffix)."""
    if "://" not in path:
        yield path
        return
    import fsspec

    suffix = "".join(Path(path.split("?")[0]).suffixes[-2:])
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as tmp, fsspec.open(path, "rb") as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            tmp.write(block)
    try:
        yield tmp.name
    finally:
        os.unlink(tmp.name)


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o), sort_keys=True)


class AssessWorker:
    """Callable class for ``Dataset.map_batches``: one instance per actor, bundles loaded once.

    Args:
        models: bundle names.
        out: the run folder (shards, maps).
        maps: also save each result's quality map as a PNG overlay (photographs) or the model's own preview.
        device: torch device of the bundles.
    """

    def __init__(self, models: Sequence[str], out: str, maps: bool = False, device: str = "cpu") -> None:
        import torch

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        self.out, self.maps = Path(out), maps
        self.assessors = {m: load(m, device=device) for m in models}
        self.versions = {m: bundle_version(m) for m in models}
        self.kinds = {m: input_kind(a) for m, a in self.assessors.items()}
        self.done = done_keys(self.out)  # what earlier runs finished: skipped, so a rerun only finishes the rest

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[dict[str, Any]] = []
        skipped = 0
        for path, kind, files in zip(batch["path"], batch["kind"], batch["files"], strict=True):
            item_rows, was_done = self._assess_item(
                str(path), str(kind), [str(f) for f in (files if files is not None else [])]
            )
            rows += item_rows
            skipped += was_done
        write_shard(self.out, rows)
        return {"items": np.array([len(batch["path"])]), "skipped": np.array([skipped])}  # progress, one row a call

    def _row(self, path: str, digest: str, kind: str, model: str, **values: Any) -> dict[str, Any]:
        row = {"path": path, "content_hash": digest, "kind": kind, "model": model}
        row["model_version"] = self.versions.get(model, "")
        return {**row, **values}

    def _assess_item(self, path: str, kind: str, files: list[str]) -> tuple[list[dict[str, Any]], bool]:
        """Rows of one item, and whether every one of them was already done."""
        models = [m for m, k in self.kinds.items() if k == kind]
        try:
            with _local_copy(path) as local:
                digest = content_hash(local, files)
                todo = [m for m in models if result_key(path, digest, m, self.versions[m]) not in self.done]
                if models and not todo:
                    return [], True
                if not models:
                    wanted = ", ".join(self.kinds)
                    error = f"no requested model ({wanted}) assesses this kind of input ({kind})"
                    return [self._row(path, digest, kind, NO_MODEL, status="error", error=error)], False
                return [self._assess_with(m, path, local, digest, kind, files) for m in todo], False
        except OSError as exc:  # missing or unreadable: one error row per model, so the summary counts it
            reason = f"{type(exc).__name__}: {exc.strerror or exc}"
            return [self._row(path, "", kind, m, status="error", error=reason) for m in models or [NO_MODEL]], False

    def _assess_with(self, model: str, path: str, local: str, digest: str, kind: str, files: list[str]) -> dict:
        start = time.perf_counter()
        try:
            item = (read_volume(files) if files else read_volume(local)) if kind == "volume" else local
            result = self.assessors[model].assess(item)
        # Why so broad: an archive holds whatever was ever saved; any failure of one item must become its error
        # row (with the exception's type) and the run must go on.
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            return self._row(path, digest, kind, model, status="error", error=error)
        params = dict(result.params)
        warnings = params.get("warnings") or []
        return self._row(
            path,
            digest,
            kind,
            model,
            status="ok",
            score=float(result.score),
            grade=result.grade,
            out_of_distribution=bool(params.get("out_of_distribution", False)),
            ood_reason="; ".join(map(str, warnings)),
            severities=_json(params.get("degradations") or params.get("artefacts") or {}),
            params=_json(params),
            map_png=self._save_map(model, digest, kind, item, result),
            seconds=round(time.perf_counter() - start, 4),
        )

    def _save_map(self, model: str, digest: str, kind: str, item: Any, result: Any) -> str | None:
        if not self.maps or result.quality_map is None:
            return None
        if kind == "image":
            picture = overlay_map(read_rgb(item)[0], result.quality_map)
        else:
            preview = getattr(self.assessors[model], "preview", None)
            picture = preview(item, result) if preview is not None else None
        if picture is None:
            return None
        rel = f"maps/{digest[:16]}_{model}.png"
        save_png(picture, self.out / rel)
        return rel
