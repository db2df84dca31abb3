"""Distribution of the pseudo-MOS on the random training mix, for real and synthetic sources.

Run: ``.venv/bin/python -m benchmarks.pseudo_mos_calibration [--n 200]``.  Real sources are the DRIVE *training*
photographs (``../shared/data``), resized to 512 px; synthetic ones are rendered at 512 px.  Writes
``results/pseudo_mos_calibration.{json,md}`` and the histogram ``docs/images/pseudo_mos_histogram.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmarks._common import write_results
from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.mix import MixConfig, apply_recipe, sample_recipe
from monai_fiqa.fundus.pseudo_mos import GRADE_THRESHOLDS, pseudo_mos
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.fundus.synth_set import resize_longest

ROOT = Path(__file__).resolve().parents[1]
DRIVE = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE" / "training" / "images"


def _scores(sources: list[tuple[np.ndarray, Anatomy]], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img, anatomy = sources[i % len(sources)]
        recipe = sample_recipe(rng, MixConfig())
        deg, _ = apply_recipe(img.astype(np.float32) / 255, anatomy.fov, recipe, rng)
        out.append(pseudo_mos(img, deg, anatomy).score)
    return np.asarray(out)


def _summary(s: np.ndarray) -> dict:
    return {
        "n": int(len(s)),
        "percentiles_5_25_50_75_95": np.percentile(s, [5, 25, 50, 75, 95]).round(1).tolist(),
        "fraction_50_85": round(float(((s >= 50) & (s <= 85)).mean()), 3),
        "good": round(float((s >= GRADE_THRESHOLDS["good"]).mean()), 3),
        "usable": round(float(((s >= GRADE_THRESHOLDS["usable"]) & (s < GRADE_THRESHOLDS["good"])).mean()), 3),
        "reject": round(float((s < GRADE_THRESHOLDS["usable"]).mean()), 3),
    }


def _histogram(groups: dict[str, np.ndarray], path: Path) -> None:
    w, h, pad = 640, 320, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    bins = np.arange(0, 101, 5)
    colours = {"real (DRIVE)": (200, 60, 40), "synthetic": (40, 90, 200)}
    counts = {k: np.histogram(v, bins)[0] / len(v) for k, v in groups.items()}
    top = max(c.max() for c in counts.values())
    bw = (w - 2 * pad) / (len(bins) - 1)
    for gi, (k, c) in enumerate(counts.items()):
        for i, v in enumerate(c):
            x0 = pad + i * bw + gi * bw / 2
            d.rectangle([x0, h - pad - v / top * (h - 2 * pad), x0 + bw / 2 - 1, h - pad], fill=colours[k])
        d.text((w - 170, 10 + 14 * gi), k, fill=colours[k])
    for t in (GRADE_THRESHOLDS["usable"], GRADE_THRESHOLDS["good"]):
        x = pad + t / 100 * (w - 2 * pad)
        d.line([x, pad / 2, x, h - pad], fill=(0, 0, 0), width=1)
    for v in range(0, 101, 10):
        d.text((pad + v / 100 * (w - 2 * pad) - 6, h - pad + 6), str(v), fill="black")
    d.text((pad, 8), "pseudo-MOS on the training mix (lines: reject | usable | good)", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main(n: int = 200) -> None:
    groups: dict[str, np.ndarray] = {}
    real = []
    for p in sorted(DRIVE.glob("*_training.tif")):
        img = resize_longest(np.asarray(Image.open(p).convert("RGB")), 512)
        real.append((img, estimate_anatomy(img)))
    if real:
        groups["real (DRIVE)"] = _scores(real, n, seed=0)
    synth = []
    for i in range(20):
        s = render_fundus(1000 + i)
        synth.append((s.image, Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)))
    groups["synthetic"] = _scores(synth, n, seed=1)
    payload = {"mix": MixConfig().__dict__, "thresholds": GRADE_THRESHOLDS}
    rows = []
    for k, v in groups.items():
        payload[k] = _summary(v)
        sm = payload[k]
        rows.append(
            [k, sm["n"], sm["percentiles_5_25_50_75_95"], sm["fraction_50_85"], sm["good"], sm["usable"], sm["reject"]]
        )
    _histogram(groups, ROOT / "docs" / "images" / "pseudo_mos_histogram.png")
    write_results(
        "pseudo_mos_calibration",
        payload,
        ["source", "n", "P5/25/50/75/95", "in 50-85", "good", "usable", "reject"],
        rows,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    main(ap.parse_args().n)
