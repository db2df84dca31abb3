"""Training throughput of FTHNet-S on this CPU: today's fp32 eager step against the shipped recipe, side by side.

Run: ``.venv/bin/python -m benchmarks.fthnet_train_speed [--batch 16 --size 384 --steps 6 --rounds 3]``.

One full training step is what :func:`monai_fiqa.engine.trainer.train_step` runs in training: forward with the
severity head, SmoothL1 losses, backward, gradient clipping, fused Adam, EMA.  Variants:

* ``fp32 eager`` - the step as it was before this benchmark (fp32, eager, per-tensor Adam; the EMA is the fused
  one in every variant, its cost is small);
* ``bf16 eager`` - CPU autocast to bfloat16 (AVX-512 bf16 / AMX matrix units);
* ``bf16 compiled`` - the same under ``torch.compile`` (``--compile``; measured, not the default: no gain on this CPU).

Variants are timed in interleaved rounds (this machine is noisy): images/s per round, the median, and each
variant's ratio to fp32 eager within the same round.  Also: the loss of one batch in bf16 against fp32, the time
to compile, the cost of assembling a batch from the in-memory uint8 images, and a ``torch.profiler`` top-10 of
the bf16 eager step (where the time goes).  Writes ``results/fthnet_train_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks._common import RESULTS, write_results
from monai_fiqa.engine.trainer import TrainConfig, make_optimizer, train_step, training_step_loss
from monai_fiqa.fthnet.dataset import normalise
from monai_fiqa.fthnet.recipe import fthnet_loss
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.registry import create_model


def _batch(batch: int, size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.rand(batch, 1, generator=g)
    sev = torch.rand(batch, len(DEGRADATIONS), generator=g)
    return x, y, sev, torch.ones(batch, 1)


class _Variant:
    """One training set-up: its own model, EMA, optimiser and wrapped loss."""

    def __init__(self, name: str, precision: str, compile: bool, legacy: bool, size: int) -> None:
        torch.manual_seed(0)
        self.name = name
        self.cfg = TrainConfig(img_size=size, precision=precision, compile=compile, warmup_steps=0)
        self.model = create_model("fthnet_s", img_size=size, severity_kinds=tuple(DEGRADATIONS))
        self.ema = copy.deepcopy(self.model)
        if legacy:  # the optimiser as it was: Adam's per-tensor loop
            self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        else:
            self.opt = make_optimizer(self.model, self.cfg)
        self.loss = training_step_loss(lambda m, b: fthnet_loss(m, b, 0.5), precision, compile)
        self.step = 0

    def run(self, batch: tuple, n: int) -> float:
        """Seconds for ``n`` steps."""
        t = time.perf_counter()
        for _ in range(n):
            train_step(self.model, self.ema, self.opt, self.loss, batch, self.step, self.cfg)
            self.step += 1
        return time.perf_counter() - t


def _loss_agreement(size: int, batch: tuple) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model("fthnet_s", img_size=size, severity_kinds=tuple(DEGRADATIONS)).eval()
    with torch.no_grad():
        fp32 = training_step_loss(lambda m, b: fthnet_loss(m, b, 0.5), "fp32")(model, batch).item()
        bf16 = training_step_loss(lambda m, b: fthnet_loss(m, b, 0.5), "bf16")(model, batch).item()
    return {"fp32": fp32, "bf16": bf16, "relative_difference": abs(bf16 - fp32) / abs(fp32)}


def _batch_assembly_ms(batch: int, size: int) -> float:
    images = [np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8) for i in range(batch)]
    t = time.perf_counter()
    for _ in range(5):
        torch.stack([normalise(im) for im in images])
    return (time.perf_counter() - t) / 5 * 1000


def _profile_top10(variant: _Variant, batch: tuple) -> list[list[object]]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        variant.run(batch, 1)
    rows = []
    for e in sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:10]:
        rows.append([e.key, e.count, round(e.self_cpu_time_total / 1000, 1)])
    return rows


def main(batch_size: int, size: int, steps: int, rounds: int) -> None:
    torch.set_num_threads(2)
    batch = _batch(batch_size, size)
    variants = [
        _Variant("fp32 eager", "fp32", False, True, size),
        _Variant("bf16 eager", "bf16", False, False, size),
        _Variant("bf16 compiled", "bf16", True, False, size),
    ]
    t0 = time.perf_counter()
    variants[2].run(batch, 2)  # compiles forward and backward
    compile_s = time.perf_counter() - t0
    for v in variants[:2]:
        v.run(batch, 1)  # warm-up
    per_round: dict[str, list[float]] = {v.name: [] for v in variants}
    ratios: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(rounds):
        rates = {v.name: steps * batch_size / v.run(batch, steps) for v in variants}
        for name, rate in rates.items():
            per_round[name].append(round(rate, 2))
            ratios[name].append(rate / rates["fp32 eager"])
    top10 = _profile_top10(variants[1], batch)
    payload = {
        "batch": batch_size,
        "img_size": size,
        "steps_per_round": steps,
        "rounds": rounds,
        "images_per_s": per_round,
        "median_images_per_s": {k: float(np.median(v)) for k, v in per_round.items()},
        "median_ratio_vs_fp32_eager": {k: round(float(np.median(v)), 2) for k, v in ratios.items()},
        "compile_seconds": round(compile_s, 1),
        "loss_bf16_vs_fp32": _loss_agreement(size, batch),
        "batch_assembly_ms": round(_batch_assembly_ms(batch_size, size), 1),
        "profile_top10_bf16_eager": top10,
        "threads": torch.get_num_threads(),
    }
    rows = [
        [name, payload["median_images_per_s"][name], f"{payload['median_ratio_vs_fp32_eager'][name]:.2f}x"]
        for name in per_round
    ]
    write_results("fthnet_train_speed", payload, ["variant", "images/s (median)", "vs fp32 eager"], rows)
    md = RESULTS / "fthnet_train_speed.md"
    lines = [
        "",
        f"fthnet_s, batch {batch_size}, {size} px, {torch.get_num_threads()} threads, {rounds} interleaved rounds of "
        f"{steps} steps; compile took {compile_s:.0f} s; assembling a batch from uint8 images "
        f"{payload['batch_assembly_ms']} ms; bf16 loss vs fp32 on one batch: "
        f"{payload['loss_bf16_vs_fp32']['relative_difference'] * 100:.2f} % apart.",
        "",
        "Top 10 operators of one bf16 eager step (self CPU time):",
        "",
        "| operator | calls | self ms |",
        "|---|---|---|",
        *[f"| {k} | {c} | {ms} |" for k, c, ms in top10],
    ]
    md.write_text(md.read_text() + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    main(a.batch, a.size, a.steps, a.rounds)
