"""EFIQA training data, made from good photographs only: no quality labels anywhere.

* :func:`good_squares` - field-of-view squares (512 px) of the DRIVE *training* photographs and of procedural
  renders (``monai_fiqa.fundus.renderer.render_fundus``, unlimited plausible anatomy);
* :func:`build_vessel_maps` - their vessel maps through the trained segmenter: what the inpainter learns;
* :func:`build_adapter_set` - those photographs degraded by the physics mix (some left clean, half the steps inside a
  random region), with the stage-1 map of each as the adapter's target (never the degradation mask, which would be
  supervision); optionally first re-recorded by a random camera (resolution, optics, colour, gamma, vignetting,
  sensor noise, JPEG, field-of-view shape) and squared again as inference squares it.  The 256-px images also serve
  the encoder's masked-autoencoder pre-training.

Each builder writes an ``.npz`` with a ``manifest`` entry (sources, seeds, counts) so a set can be rebuilt exactly.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from monai_fiqa.efiqa.inpainting_prior import MAP_SIZE, Stage1Networks, stage1_map, to_map_grid, to_vessel_map
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, load_drive, segment_square, square_mask
from monai_fiqa.fundus.camera import random_profile, record
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.mix import MixConfig, apply_recipe, sample_recipe
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square
from monai_fiqa.fundus.renderer import render_fundus

__all__ = ["ADAPTER_MIX", "build_adapter_set", "build_vessel_maps", "good_squares"]

ADAPTER_MIX = MixConfig(p_clean=0.15, n_steps_probs=(0.7, 0.3), region_prob=0.5)


def good_squares(
    drive_root: str | Path, n_synth: int, seed: int = 0, eyes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, 512, 512, 3) uint8 FOV squares, (N, 512, 512) bool FOV masks and their source names (``drive_train_NN``
    first, then ``render_SEED``).  ``eyes``: the DRIVE training photographs to use, by number ("21" ... "40"; None:
    all of them), so that a validation set can be made of eyes the training set never saw."""
    images, fovs, names = [], [], []
    for p in load_drive(drive_root, "training"):
        if eyes is not None and p.name not in eyes:
            continue
        box = fov_square_box(p.image, fov=p.fov)
        images.append(fundus_to_square(p.image, SEG_SIZE, box))
        fovs.append(square_mask(p.fov, box, SEG_SIZE) > 0.5)
        names.append(f"drive_train_{p.name}")
    for k in range(n_synth):
        s = render_fundus(seed * 100_000 + k, size=SEG_SIZE)
        images.append(s.image)
        fovs.append(s.fov_mask)
        names.append(f"render_{seed * 100_000 + k}")
    return np.stack(images), np.stack(fovs), names


def build_vessel_maps(segmenter: torch.nn.Module, drive_root: str | Path, n_synth: int, out: str | Path) -> Path:
    """Vessel maps (N, 256, 256) of good photographs and their FOV masks -> ``out`` (.npz)."""
    images, fovs, names = good_squares(drive_root, n_synth, seed=1)
    probs = np.concatenate([segment_square(segmenter, list(images[i : i + 8])) for i in range(0, len(images), 8)])
    maps = np.stack([to_vessel_map(p) for p in probs]).astype(np.float16)
    fov_small = fovs.reshape(len(fovs), MAP_SIZE, 2, MAP_SIZE, 2).mean(axis=(2, 4)) > 0.5
    manifest = {"sources": names, "n_synth": n_synth, "render_seed_base": 100_000}
    np.savez_compressed(out, maps=maps, fov=fov_small, manifest=json.dumps(manifest))
    return Path(out)


def build_adapter_set(
    segmenter: torch.nn.Module,
    inpainter: torch.nn.Module,
    drive_root: str | Path,
    n: int,
    out: str | Path,
    n_synth_sources: int = 200,
    seed: int = 2,
    eyes: list[str] | None = None,
    real_fraction: float | None = None,
    camera_prob: float = 0.0,
) -> Path:
    """``n`` degraded photographs (256-px inputs) with their stage-1 quality maps and FOV cell weights.

    Args:
        eyes: DRIVE training photographs to draw from (see :func:`good_squares`).
        real_fraction: share of samples drawn from the real photographs (the rest from the renders); None draws
            uniformly over all sources, which with 20 photographs and hundreds of renders is mostly renders.  Why it
            matters: an adapter trained on ~94 % renders agreed with stage 1 at 0.72 on held-out renders but only
            0.50 on real test photographs (bundle docs).
        camera_prob: share of samples first re-recorded by a random camera (:func:`_camera_square`) before the
            degradation, so that the adapter learns the stage-1 map of photographs from other cameras (issue 30
            item 2: on the camera-shift set stage 2 falls further than stage 1, e.g. noise maps 0.95 -> 0.59).
    """
    images, fovs, names = good_squares(drive_root, n_synth_sources, seed=seed, eyes=eyes)
    n_real = sum(name.startswith("drive_") for name in names)
    rng = np.random.default_rng(seed)
    inputs, targets, weights, recipes = [], [], [], []
    networks = Stage1Networks(segmenter, inpainter)
    for _ in tqdm(range(n), desc="adapter set", unit="img"):
        if real_fraction is None or n_real in (0, len(names)):
            src = int(rng.integers(len(images)))
        elif rng.random() < real_fraction:
            src = int(rng.integers(n_real))
        else:
            src = n_real + int(rng.integers(len(names) - n_real))
        good, fov = images[src], fovs[src]
        camera = None
        if camera_prob > 0 and rng.random() < camera_prob:
            good, fov, camera = _camera_square(good, fov, rng)
        recipe = sample_recipe(rng, ADAPTER_MIX)
        deg, _ = apply_recipe(good.astype(np.float32) / 255.0, fov, recipe, rng)
        square = np.clip(deg * 255.0 + 0.5, 0, 255).astype(np.uint8)
        (res,) = stage1_map(networks, [square], [fov])
        inputs.append(to_map_grid(square))
        targets.append(res.quality)
        weights.append(res.weight)
        steps = [(s.kind, round(s.severity, 3), s.regional) for s in recipe]
        recipes.append({"source": names[src], "camera": camera, "steps": steps})
    manifest = {
        "n": n,
        "seed": seed,
        "n_synth_sources": n_synth_sources,
        "eyes": eyes,
        "real_fraction": real_fraction,
        "camera_prob": camera_prob,
        "mix": repr(ADAPTER_MIX),
        "recipes": recipes,
    }
    np.savez_compressed(
        out, images=np.stack(inputs), quality=np.stack(targets), weight=np.stack(weights), manifest=json.dumps(manifest)
    )
    return Path(out)


def _camera_square(
    square: np.ndarray, fov: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """A good 512-px FOV square re-recorded by a random camera, then found and squared again as inference does
    (the fundus check's field of view, its box, the 512-px square): (square, FOV mask, the camera as a dict)."""
    profile = random_profile(rng)
    recording = record(square, fov, profile, seed=int(rng.integers(2**31)))
    found = fundus_input(recording.image)
    box = fov_square_box(found.image, fov=found.fov)
    squared = fundus_to_square(found.image, SEG_SIZE, box)
    return squared, square_mask(found.fov, box, SEG_SIZE) > 0.5, dataclasses.asdict(profile)
