"""Test helpers: a tiny assessor for the bundle loading path, and MONAI's bundle runner shared by the bundle tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from monai_fiqa.api import QualityResult
from monai_fiqa.fundus.pseudo_mos import GRADE_THRESHOLDS
from monai_fiqa.results import grade_from_score


class MeanLevelAssessor:
    """Scores an image by its mean grey level times ``scale`` (clipped to 0-100): enough to test ``load``."""

    def __init__(self, device: str = "cpu", scale: float = 1.0) -> None:
        self.device, self.scale = device, scale

    def assess(self, x: np.ndarray) -> QualityResult:
        score = float(np.clip(np.asarray(x, dtype=np.float32).mean() * self.scale, 0, 100))
        qmap = np.full(np.asarray(x).shape[:2], score / 100.0, dtype=np.float32)
        return QualityResult(score, grade_from_score(score, GRADE_THRESHOLDS), qmap, {"model": "mean-level"})


def bundle_run(bundle: Path, dataset_dir: Path, output_dir: Path) -> dict:
    """``python -m monai.bundle run`` with the inference config on a folder; returns its results.json."""
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json"]
    cmd += ["--dataset_dir", str(dataset_dir), "--output_dir", str(output_dir)]
    out = subprocess.run(cmd, cwd=bundle, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads((output_dir / "results.json").read_text())


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll ``url`` until it answers; fail the test with the server's log if it exits or ``timeout`` s pass."""
    import time
    import urllib.request

    import pytest

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"{url} did not come up: {log.read_text()[-3000:]}")
            time.sleep(0.5)


def missing_environment(reason: str) -> None:
    """A tool or environment a test needs is not installed: skip with the reason (a developer's quick run), but fail
    under CI, where `make test` installed everything and a skip would hide a broken install."""
    import os

    import pytest

    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
