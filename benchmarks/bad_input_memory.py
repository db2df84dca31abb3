"""Peak memory of the Deploy app on the bad-input matrix (issue 31: it must stay under 2 GiB, the MAP allows 4).

Run: ``.venv/bin/python -m benchmarks.bad_input_memory``.  Every named case of ``tests/robustness/bad_inputs.py``
that is a file or folder (arrays and absent paths are API-only) is run through the app on its own, beside one good
photograph that must still be assessed, and then all cases together in one study.  Each run is a fresh
``python -m app_packages.fiqa_app`` process; its peak RSS is the kernel's own count (``ru_maxrss`` from
``os.wait4``), not a sample.  Writes ``results/bad_input_memory.{json,md}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import write_results
from tests.robustness.bad_inputs import PHOTOGRAPHS, VOLUMES, Case, good_photograph

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 2048


def run_app(study: Path, out: Path) -> dict[str, object]:
    """Run the app on ``study``; its exit status, wall time and peak RSS (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_packages.fiqa_app", "-i", str(study), "-o", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    report = json.loads((out / "run_report.json").read_text()) if (out / "run_report.json").exists() else {}
    return {
        "exit": proc.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1),  # Linux reports kilobytes
        "good_photograph_assessed": _assessed(report, "good.jpg"),
    }


def _assessed(report: dict, name: str) -> bool:
    """Whether the run report holds a score for the item whose key ends with ``name``."""
    items = [s for s in report.get("items", []) if s["item"].endswith(name)]
    return bool(items) and all(s["status"] == "done" and "score" in m for s in items for m in s["models"])


def build_case(case: Case, study: Path) -> bool:
    """Put the case's input into ``study``; False when it is not a file or folder the app could be given."""
    item = case.build(study)
    return isinstance(item, Path) and (item.exists() or item.is_fifo())


def main() -> dict:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        together = root / "all" / "study"
        together.mkdir(parents=True)
        good_photograph(together)
        for n, case in enumerate(PHOTOGRAPHS + VOLUMES):
            study = root / f"case{n}" / "study"
            study.mkdir(parents=True)
            if not build_case(case, study):
                continue
            (together / f"case{n}").mkdir()
            build_case(case, together / f"case{n}")
            good_photograph(study)
            runs.append({"case": case.name, **run_app(study, study.parent / "out")})
            print(runs[-1], flush=True)
        runs.append({"case": f"all {len(runs)} cases in one study", **run_app(together, together.parent / "out")})
        print(runs[-1], flush=True)
    worst = max(runs, key=lambda r: r["peak_rss_mb"])
    payload = {
        "limit_mb": LIMIT_MB,
        "runs": runs,
        "worst_case": worst["case"],
        "worst_peak_rss_mb": worst["peak_rss_mb"],
        "all_under_limit": all(r["peak_rss_mb"] < LIMIT_MB for r in runs),
        "good_photograph_always_assessed": all(r["good_photograph_assessed"] for r in runs),
    }
    rows = [[r["case"], r["exit"], r["peak_rss_mb"], r["seconds"], r["good_photograph_assessed"]] for r in runs]
    write_results("bad_input_memory", payload, ["case", "exit", "peak RSS (MB)", "seconds", "good photo scored"], rows)
    return payload


if __name__ == "__main__":
    main()
