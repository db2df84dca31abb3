"""``run_batch``: an archive-scale run on Ray Data - embedded local Ray by default, a Ray cluster unchanged.

The pipeline: index the INPUT into bounded Parquet parts (:mod:`.index`) -> ``ray.data.read_parquet`` streams them
-> ``map_batches`` with a fixed pool of :class:`~.worker.AssessWorker` actors (bundles loaded once per actor), each
batch written as one atomic result shard (:mod:`.shards`) -> the driver only counts what comes back (progress bar
with items/s and ETA) -> a summary and ``report.html`` (:mod:`.report`) from the shards.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from monai_fiqa.api import BundleNotFoundError, available_bundles
from monai_fiqa.batch.index import BatchInputError, write_index
from monai_fiqa.batch.report import read_rows, summarise, write_report
from monai_fiqa.batch.shards import SHARDS
from monai_fiqa.batch.worker import AssessWorker
from monai_fiqa.io.folders import ensure_writable_folder

__all__ = ["BatchInputError", "BatchOutputError", "BatchPlan", "plan_resources", "run_batch"]

RAY_ADDRESS_ENV = "RAY_ADDRESS"


class BatchOutputError(OSError):
    """OUT cannot be created or written: reported before any work starts."""


@dataclass(frozen=True)
class BatchPlan:
    """How a run uses the CPUs: ``actors`` model actors of ``cpus_per_actor`` each, ``batch_size`` items a call."""

    actors: int
    cpus_per_actor: int
    batch_size: int


def plan_resources(cpus: int, actors: int | None = None, batch_size: int | None = None) -> BatchPlan:
    """One single-threaded actor per CPU by default (actors work on different items, so decoding and writing of
    one overlap the inference of another); batches of 8 are a shard every ~2 s with ``fundus_efiqa`` here
    (0.26 s per photograph on one thread, ``benchmarks/batch_scale.py``)."""
    n = actors or max(1, cpus)
    return BatchPlan(actors=n, cpus_per_actor=max(1, cpus // n), batch_size=batch_size or 8)


class _PhaseClock:
    """Wall seconds of each phase of a run (index, Ray start, assessment), for the summary: where a slow run's time
    went, and what ``benchmarks/batch_scale.py`` attributes its overhead to."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def _check_out(out: Path) -> None:
    try:
        ensure_writable_folder(out)
    except OSError as exc:
        raise BatchOutputError(f"cannot write to the output folder {out}: {exc.strerror or exc}") from exc
    for stale in (out / SHARDS).glob(".tmp-*") if (out / SHARDS).is_dir() else []:
        stale.unlink(missing_ok=True)  # a worker killed mid-write; its batch is redone


def _check_models(models: list[str]) -> None:
    installed = available_bundles()
    missing = [m for m in models if m not in installed]
    if missing:
        raise BundleNotFoundError(
            f"not installed with weights: {', '.join(missing)}; installed: {', '.join(sorted(installed)) or 'none'}"
        )


def _start_ray(address: str | None, cpus: int | None) -> int:
    """Connect to a cluster or start an embedded Ray; return how many CPUs the model actors may take.

    One logical CPU is left to Ray Data's own tasks (listing and reading the index): with every CPU held by a model
    actor they would never be scheduled and the run would wait forever.
    """
    import ray

    address = address or os.environ.get(RAY_ADDRESS_ENV)
    if address:  # a cluster: its resources are what it has
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        return max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)
    model_cpus = cpus or os.cpu_count() or 1
    ray.init(num_cpus=model_cpus + 1, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    return model_cpus


def run_batch(
    source: str | Path,
    models: list[str],
    out: str | Path,
    address: str | None = None,
    cpus: int | None = None,
    actors: int | None = None,
    batch_size: int | None = None,
    maps: bool = False,
    progress: bool = True,
) -> dict:
    """Assess every item of ``source`` with ``models``; results as Parquet shards in ``out``; returns the summary.

    A rerun on the same ``source`` and ``out`` skips what is already in the shards and finishes the rest.

    Args:
        source: a folder (walked lazily), or a CSV/Parquet manifest with a ``path`` column (local or ``fsspec`` URL).
        models: bundle names; each item goes to those whose input kind (photograph / volume) matches it.
        out: run folder: ``shards/``, ``maps/``, ``summary.json``, ``report.html``.
        address: a Ray cluster (``ray://host:10001`` or ``auto``); default ``$RAY_ADDRESS``, else an embedded Ray.
        cpus: CPUs of the embedded Ray (default: all).
        actors: model actors (default: one per CPU).
        batch_size: items per actor call and per shard.
        maps: save quality-map PNGs.
        progress: show a progress bar (items/s, ETA).

    Raises:
        BatchInputError: the input cannot be read; BatchOutputError: ``out`` is not writable;
        BundleNotFoundError: a model is not installed.  All before any work starts.
    """
    out = Path(out)
    _check_out(out)
    _check_models(models)
    clock = _PhaseClock()
    total = write_index(source, out)
    clock.lap("index")
    import ray
    import ray.data

    plan = plan_resources(_start_ray(address, cpus), actors, batch_size)
    clock.lap("start_ray")
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one bar, ours, counting items
    # An index part is one block, and a block goes to one actor: cut it into batch-sized blocks (streaming) so that
    # every actor gets work even when the archive is one small part.
    index = ray.data.read_parquet(str(out / "_index")).repartition(target_num_rows_per_block=plan.batch_size)
    ds = index.map_batches(
        AssessWorker,
        fn_constructor_kwargs={"models": models, "out": str(out.resolve()), "maps": maps},
        batch_size=plan.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.cpus_per_actor,
    )
    bar = tqdm(total=total, desc="batch", unit="item", disable=not progress, file=sys.stderr)
    skipped = 0
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        bar.update(int(batch["items"].sum()))
        skipped += int(batch["skipped"].sum())
    bar.close()
    clock.lap("assess")
    rows = read_rows(out)
    summary = summarise(out, rows, models, total=total, skipped=skipped, plan=plan.__dict__, seconds=clock.laps)
    write_report(out, summary, rows)
    return summary
