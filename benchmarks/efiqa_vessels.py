"""EFIQA's vessel segmenter on the 20 DRIVE *test* photographs (never used in training), beside the 2nd observer.

Run: ``.venv/bin/python -m benchmarks.efiqa_vessels [--checkpoint SEGMENTER.pt]`` (default: the segmenter
inside ``bundles/fundus_efiqa/models/model.pt``)``.
Against the 1st observer, inside the official FOV masks, at native resolution: AUC, and Dice / accuracy at
probability 0.5 (mean over images).  The 2nd observer's manual labels give the human reference (a binary labelling
has no AUC).  Also the segmenter's wall time per photograph.  Writes ``results/efiqa_vessels.{json,md}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import write_results
from monai_fiqa.efiqa.inpainting_prior import Stage1Networks
from monai_fiqa.efiqa.networks import vessel_unet
from monai_fiqa.efiqa.vessel_segmentation import load_drive, native_probabilities, vessel_metrics
from monai_fiqa.engine.checkpoints import load_weights

ROOT = Path(__file__).resolve().parents[1]
DRIVE = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", help="a vessel segmenter's state dict (default: the shipped bundle's)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    if args.checkpoint:
        net = load_weights(vessel_unet(), args.checkpoint)
    else:
        net = load_weights(Stage1Networks(), ROOT / "bundles" / "fundus_efiqa" / "models" / "model.pt").segmenter
    ours, human, seconds = [], [], []
    for pair in load_drive(DRIVE, "test"):
        t0 = time.perf_counter()
        prob = native_probabilities(net, pair)
        seconds.append(time.perf_counter() - t0)
        ours.append(vessel_metrics(prob, pair.vessels, pair.fov))
        if pair.second is not None:  # the 2nd observer labelled only some test images
            m = vessel_metrics(pair.second.astype(np.float32), pair.vessels, pair.fov)
            human.append({"dice": m["dice"], "accuracy": m["accuracy"]})
    mean = lambda rows, k: float(np.mean([r[k] for r in rows]))  # noqa: E731
    payload = {
        "n_images": len(ours),
        "segmenter": {k: mean(ours, k) for k in ("auc", "dice", "accuracy")},
        "second_observer": {k: mean(human, k) for k in ("dice", "accuracy")},
        "second_observer_images": len(human),
        "seconds_per_image": float(np.median(seconds)),
        "per_image": ours,
    }
    seg, hum = payload["segmenter"], payload["second_observer"]
    rows = [
        ["EFIQA vessel U-Net", f"{seg['auc']:.4f}", f"{seg['dice']:.4f}", f"{seg['accuracy']:.4f}"],
        ["2nd observer", "-", f"{hum['dice']:.4f}", f"{hum['accuracy']:.4f}"],
    ]
    write_results("efiqa_vessels", payload, ["vs 1st observer (DRIVE test, FOV)", "AUC", "Dice", "accuracy"], rows)


if __name__ == "__main__":
    main()
