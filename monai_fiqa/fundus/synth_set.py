"""Write a labelled synthetic training set: degraded images, clean sources, masks, a CSV and a contact sheet.

Why files and not only on-the-fly transforms: a set on disk can be inspected, shared, used by the bundle's
``train.json`` like any FQS-style CSV, and regenerated bit-for-bit from its seed.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from monai_fiqa.fundus.camera import CameraProfile, random_profile, record_pair
from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.mix import MixConfig, Step, apply_recipe, recipe_columns, sample_recipe
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.fundus.renderer import render_fundus
from monai_fiqa.io.images import read_rgb
from monai_fiqa.viz import contact_sheet, save_png

__all__ = ["MASK_KEYS", "make_labelled_set", "read_mask", "resize_longest"]

# the masks written beside each image: masks/<id>_<key>.png
MASK_KEYS = ("fov", "vessels", "region")


def resize_longest(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image so its longer side is ``size`` px (aspect kept)."""
    h, w = image.shape[:2]
    f = size / max(h, w)
    if abs(f - 1.0) < 1e-6:
        return image
    return np.asarray(Image.fromarray(image).resize((round(w * f), round(h * f)), Image.LANCZOS))


@dataclass(frozen=True)
class _Photo:
    """A clean source photograph: its name in the ``source`` column, pixels, anatomy and scene parameters."""

    source: str
    clean: np.ndarray
    anatomy: Anatomy
    scene: dict


def _source(
    i: int, seed: int, size: int, real: Sequence[Path], cache: dict[Path, tuple[np.ndarray, Anatomy]]
) -> _Photo:
    if real:
        path = real[i % len(real)]
        if path not in cache:  # real photographs are cycled: read and estimate each one once
            img = resize_longest(read_rgb(path)[0], size)
            cache[path] = (img, estimate_anatomy(img))
        img, anatomy = cache[path]
        return _Photo(path.name, img, anatomy, {})
    s = render_fundus(seed + i, size=size)
    anatomy = Anatomy(s.fov_mask, s.disc_center, s.disc_radius, s.fovea_center, s.vessel_mask)
    return _Photo("synthetic", s.image, anatomy, s.params)


