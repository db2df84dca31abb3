"""The camera-shift benchmarks' shared bookkeeping: cameras chosen by name, finished camera reports kept and reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._camera_shift import CAMERA_SHIFT_PROFILES, cached_camera_report, select_cameras


def test_cameras_are_selected_by_name_in_the_sets_order() -> None:
    names = [c.name for c in CAMERA_SHIFT_PROFILES]
    assert select_cameras(None) == tuple(CAMERA_SHIFT_PROFILES)
    assert [c.name for c in select_cameras([names[2], names[0]])] == [names[0], names[2]]
    with pytest.raises(SystemExit, match="unknown cameras"):
        select_cameras(["no_such_camera"])


def test_a_finished_camera_report_is_kept_and_reused(tmp_path: Path) -> None:
    camera = CAMERA_SHIFT_PROFILES[1]
    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        return {"score": [1.5, "good"]}

    first = cached_camera_report(tmp_path / "digest", camera, compute)
    again = cached_camera_report(tmp_path / "digest", camera, compute)
    assert first == again == {"score": [1.5, "good"]}
    assert len(calls) == 1
    assert (tmp_path / "digest" / f"{camera.name}.json").is_file()
    assert cached_camera_report(None, camera, compute) == first and len(calls) == 2
