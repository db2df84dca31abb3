"""Fuzz the readers, ``assess`` and the Deploy app's inventory with damaged real files; count what escapes.

Run: ``.venv/bin/python -m benchmarks.fuzz [--cases 10000] [--seed 0]``.  Each case takes one real seed file (PNG,
JPEG, CT DICOM, colour DICOM, NIfTI), damages it with one mutation of :mod:`monai_fiqa.io.fuzz`, and runs it through
the Deploy app's inventory and routing, then the reader and the assessor of its kind (EFIQA stage 2 for
photographs, MedIQA for volumes, no maps).  A case is *handled* when it is read and scored, or refused with the
documented error type (``ImageReadError`` / ``VolumeReadError`` / ``ValueError``); anything else is an
*unhandled exception*.  A case running past ``--hang-s`` is a *hang*.  Every seed except the real CT slice is not a
fundus photograph or a body volume (noise, a colour-bar test pattern), so a damaged copy of one that is scored
*without* the out-of-distribution flag is a *silent score of garbage*.  Also: the slowest case and the peak RSS.
Writes ``results/fuzz.{json,md}``.
"""

from __future__ import annotations

import argparse
import resource
import signal
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.deploy.inventory import take_inventory
from monai_fiqa.deploy.pipeline import dicom_items, route
from monai_fiqa.io.fuzz import MUTATIONS, mutate
from monai_fiqa.io.images import ImageReadError
from monai_fiqa.io.volumes import VolumeReadError
from tests.robustness.test_fuzz_readers import SEEDS, SUFFIX

HANDLED = (ImageReadError, VolumeReadError, ValueError)
REAL_IMAGE_SEEDS = {"dcm_ct"}  # the others are noise or a test pattern: scoring one unflagged is garbage


def inventory_and_route(folder: Path) -> None:
    """The app's first two steps on the folder: inventory (headers only) and routing of every DICOM item."""
    inventory = take_inventory(folder)
    for item in dicom_items([list(inventory.dicom.values())]):
        route(item)


class CaseHang(Exception):
    """A case ran past the time limit."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CaseHang


def main(cases: int, seed: int, hang_s: int = 60) -> dict:
    warnings.simplefilter("ignore")  # pydicom and nibabel warn on nearly every damaged header
    signal.signal(signal.SIGALRM, _on_alarm)
    photo = monai_fiqa.load("fundus_efiqa", mode="stage2")
    volume = monai_fiqa.load("ctmr_mediqa")
    rng = np.random.default_rng(seed)
    outcome: Counter[str] = Counter()
    unhandled: Counter[str] = Counter()
    examples: dict[str, str] = {}
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in range(cases):
            if case % 500 == 0:
                print(f"case {case}/{cases}: {dict(outcome)}, unhandled {sum(unhandled.values())}", flush=True)
            source = str(rng.choice(sorted(SEEDS)))
            kind = str(rng.choice(MUTATIONS))
            path = folder / f"case{SUFFIX[source]}"
            path.write_bytes(mutate(SEEDS[source], kind, rng))
            t0 = time.perf_counter()
            signal.alarm(hang_s)
            try:
                inventory_and_route(folder)  # first: it must account for every file, readable or not, never raise
                if source in ("nii", "dcm_ct"):
                    modality = "CT" if source == "dcm_ct" else "MR"
                    result = volume.assess(path, prompt={"modality": modality}, quality_map=False)
                else:
                    result = photo.assess(path)
                if result.params.get("out_of_distribution"):
                    outcome["scored, flagged out of distribution"] += 1
                elif source in REAL_IMAGE_SEEDS:
                    outcome["scored (damaged real CT)"] += 1
                else:
                    outcome["SILENT SCORE OF GARBAGE"] += 1
                    examples.setdefault(f"silent score ({source}, {kind})", f"score {result.score:.1f}")
            except HANDLED:
                outcome["refused with the documented error"] += 1
            except CaseHang:
                outcome["HANG"] += 1
            except Exception as exc:  # what the benchmark is looking for
                name = f"{type(exc).__name__} ({source}, {kind})"
                unhandled[name] += 1
                examples.setdefault(name, traceback.format_exc(limit=3)[-600:])
            finally:
                signal.alarm(0)
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
        "hangs": outcome["HANG"],
        "silent_scores_of_garbage": outcome["SILENT SCORE OF GARBAGE"],
        "hang_limit_s": hang_s,
        "examples": examples,
        "slowest_case_s": round(slowest[0], 3),
        "slowest_case": slowest[1],
        "peak_rss_mb": round(peak_mb, 1),
    }
    rows = [[k, v] for k, v in outcome.items() if k not in ("HANG", "SILENT SCORE OF GARBAGE")]
    rows += [[f"UNHANDLED {k}", v] for k, v in unhandled.items()]
    rows += [["unhandled exceptions", payload["unhandled_total"]], ["hangs", payload["hangs"]]]
    rows += [["silent scores of garbage", payload["silent_scores_of_garbage"]]]
    rows += [["slowest case (s)", f"{slowest[0]:.2f} ({slowest[1]})"], ["peak RSS (MB)", f"{peak_mb:.0f}"]]
    write_results("fuzz", payload, ["outcome", "cases"], rows)
    return payload


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang-s", type=int, default=60, help="a case running longer is counted as a hang")
    a = ap.parse_args()
    main(a.cases, a.seed, a.hang_s)
