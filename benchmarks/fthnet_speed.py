"""CPU speed, parameters and FLOPs of FTHNet-S/-L beside a HyperIQA ResNet-50 baseline, in one run.

Run: ``.venv/bin/python -m benchmarks.fthnet_speed``.  Median ms per image at 384x384 for batch 1 and batch 16
(2 threads), reported as ratios to the baseline because this machine is noisy; plus images/s of the whole
``assess`` path (read, FOV crop, 10-view test-time averaging, 3x3 map) on full-size DRIVE photographs when the
bundle's weights are present.  Writes ``results/fthnet_speed.{json,md}``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import monai_fiqa
from benchmarks._common import write_results
from benchmarks.hyperiqa_baseline import HyperIQABaseline

ROOT = Path(__file__).resolve().parents[1]
DRIVE_TEST = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE" / "test" / "images"


def _ms_per_image(model: torch.nn.Module, batch: int, repeats: int) -> float:
    x = torch.randn(batch, 3, 384, 384)
    with torch.no_grad():
        model(x)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times)) / batch


def _gflops(model: torch.nn.Module) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 384, 384))
    return counter.get_total_flops() / 2e9  # multiply-accumulates, the convention of papers' "FLOPs"


def main(repeats: int = 5) -> None:
    torch.set_num_threads(2)
    models = {
        "fthnet_s": monai_fiqa.create_model("fthnet_s").eval(),
        "fthnet_l": monai_fiqa.create_model("fthnet_l").eval(),
        "hyperiqa_resnet50": HyperIQABaseline().eval(),
    }
    payload: dict = {"threads": 2, "input": [3, 384, 384], "models": {}}
    for name, m in models.items():
        payload["models"][name] = {
            "params_M": round(sum(p.numel() for p in m.parameters()) / 1e6, 3),
            "GFLOPs": round(_gflops(m), 2),
            "ms_per_image_b1": round(_ms_per_image(m, 1, repeats), 1),
            "ms_per_image_b16": round(_ms_per_image(m, 16, max(2, repeats // 2)), 1),
        }
    base = payload["models"]["hyperiqa_resnet50"]
    for rec in payload["models"].values():
        rec["speedup_vs_hyperiqa_b1"] = round(base["ms_per_image_b1"] / rec["ms_per_image_b1"], 2)
        rec["speedup_vs_hyperiqa_b16"] = round(base["ms_per_image_b16"] / rec["ms_per_image_b16"], 2)
    photos = sorted(DRIVE_TEST.glob("*.tif"))[:5]
    if "fundus_fthnet" in monai_fiqa.available_bundles() and photos:
        for tta in (True, False):
            a = monai_fiqa.load("fundus_fthnet", tta=tta)
            a.assess(photos[0])
            t = time.perf_counter()
            for p in photos:
                a.assess(p)
            payload[f"assess_images_per_s_tta_{tta}"] = round(len(photos) / (time.perf_counter() - t), 3)
    rows = [
        [
            k,
            v["params_M"],
            v["GFLOPs"],
            v["ms_per_image_b1"],
            v["ms_per_image_b16"],
            v["speedup_vs_hyperiqa_b1"],
            v["speedup_vs_hyperiqa_b16"],
        ]
        for k, v in payload["models"].items()
    ]
    write_results(
        "fthnet_speed",
        payload,
        ["model", "params (M)", "GFLOPs", "ms/img b1", "ms/img b16", "× vs HyperIQA b1", "× vs HyperIQA b16"],
        rows,
    )
    for k in ("assess_images_per_s_tta_True", "assess_images_per_s_tta_False"):
        if k in payload:
            print(f"{k}: {payload[k]}")


if __name__ == "__main__":
    main()
