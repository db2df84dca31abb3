"""How wide the EFIQA foveal prior should be, chosen on the 20 DRIVE *training* photographs (never the test set).

Run: ``.venv/bin/python -m benchmarks.efiqa_fovea_prior`` (about 2 minutes; the ``fundus_efiqa`` bundle's networks).

For each photograph the expensive part of stage 1 (segmentation and masked inpainting) runs once; the prior variants
only change the expected map.  Measured per variant:

* **clean-fovea quality** - mean pixel quality (cell map upsampled to 256 px) within 0.06 FOV diameters of the fovea
  of the *clean* photograph (fovea from :func:`~monai_fiqa.fundus.landmarks.estimate_anatomy`), and the clean score;
* **localisation** - pixel AUROC of ``1 - map`` against the region of 2 random regional degradations per kind
  (blur, haze, darkness, occlusion) at severity 0.8.

Variants: no prior; ``sigma`` 0.03 / 0.04 / 0.05 with the tight search (``FOVEA_SEARCH``); ``sigma`` 0.04 / 0.05
searching the whole landmark band.  Also the time of
:func:`~monai_fiqa.efiqa.inpainting_prior.foveal_prior` per photograph.
Writes ``results/efiqa_fovea_prior.{json,md}``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import compute_roc_auc

import monai_fiqa
from benchmarks._common import write_results
from monai_fiqa.efiqa import inpainting_prior
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, load_drive, segment_square, square_mask
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.landmarks import estimate_anatomy, fov_diameter
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square

DRIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus" / "DRIVE"
KINDS = {"blur": "defocus", "haze": "haze", "darkness": "underexposure", "occlusion": "artefacts"}
VARIANTS = {  # name -> (sigma, search); sigma 0 = no prior
    "none": (0.0, inpainting_prior.FOVEA_SEARCH),
    "s0.03": (0.03, inpainting_prior.FOVEA_SEARCH),
    "s0.04": (0.04, inpainting_prior.FOVEA_SEARCH),
    "s0.05 (shipped)": (0.05, inpainting_prior.FOVEA_SEARCH),
    "s0.04 wide band": (0.04, None),
    "s0.05 wide band": (0.05, None),
}


def _parts(assessor, image: np.ndarray) -> tuple:
    """Vessel map, expected map, 256-px FOV and square, and the FOV box of one photograph."""
    inp = fundus_input(image)
    box = fov_square_box(inp.image, fov=inp.fov)
    square = fundus_to_square(inp.image, SEG_SIZE, box)
    fov512 = torch.from_numpy((square_mask(inp.fov, box, SEG_SIZE) > 0.5).astype(np.float32))
    observed = inpainting_prior.to_vessel_map(segment_square(assessor.net.segmenter, [square])[0])
    expected = inpainting_prior.inpaint_cover(assessor.net.inpainter, observed[None])[0]
    fov256 = F.avg_pool2d(fov512[None, None], 2)[0, 0].numpy() > 0.5
    return observed, expected, fov256, inpainting_prior.to_map_grid(square), box


def _map(parts: tuple, sigma: float, search: float | None) -> tuple[np.ndarray, float]:
    """(256-px quality map, score) of one photograph under one prior variant."""
    observed, expected, fov256, square256, _ = parts
    if sigma > 0:
        expected = expected * inpainting_prior.foveal_prior(square256, fov256, sigma, search)[0]
    q, w = inpainting_prior.missing_to_quality(observed, expected, inpainting_prior.vessel_contrast(square256), fov256)
    inside = w >= 0.5
    score = 100.0 * float((q * w)[inside].sum() / w[inside].sum())
    size = (inpainting_prior.MAP_SIZE,) * 2
    up = F.interpolate(torch.from_numpy(q)[None, None], size=size, mode="bilinear")[0, 0].numpy()
    return up, score


def main() -> None:
    torch.set_num_threads(2)
    assessor = monai_fiqa.load("fundus_efiqa", mode="stage1")
    res = {v: {"fovea_quality": [], "clean_score": [], **{k: [] for k in KINDS}} for v in VARIANTS}
    seconds = []
    for i, p in enumerate(load_drive(DRIVE, "training")):
        parts = _parts(assessor, p.image)
        _, _, fov256, square256, _ = parts
        t0 = time.perf_counter()
        inpainting_prior.foveal_prior(square256, fov256)
        seconds.append(time.perf_counter() - t0)
        fovea = estimate_anatomy(square256, fov256).fovea_center
        yy, xx = np.mgrid[0 : inpainting_prior.MAP_SIZE, 0 : inpainting_prior.MAP_SIZE]
        near = np.hypot(yy - fovea[0], xx - fovea[1]) < 0.06 * fov_diameter(fov256)
        for v, (sigma, search) in VARIANTS.items():
            up, score = _map(parts, sigma, search)
            res[v]["fovea_quality"].append(float(up[near].mean()))
            res[v]["clean_score"].append(score)
        for name, kind in KINDS.items():
            for r in range(2):
                rng = np.random.default_rng(100 * i + 10 * r + len(name))
                region = random_region(p.fov, rng)
                params = DEGRADATIONS[kind].from_severity(0.8, rng)
                out, truth = apply_degradation(p.image / 255.0, kind, params, p.fov, rng, region=region)
                parts = _parts(assessor, np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8))
                fov256, box = parts[2], parts[4]
                truth_map = square_mask(truth > 0.5, box, inpainting_prior.MAP_SIZE) > 0.5
                y = torch.from_numpy(truth_map[fov256].astype(np.float32))
                for v, (sigma, search) in VARIANTS.items():
                    pred = torch.from_numpy((1.0 - _map(parts, sigma, search)[0][fov256]).astype(np.float32))
                    res[v][name].append(float(compute_roc_auc(pred, y)))
        print(f"{p.name}: done", flush=True)
    summary = {v: {k: float(np.mean(x)) for k, x in d.items()} for v, d in res.items()}
    rows = [
        [v, *(f"{d[k]:.3f}" for k in ("fovea_quality", *KINDS)), f"{d['clean_score']:.1f}"] for v, d in summary.items()
    ]
    write_results(
        "efiqa_fovea_prior",
        {"split": "DRIVE training (20)", "variants": summary, "foveal_prior_seconds_median": float(np.median(seconds))},
        ["prior", "clean-fovea quality", *(f"AUROC {k}" for k in KINDS), "clean score"],
        rows,
    )
    print(f"foveal_prior: {1000 * np.median(seconds):.1f} ms per photograph (median)")


if __name__ == "__main__":
    main()
