from __future__ import annotations

from monai_fiqa.engine.parallel import process_map


def test_process_map_keeps_the_order_on_workers_and_runs_small_jobs_here() -> None:
    assert list(process_map(abs, range(-100, 0), workers=2)) == list(range(100, 0, -1))
    assert list(process_map(abs, [-1, -2], workers=2)) == [1, 2]  # under min_items: no pool