def make_labelled_set(
    n: int,
    out: str | Path,
    size: int = 512,
    seed: int = 0,
    real_images: Sequence[str | Path] = (),
    config: MixConfig | None = None,
    sheet_tiles: int = 32,
    camera_prob: float = 0.0,
    ladder_rungs: int = 0,
) -> Path:
    """Render (or take real photographs), degrade with the random mix, label with the pseudo-MOS, write to ``out``.

    Layout: ``images/<id>.png`` (degraded), ``clean/<id>.png``, ``masks/<id>_{fov,vessels,region}.png``,
    ``labels.csv`` (one row per image: paths, pseudo-MOS, grade, its factors, every recipe step's physical
    parameters, the scene parameters) and ``contact_sheet.png``.

    Args:
        n: number of images.
        out: output folder.
        size: image side (synthetic) or longer side (real photographs) in px.
        seed: base seed; image ``i`` uses scene seed ``seed + i`` and degradation seed ``(seed, i)``.
        real_images: photographs to degrade instead of rendering (cycled); their anatomy is estimated.
        config: the degradation mix.
        sheet_tiles: how many images go on the contact sheet.
        camera_prob: share of images re-recorded, clean source and degraded copy alike, by a random other camera
            (:func:`monai_fiqa.fundus.camera.random_profile`: resolution, colour, tone, vignetting, noise,
            field-of-view shape, JPEG), so that models learn the camera is not a degradation.  Its draws come
            from their own generator: sets made without it are unchanged.
        ladder_rungs: > 1: the ``n`` images are ``n // ladder_rungs`` severity ladders (:func:`_make_ladder`): one
            source, one camera, one varied kind at increasing severities (rows carry ``ladder`` and
            ``ladder_kind``), for ranking losses in which the content of a pair cancels out.

    Returns:
        Path of ``labels.csv``.
    """
    root = Path(out)
    for sub in ("images", "clean", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    real = [Path(p) for p in real_images]
    rows: list[dict] = []
    tiles, captions = [], []
    cache: dict[Path, tuple[np.ndarray, Anatomy]] = {}
    jobs = n // ladder_rungs if ladder_rungs > 1 else n
    for i in tqdm(range(jobs), desc="synth", unit="ladder" if ladder_rungs > 1 else "img"):
        if ladder_rungs > 1:
            made = _make_ladder(i, seed, size, real, cache, ladder_rungs, camera_prob, root)
        else:
            made = [_make_sample(i, seed, size, real, cache, config, camera_prob, root)]
        for row, degraded in made:
            rows.append(row)
            if len(tiles) < sheet_tiles:
                tiles.append(degraded)
                captions.append(f"{row['mos']:.0f} {row['grade']}\n{(row['degradations'] or 'clean')[:28]}")
    csv_path = _write_csv(rows, root / "labels.csv")
    if tiles:
        sheet = contact_sheet(tiles, captions, cols=min(8, len(tiles)), tile=192, title="pseudo-MOS, grade, recipe")
        save_png(sheet, root / "contact_sheet.png")
    return csv_path


def _make_ladder(
    i: int,
    seed: int,
    size: int,
    real: Sequence[Path],
    cache: dict[Path, tuple[np.ndarray, Anatomy]],
    rungs: int,
    camera_prob: float,
    root: Path,
) -> list[tuple[dict, np.ndarray]]:
    """Ladder ``i``: one source and camera, one kind at ``rungs`` increasing severities (the first 0 in 30 % of
    ladders), on top of a constant background degradation of another kind in half of them.

    Every rung replays the same nuisance draws (PSF direction, noise field, region, camera noise), so two rungs
    differ only by the varied kind's severity - what a pairwise ranking loss needs to learn that kind and not the
    photograph.
    """
    photo = _source(i, seed, size, real, cache)
    if not real:  # every rung shows the same rendered scene: one source, so a split by source keeps them together
        photo = replace(photo, source=f"synthetic_{seed}_{i:05d}")
    rng = np.random.default_rng([seed, i, 7])
    kind = str(rng.choice(list(DEGRADATIONS)))
    severities = np.sort(rng.uniform(0.05, 1.0, rungs))
    if rng.random() < 0.3:
        severities[0] = 0.0
    background: list[Step] = []
    if rng.random() < 0.5:
        other = str(rng.choice([k for k in DEGRADATIONS if k != kind]))
        s = float(rng.uniform(0.1, 0.6))
        background = [Step(other, s, DEGRADATIONS[other].from_severity(s, rng), False)]
    regional = bool(rng.random() < 0.2)
    camera = (random_profile(rng), seed + i) if camera_prob > 0 and rng.random() < camera_prob else None
    made = []
    for k, severity in enumerate(severities):
        step_rng = np.random.default_rng([seed, i, 8])  # same nuisance draws on every rung
        step = Step(kind, float(severity), DEGRADATIONS[kind].from_severity(float(severity), step_rng), regional)
        recipe = background + [step] if severity > 0 else background
        degraded, region = apply_recipe(photo.clean.astype(np.float32) / 255.0, photo.anatomy.fov, recipe, step_rng)
        rung = {"ladder": i, "ladder_kind": kind, "ladder_severity": round(float(severity), 4)}
        name = f"fundus_{seed:04d}_{i:05d}_r{k}"
        made.append(_write_sample(root, name, photo, degraded, region, recipe, camera, size, rung))
    return made


def _make_sample(
    i: int,
    seed: int,
    size: int,
    real: Sequence[Path],
    cache: dict[Path, tuple[np.ndarray, Anatomy]],
    config: MixConfig | None,
    camera_prob: float,
    root: Path,
) -> tuple[dict, np.ndarray]:
    """Make, label and write sample ``i``; returns its CSV row and the degraded image."""
    photo = _source(i, seed, size, real, cache)
    rng = np.random.default_rng([seed, i])
    recipe = sample_recipe(rng, config)
    degraded, region = apply_recipe(photo.clean.astype(np.float32) / 255.0, photo.anatomy.fov, recipe, rng)
    camera_rng = np.random.default_rng([seed, i, 1])
    camera = (random_profile(camera_rng), seed + i) if camera_prob > 0 and camera_rng.random() < camera_prob else None
    return _write_sample(root, f"fundus_{seed:04d}_{i:05d}", photo, degraded, region, recipe, camera, size)


def _write_sample(
    root: Path,
    name: str,
    photo: _Photo,
    degraded: np.ndarray,
    region: np.ndarray,
    recipe: Sequence[Step],
    camera: tuple[CameraProfile, int] | None,
    size: int,
    extra: dict | None = None,
) -> tuple[dict, np.ndarray]:
    """Record (by ``camera`` = (profile, noise seed), if any), label and write one degraded image of ``photo``;
    returns its CSV row (plus ``extra`` columns) and its pixels."""
    clean, anatomy = photo.clean, photo.anatomy
    deg8 = np.clip(degraded * 255.0 + 0.5, 0, 255).astype(np.uint8)
    camera_columns: dict[str, object] = {}
    if camera is not None:
        profile, camera_seed = camera
        clean, deg8, anatomy, region = record_pair(clean, deg8, anatomy, region, profile, camera_seed, size)
        camera_columns = {f"camera_{k}": v for k, v in asdict(profile).items() if k != "name"}
    label = pseudo_mos(clean, deg8 if camera is not None else degraded, anatomy)
    save_png(deg8, root / "images" / f"{name}.png")
    save_png(clean, root / "clean" / f"{name}.png")
    for key, mask in zip(MASK_KEYS, (anatomy.fov, anatomy.vessels, region), strict=True):
        save_png(mask.astype(np.uint8) * 255, _mask_path(root, name, key))
    row = {
        "id": name,
        "image": f"images/{name}.png",
        "clean": f"clean/{name}.png",
        "source": photo.source,
        "disc_row": round(anatomy.disc_center[0], 1),
        "disc_col": round(anatomy.disc_center[1], 1),
        "fovea_row": round(anatomy.fovea_center[0], 1),
        "fovea_col": round(anatomy.fovea_center[1], 1),
        **label.as_dict(),
        **recipe_columns(recipe),
        **{f"scene_{k}": v for k, v in photo.scene.items()},
        **camera_columns,
        **(extra or {}),
    }
    return row, deg8


def _write_csv(rows: list[dict], csv_path: Path) -> Path:
    """One row per sample; the columns are the union over rows (each recipe has its own parameters)."""
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def _mask_path(root: str | Path, name: str, key: str) -> Path:
    return Path(root) / "masks" / f"{name}_{key}.png"


def read_mask(row: Mapping[str, str], key: str) -> np.ndarray | None:
    """A row's ``key`` mask (one of :data:`MASK_KEYS`) at the image's size, as bool; None when the row has none.

    ``row`` is a :class:`~monai_fiqa.io.quality_csv.QualityRecord`'s row (it knows its CSV's folder); rows of a
    site's CSV, not written by :func:`make_labelled_set`, have no masks.
    """
    if key not in MASK_KEYS:
        raise ValueError(f"unknown mask {key!r}; one of {MASK_KEYS}")
    if not row.get("id"):
        return None
    path = _mask_path(row.get("_csv_dir", ""), row["id"], key)
    return np.asarray(Image.open(path)) > 127 if path.is_file() else None
