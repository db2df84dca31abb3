"""Fuzz the readers, ``assess`` and the Deploy app's inventory with damaged real files; count what escapes.

Run: ``.venv/bin/python -m benchmarks.fuzz [--cases 10000] [--seed 0]``.  Each case takes one real seed file (PNG,
JPEG, CT DICOM, colour DICOM, NIfTI), damages it with one mutation of :mod:`monai_fiqa.io.fuzz`, and runs it through
the reader, the assessor of its kind (EFIQA stage 2 for photographs, MedIQA for volumes, no maps) and the
inventory.  A case is *handled* when it is read and scored, or refused with the documented error type
(``ImageReadError`` / ``VolumeReadError`` / ``ValueError``); anything else is an *unhandled exception*.  Also: the
slowest case and the peak RSS.  Writes ``results/fuzz.{json,md}``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.deploy.inventory import take_inventory
from monai_fiqa.io.fuzz import MUTATIONS, mutate
from monai_fiqa.io.images import ImageReadError
from monai_fiqa.io.volumes import VolumeReadError
from tests.robustness.test_fuzz_readers import SEEDS, SUFFIX

HANDLED = (ImageReadError, VolumeReadError, ValueError)


def main(cases: int, seed: int) -> dict:
    photo = monai_fiqa.load("fundus_efiqa", mode="stage2")
    volume = monai_fiqa.load("ctmr_mediqa")
    rng = np.random.default_rng(seed)
    outcome: Counter[str] = Counter()
    unhandled: Counter[str] = Counter()
    examples: dict[str, str] = {}
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(cases):
            source = str(rng.choice(sorted(SEEDS)))
            kind = str(rng.choice(MUTATIONS))
            path = folder / f"case{SUFFIX[source]}"
            path.write_bytes(mutate(SEEDS[source], kind, rng))
            t0 = time.perf_counter()
            try:
                if source in ("nii", "dcm_ct"):
                    volume.assess(
                        path, prompt={"modality": "CT"} if source == "dcm_ct" else {"modality": "MR"}, quality_map=False
                    )
                else:
                    photo.assess(path)
                take_inventory(folder)
                outcome["scored"] += 1
            except HANDLED:
                outcome["refused with the documented error"] += 1
            except Exception as exc:  # what the benchmark is looking for
                name = f"{type(exc).__name__} ({source}, {kind})"
                unhandled[name] += 1
                examples.setdefault(name, traceback.format_exc(limit=3)[-600:])
            dt = time.perf_counter() - t0
            if dt > slowest[0]:
                slowest = (dt, f"{source} / {kind}")
            path.unlink(missing_ok=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    payload = {
        "cases": cases,
        "outcomes": dict(outcome),
        "unhandled": dict(unhandled),
        "unhandled_total": sum(unhandled.values()),
        "examples": examples,
        "slowest_case_s": round(slowest[0], 3),
        "slowest_case": slowest[1],
        "peak_rss_mb": round(peak_mb, 1),
    }
    rows = [[k, v] for k, v in outcome.items()] + [[f"UNHANDLED {k}", v] for k, v in unhandled.items()]
    rows += [["slowest case (s)", f"{slowest[0]:.2f} ({slowest[1]})"], ["peak RSS (MB)", f"{peak_mb:.0f}"]]
    write_results("fuzz", payload, ["outcome", "cases"], rows)
    return payload


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    main(a.cases, a.seed)
