"""MedIQA speed and memory on a 512 x 512 x N CT volume, on this CPU.

Run: ``.venv/bin/python -m benchmarks.mediqa_speed [--checkpoint PATH]``.  Each configuration runs in its own
process (so its peak RSS is its own): a synthetic int16 CT of 512 x 512 x N slices (N = 100, 300, 600) held in
memory - reading files is not timed - assessed with and without building the volume quality map; median of three
runs after one warm-up.  Reported: seconds per volume, peak RSS, and the RSS the volume itself needs, so the
overhead of scoring is visible.  Writes ``results/mediqa_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks._common import write_results

SLICES = (100, 300, 600)


def _volume(n: int) -> np.ndarray:
    """A head-sized water cylinder with bone ring and noise: realistic HU statistics, cheap to make."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    r = np.hypot((yy - 256) / 200.0, (xx - 256) / 170.0)
    sl = np.where(r < 1.0, 40.0, -1000.0) + np.where((r > 0.92) & (r < 1.0), 900.0, 0.0)
    z = np.linspace(-1, 1, n)
    taper = np.sqrt(np.clip(1 - z**2, 0.05, 1))
    vol = np.empty((512, 512, n), np.int16)
    for i in range(n):
        scaled = np.where(r < taper[i], sl, -1000.0)
        vol[:, :, i] = (scaled + rng.normal(0, 12, (512, 512))).astype(np.int16)
    return vol


def _child(n: int, with_map: bool, checkpoint: str | None) -> dict:
    import monai_fiqa
    from monai_fiqa.io.volumes import Volume

    overrides = {"checkpoint": checkpoint} if checkpoint else {}
    assessor = monai_fiqa.load("ctmr_mediqa", **overrides)
    arr = _volume(n).astype(np.float32)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    vol = Volume(arr, (0.5, 0.5, 1.0), {"Modality": "CT", "BodyPartExamined": "HEAD"})
    assessor.assess(vol, quality_map=with_map)  # warm-up
    times = []
    for _ in range(3):
        t = time.perf_counter()
        r = assessor.assess(vol, quality_map=with_map)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "slices": n,
        "quality_map": with_map,
        "seconds": float(np.median(times)),
        "peak_rss_mb": round(peak, 1),
        "rss_before_scoring_mb": round(base_rss, 1),
        "volume_mb": round(arr.nbytes / 2**20, 1),
        "score": round(r.score, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint")
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], bool(args.child[1]), args.checkpoint)))
        return
    rows, runs = [], []
    for n in SLICES:
        for with_map in (False, True):
            cmd = [sys.executable, "-m", "benchmarks.mediqa_speed", "--child", str(n), str(int(with_map))]
            cmd += ["--checkpoint", args.checkpoint] if args.checkpoint else []
            res = json.loads(
                subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            )
            runs.append(res)
            rows.append([f"512x512x{n}", "yes" if with_map else "no", f"{res['seconds']:.2f}", res["volume_mb"],
                         res["rss_before_scoring_mb"], res["peak_rss_mb"]])  # fmt: skip
    write_results(
        "mediqa_speed",
        {"runs": runs, "target_seconds": 3.0},
        ["volume (CT, in memory)", "volume map", "s / volume", "volume MB", "RSS before MB", "peak RSS MB"],
        rows,
    )


if __name__ == "__main__":
    main()
