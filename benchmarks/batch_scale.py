"""Scale of ``monai-fiqa batch`` (issue 28): items/s at 1 and 2 CPUs, memory that does not grow with the archive,
overhead against ``assess`` in a plain loop, and a projection to a 1 000 000-image archive.

Run on a quiet machine (no training beside it): ``.venv/bin/python -m benchmarks.batch_scale [--model fundus_efiqa]
[--sizes 1000 10000] [--quick]``.  The archive is generated here: degraded copies of the DRIVE test photographs
(``monai_fiqa.fundus.physics``, random kind and severity) and of synthetic renders, each written as its own JPEG,
so every file has its own content hash.  Every run is a fresh ``monai-fiqa batch`` process on a fresh OUT; the peak
RSS of the driver and of the Ray workers is sampled every 0.2 s over the process tree.  Writes
``results/batch_scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from PIL import Image

from benchmarks._common import write_results

DRIVE_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus" / "DRIVE" / "test" / "images"


def make_archive(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` distinct photographs: DRIVE test photographs and renders, each degraded by one random kind."""
    from monai_fiqa.fundus.landmarks import fov_mask
    from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation
    from monai_fiqa.fundus.renderer import render_fundus

    rng = np.random.default_rng(seed)
    bases = [np.asarray(Image.open(p).convert("RGB").resize((512, 512))) for p in sorted(DRIVE_TEST.glob("*.tif"))]
    bases += [render_fundus(seed + k, size=512).image for k in range(max(4, len(bases) // 2))]
    fovs = [fov_mask(b) for b in bases]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        base, fov = bases[i % len(bases)], fovs[i % len(bases)]
        kind = str(rng.choice(list(DEGRADATIONS)))
        params = DEGRADATIONS[kind].from_severity(float(rng.uniform(0.0, 1.0)), rng)
        out, _ = apply_degradation(base.astype(np.float32) / 255.0, kind, params, fov, rng)
        path = folder / f"{i // 1000:04d}" / f"img{i:07d}.jpg"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)).save(
            path, quality=int(rng.integers(80, 96))
        )
        paths.append(path)
    return paths


class _PeakRss:
    """Peak RSS of a process (the driver) and of its largest model actor (``MapWorker``), sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.driver = self.workers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _actor_rss(self, child: psutil.Process) -> int:
        try:
            return child.memory_info().rss if "MapWorker" in " ".join(child.cmdline()) else 0
        except psutil.Error:  # the process ended while being read
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.driver = max(self.driver, self.root.memory_info().rss)
                actors = [self._actor_rss(c) for c in self.root.children(recursive=True)]
                self.workers = max([self.workers, *actors])
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"driver_mb": round(self.driver / 2**20, 1), "worker_mb": round(self.workers / 2**20, 1)}


def run_batch_process(archive: Path, out: Path, model: str, cpus: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "monai_fiqa.cli", "batch", str(archive), "--models", model, "--out", str(out)]
    cmd += ["--cpus", str(cpus)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = _PeakRss(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    memory = peak.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"batch failed: {err[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    done = summary["models"][model]["done"] + summary["models"][model]["failed"]
    assess = float(pd.read_parquet(out / "shards", columns=["seconds"])["seconds"].sum())
    return {
        "cpus": cpus,
        "items": done,
        "seconds": round(wall, 2),
        "items_per_s": round(done / wall, 3),
        # inside the actors: the model's own time per item, and the phases of the run (index, Ray start, assess)
        "actor_assess_s_per_item": round(assess / max(done, 1), 4),
        "phases_s": summary.get("seconds", {}),
        **memory,
    }


def plain_loop(paths: list[Path], model: str) -> float:
    """Seconds per item of ``load(model).assess(path)`` in one process on one thread (loading excluded)."""
    code = (
        "import sys, time, torch; torch.set_num_threads(1)\n"
        "from monai_fiqa.api import load\n"
        f"a = load({model!r}); paths = sys.argv[1:]\n"
        "t = time.perf_counter()\n"
        "for p in paths: a.assess(p)\n"
        "print((time.perf_counter() - t) / len(paths))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def machine_scaling(paths: list[Path], model: str, repeats: int = 2) -> dict[str, object]:
    """Seconds per item of one plain loop alone and of each of two plain loops run at once (halves of ``paths``),
    ``repeats`` times interleaved (one such pair of measurements varies by +-10 % here).

    Why: this machine's two cores slow each other down (any job on the second core makes a single-threaded loop on
    the first slower), so 2-CPU efficiency below 100 % is partly the hardware's; this is what two independent
    processes get here, measured the same way.
    """
    half = len(paths) // 2
    alone, pairs = [], []
    for _ in range(repeats):
        alone.append(plain_loop(paths[:half], model))
        with ThreadPoolExecutor(2) as pool:  # two processes (plain_loop starts one), started together
            pairs.append(
                float(np.mean(list(pool.map(lambda part: plain_loop(part, model), (paths[:half], paths[half:])))))
            )
    return {
        "alone_s_per_item": [round(v, 4) for v in alone],
        "two_at_once_s_per_item": [round(v, 4) for v in pairs],
        "efficiency": round(float(np.mean(alone) / np.mean(pairs)), 3),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="fundus_efiqa")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--loop-items", type=int, default=200, help="items timed in each plain assess loop")
    ap.add_argument("--quick", action="store_true", help="sizes 40 and 120, 20 loop items (checks the script)")
    ap.add_argument(
        "--machine-scaling-only",
        action="store_true",
        help="only the two-loops-at-once measurement, added to the existing results/batch_scale.json",
    )
    args = ap.parse_args(argv)
    if args.machine_scaling_only:
        _add_machine_scaling(args.model, args.loop_items)
        return
    sizes, loop_items = ([40, 120], 20) if args.quick else (sorted(args.sizes), args.loop_items)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        paths = make_archive(archive, max(sizes))
        # The loop's items are spread over the whole archive (its mix of kinds), and the loop is timed before and
        # after the batch runs: this machine's speed drifts by several per cent over the hour the runs take.
        sample = paths[:: max(1, len(paths) // loop_items)][:loop_items]
        loops = [plain_loop(sample, args.model)]
        for size in sizes:
            sub = Path(tmp) / f"archive{size}"
            sub.mkdir()
            for p in paths[:size]:  # hard links: the same files, no copy
                target = sub / p.relative_to(archive)
                target.parent.mkdir(exist_ok=True)
                target.hardlink_to(p)
            for cpus in (1, 2) if size == min(sizes) or size == max(sizes) else (2,):
                runs.append({"size": size, **run_batch_process(sub, Path(tmp) / f"out{size}_{cpus}", args.model, cpus)})
        loops.append(plain_loop(sample, args.model))
        hardware = machine_scaling(sample, args.model)
    per_item_loop = float(np.mean(loops))
    one = next(r for r in runs if r["cpus"] == 1 and r["size"] == max(sizes))
    two = next(r for r in runs if r["cpus"] == 2 and r["size"] == max(sizes))
    overhead = one["seconds"] / one["items"] / per_item_loop - 1.0
    efficiency = two["items_per_s"] / (2 * one["items_per_s"])
    per_cpu = two["items_per_s"] / 2  # the rate per CPU seen at 2 CPUs, its scaling losses included
    projection = {
        f"{nodes} nodes x 16 CPUs": round(1_000_000 / (per_cpu * 16 * nodes) / 3600, 1) for nodes in (1, 8, 64)
    }
    payload = {
        "model": args.model,
        "runs": runs,
        "plain_loop_s_per_item": round(per_item_loop, 4),
        "plain_loop_before_after": [round(x, 4) for x in loops],
        "overhead_at_1_cpu": round(overhead, 3),
        # the same, split: the model slower inside the actor, and time outside the model (Ray, reading, writing)
        "actor_assess_vs_loop_at_1_cpu": round(one["actor_assess_s_per_item"] / per_item_loop - 1.0, 3),
        "outside_model_s_per_item_at_1_cpu": round(one["seconds"] / one["items"] - one["actor_assess_s_per_item"], 4),
        "scaling_efficiency_2_cpus": round(efficiency, 3),
        "two_plain_loops_at_once": hardware,
        "projection_hours_1M_images": projection,
        "projection_note": "hours = 1e6 / (per-CPU rate seen at 2 CPUs x CPUs), assuming that rate holds; a projection",
    }
    keys = ["size", "cpus", "items_per_s", "seconds", "actor_assess_s_per_item", "driver_mb", "worker_mb"]
    rows = [[r[k] for k in keys] for r in runs]
    name = "batch_scale_quick" if args.quick else "batch_scale"  # a script check is never mistaken for the result
    header = ["items", "CPUs", "items/s", "seconds", "model s/item in actor", "driver MB", "worker MB"]
    write_results(name, payload, header, rows)
    print(json.dumps({k: payload[k] for k in payload if k != "runs"}, indent=2))


def _add_machine_scaling(model: str, loop_items: int) -> None:
    """Measure :func:`machine_scaling` on a fresh archive and add it to the existing results (same table)."""
    results = Path(__file__).resolve().parent / "results" / "batch_scale.json"
    payload = json.loads(results.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        payload["two_plain_loops_at_once"] = machine_scaling(make_archive(Path(tmp), loop_items), model)
    results.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload["two_plain_loops_at_once"]))


if __name__ == "__main__":
    main()
