"""The camera-shift held-out set shared by the fundus benchmarks (FTHNet, EFIQA): never trained on.

Sources: the 20 DRIVE *test* photographs and scikit-image's ``retina.jpg``.  Each source is recorded by every
camera of :data:`monai_fiqa.fundus.camera.CAMERA_SHIFT_PROFILES` (the source camera; 1000-, 1600- and 2400-px fields
of view with other optics, colour, tone, vignetting, sensor noise, JPEG, truncated / notched / frame-filling fields
of view).  Degradations happen in the eye and the optics, before the sensor, so a rung is made the way training
data is: degrade the source at its own resolution, then record clean and degraded copies with the same camera
(:func:`monai_fiqa.fundus.camera.record_pair`); the pseudo-MOS label compares the two recordings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from monai_fiqa.demo import retina_path
from monai_fiqa.fundus.camera import CAMERA_SHIFT_PROFILES, CameraProfile, record_pair
from monai_fiqa.fundus.landmarks import Anatomy, estimate_anatomy
from monai_fiqa.fundus.physics import DEGRADATIONS, apply_degradation, random_region
from monai_fiqa.fundus.pseudo_mos import pseudo_mos
from monai_fiqa.fundus.synth_set import resize_longest
from monai_fiqa.io.images import read_rgb

ROOT = Path(__file__).resolve().parents[1]
DRIVE_TEST = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE" / "test" / "images"
LABEL_SIDE = 512  # the pseudo-MOS of a rung is computed on recordings resized to this longer side (speed)
SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the rungs of every whole-image ladder
REGIONAL_KINDS = ("defocus", "motion", "haze", "underexposure", "overexposure", "artefacts", "noise", "jpeg")

__all__ = [
    "CAMERA_SHIFT_PROFILES",
    "REGIONAL_KINDS",
    "SEVERITIES",
    "Rung",
    "Source",
    "cached_camera_report",
    "held_out_sources",
    "ladder",
    "regional",
    "select_cameras",
]


@dataclass(frozen=True)
class Source:
    """A held-out clean photograph at its native resolution and its estimated anatomy."""

    name: str
    image: np.ndarray
    anatomy: Anatomy


@dataclass(frozen=True)
class Rung:
    """One recorded photograph of the set and what is known about it."""

    image: np.ndarray  # as the camera records it (what the model gets)
    mos: float  # pseudo-MOS of the recording against the recorded clean source
    region: np.ndarray  # degraded-region mask in the recording's frame (empty for a whole-image degradation)
    fov: np.ndarray  # the recording's field of view


def held_out_sources(n_drive: int | None = None) -> list[Source]:
    """DRIVE test photographs (the first ``n_drive``, all by default) and ``retina.jpg``."""
    paths = sorted(DRIVE_TEST.glob("*_test.tif"))[:n_drive]
    out = []
    for p in paths:
        img = np.asarray(Image.open(p).convert("RGB"))
        out.append(Source(p.name, img, estimate_anatomy(img)))
    retina = resize_longest(read_rgb(retina_path())[0], 768)  # 1411 px originally; a camera profile resamples
    out.append(Source("retina.jpg", retina, estimate_anatomy(retina)))
    return out


def _rung(source: Source, camera: CameraProfile, kind: str | None, severity: float, seed: int, local: bool) -> Rung:
    rng = np.random.default_rng(seed)
    clean = source.image
    region = np.zeros(clean.shape[:2], bool)
    degraded = clean
    if kind is not None:
        params = DEGRADATIONS[kind].from_severity(float(severity), rng)
        where = random_region(source.anatomy.fov, rng) if local else None
        out, truth = apply_degradation(clean.astype(np.float32) / 255.0, kind, params, source.anatomy.fov, rng, where)
        degraded = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
        region = truth if local else region
    rec_clean, rec_deg, anatomy, rec_region = record_pair(clean, degraded, source.anatomy, region, camera, seed)
    small_clean, small_deg, small_anatomy, _ = record_pair(
        rec_clean, rec_deg, anatomy, rec_region, CameraProfile(), seed, LABEL_SIDE
    )
    return Rung(rec_deg, pseudo_mos(small_clean, small_deg, small_anatomy).score, rec_region, anatomy.fov)


def ladder(
    source: Source, camera: CameraProfile, kind: str, severities: tuple[float, ...], seed: int
) -> Iterator[tuple[float, Rung]]:
    """One kind at each severity over the whole field of view, same nuisance draws (seed) on every rung."""
    for s in severities:
        yield s, _rung(source, camera, kind if s > 0 else None, s, seed, local=False)


def regional(source: Source, camera: CameraProfile, kind: str, severity: float, seed: int) -> Rung:
    """One kind inside a random region (15-35 % of the field of view)."""
    return _rung(source, camera, kind, severity, seed, local=True)


def select_cameras(names: list[str] | None) -> tuple[CameraProfile, ...]:
    """The camera-shift profiles named (all of them for ``None``), in the set's order; unknown names stop the run."""
    if not names:
        return tuple(CAMERA_SHIFT_PROFILES)
    unknown = set(names) - {c.name for c in CAMERA_SHIFT_PROFILES}
    if unknown:
        raise SystemExit(f"unknown cameras {sorted(unknown)}; known: {[c.name for c in CAMERA_SHIFT_PROFILES]}")
    return tuple(c for c in CAMERA_SHIFT_PROFILES if c.name in names)


def cached_camera_report(cache: Path | None, camera: CameraProfile, compute: Callable[[], dict]) -> dict:
    """The camera's report from ``cache`` when it was measured there already, else computed and kept there.

    Why: a full run of a fundus benchmark on this set takes longer than a working session on two cores; keeping each
    finished camera lets a run resume, and lets two processes split the cameras over one folder.  The caller names
    the folder after what the report depends on (the weights' digest)."""
    if cache is None:
        return compute()
    path = cache / f"{camera.name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    report = compute()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return report
