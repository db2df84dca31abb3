"""Map a function over items on worker processes, in order, for data building on a few cores.

Why processes, and why "spawn": the data builders are NumPy/SciPy code that holds the GIL, and a forked child of a
process that already ran torch can deadlock in OpenMP.  Spawned workers re-import the package (about two seconds),
so small jobs run in the calling process instead.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

__all__ = ["default_workers", "process_map"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_map(
    fn: Callable[[T], R], items: Sequence[T] | Iterable[T], workers: int, chunksize: int = 8, min_items: int = 64
) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` spawned processes (results in order, lazily), or in this process when
    ``workers`` <= 1 or there are fewer than ``min_items`` items.  ``fn`` and the items must pickle."""
    items = list(items)
    if workers <= 1 or len(items) < min_items:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)
