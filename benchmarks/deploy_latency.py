"""Latency of the MONAI Deploy app on the demo study: the whole app (process start to exit) and per series.

Run: ``.venv/bin/python -m benchmarks.deploy_latency [--repeats 3]``.  Each repeat runs
``python -m app_packages.fiqa_app -i STUDY -o OUT`` in a fresh process on the sample study (fundus OP, one CT slice,
a 19-slice MR series); with no trained fundus bundle installed, the fundus photograph is reported and costs nothing.
Per-series seconds (load + assess + write SR/SEG/SC) come from the run report; "app" is the wall time of the process,
including Python, MONAI/holoscan imports and bundle loading.  Writes ``results/deploy_latency.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import write_results
from monai_fiqa.deploy.sample_study import make_sample_study

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        make_sample_study(study)
        walls, per_series = [], {}
        for k in range(args.repeats):
            out = Path(tmp) / f"out{k}"
            t0 = time.perf_counter()
            cmd = [sys.executable, "-m", "app_packages.fiqa_app", "-i", str(study), "-o", str(out), "-l", "WARN"]
            subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
            walls.append(time.perf_counter() - t0)
            report = json.loads((out / "run_report.json").read_text())
            for item in report["items"]:
                per_series.setdefault(item["item"], []).append((item["seconds"], item["status"]))
    rows = [["whole app (process)", "-", f"{statistics.median(walls):.2f}", f"{min(walls):.2f}", f"{max(walls):.2f}"]]
    for name, runs in per_series.items():
        secs = [s for s, _ in runs]
        rows.append([name, runs[-1][1], f"{statistics.median(secs):.2f}", f"{min(secs):.2f}", f"{max(secs):.2f}"])
    payload = {
        "repeats": args.repeats,
        "app_seconds": walls,
        "series_seconds": {k: [s for s, _ in v] for k, v in per_series.items()},
        "series_status": {k: v[-1][1] for k, v in per_series.items()},
    }
    write_results("deploy_latency", payload, ["item", "status", "median s", "min s", "max s"], rows)


if __name__ == "__main__":
    main()
