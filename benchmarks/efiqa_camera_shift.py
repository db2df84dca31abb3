"""EFIQA across cameras (issue 30): maps against a local-sharpness map, rankings and grades, per camera emulation.

Run: ``.venv/bin/python -m benchmarks.efiqa_camera_shift [--n-drive 10] [--ladder-sources 4] [--quick]``.  The set
is the camera-shift held-out set (``benchmarks/_camera_shift.py``: DRIVE *test* photographs and ``retina.jpg``,
each recorded by every camera of ``CAMERA_SHIFT_PROFILES``), never trained on.  Per camera emulation:

* **Maps** - each photograph degraded inside a random region (15-35 % of the field of view) by each kind of
  :data:`REGIONAL_KINDS` at severity 0.8, then recorded by the camera; pixel AUROC of ``1 - map`` inside the field
  of view against the region, for EFIQA stage 1 and stage 2 and for :func:`laplacian_energy_map` - local Laplacian
  energy computed *the same way* (the same 512-px field-of-view square, the same cell grid, mapped back the same
  way), the trivial map EFIQA has to beat.
* **Ranking** - whole-image ladders of every kind at severities 0, 0.2, ..., 1 (``--ladder-sources`` sources, the
  same nuisance draws on every rung); Spearman of the score against severity per source, averaged; beside it the
  Laplacian variance of the same square (a sharpness script's score).
* **Grades** - the clean recordings' scores and grades (a flagged photograph is graded reject): the shares graded
  good and good-or-usable, how far a camera moves a photograph's score from the source camera's recording of it
  (issue 30 item 5: within 8 points), and the share of severity-1.0 rungs graded reject.

Writes ``results/efiqa_camera_shift.{json,md}`` (``_quick`` with ``--quick``, a script check).  A full run takes about
an hour on two cores; ``--cache DIR`` keeps each finished camera's report under ``DIR/<digest>/`` (the digest covers
the bundle's weights and inference config and the ``monai_fiqa.efiqa`` sources), so a run resumes and two processes
can split ``--cameras`` (``--threads 1`` each) before a last run without ``--cameras`` writes the results.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from scipy import stats

import monai_fiqa
import monai_fiqa.efiqa
from benchmarks._camera_shift import (
    CAMERA_SHIFT_PROFILES,
    REGIONAL_KINDS,
    SEVERITIES,
    Source,
    cached_camera_report,
    held_out_sources,
    ladder,
    regional,
    select_cameras,
)
from benchmarks._common import write_results
from monai_fiqa.api import file_sha256, resolve_bundle
from monai_fiqa.efiqa.inpainting_prior import GRID
from monai_fiqa.efiqa.vessel_segmentation import SEG_SIZE, square_mask
from monai_fiqa.fundus.camera import CameraProfile
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.physics import DEGRADATIONS
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image
from monai_fiqa.metrics.functional import pixel_auroc

MAP_SEVERITY = 0.8
AUROC_PIXELS = 200_000  # pixels drawn per map for the AUROC (a 2400-px recording has millions)


def _square(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int], np.ndarray]:
    """The photograph's field-of-view square at EFIQA's working size, its mask, the box and the full-size FOV."""
    inp = fundus_input(image)
    box = fov_square_box(inp.image, fov=inp.fov)
    square = fundus_to_square(inp.image, SEG_SIZE, box)
    return square, square_mask(inp.fov, box, SEG_SIZE) > 0.5, box, inp.fov


def laplacian_energy_map(image: np.ndarray) -> np.ndarray:
    """Local Laplacian energy as a quality map (1 = the sharpest cell), on EFIQA's square and cell grid.

    The green channel of the 512-px field-of-view square, |Laplacian of Gaussian| (sigma 1 px), averaged over each
    of the GRID x GRID cells inside the field of view (normalised by the cell's field-of-view share), log-scaled and
    scaled to [0, 1] between the photograph's weakest and strongest cell; mapped back to the photograph like
    EFIQA's cells.  Only its ranking
    inside one photograph matters to the AUROC.
    """
    square, fov512, box, fov = _square(image)
    green = square[..., 1].astype(np.float32) / 255.0
    energy = np.abs(ndi.gaussian_laplace(green, 1.0)) * fov512
    cell = SEG_SIZE // GRID
    sums = energy.reshape(GRID, cell, GRID, cell).sum(axis=(1, 3))
    share = fov512.reshape(GRID, cell, GRID, cell).mean(axis=(1, 3))
    mean = np.where(share > 0.05, sums / np.maximum(share * cell * cell, 1.0), 0.0)
    inside = share > 0.05
    quality = np.ones((GRID, GRID), np.float32)
    if inside.any():
        log_energy = np.log(mean[inside] + 1e-6)
        quality[inside] = (log_energy - log_energy.min()) / max(float(np.ptp(log_energy)), 1e-6)
    out = square_to_image(quality, box, image.shape[:2], outside=1.0)
    out[~fov] = 1.0
    return out


def laplacian_variance(image: np.ndarray) -> float:
    """A sharpness script's score: variance of the Laplacian of the green channel inside the field of view."""
    square, fov512, _, _ = _square(image)
    lap = ndi.laplace(square[..., 1].astype(np.float32))
    return float(lap[fov512].var())


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _digest(bundle: str) -> str:
    """What a camera report depends on besides the protocol: the bundle's weights and inference config, and the
    EFIQA code (its pixel evidence and maps change scores without touching the weights)."""
    folder = resolve_bundle(bundle)
    if folder is None:
        raise SystemExit(f"bundle {bundle!r} not found")
    h = hashlib.sha256()
    files = sorted((folder / "models").glob("*.pt")) + [folder / "configs" / "inference.json"]
    files += sorted(Path(monai_fiqa.efiqa.__file__).parent.glob("*.py"))
    for f in files:
        h.update(f.name.encode() + file_sha256(f).encode())
    return h.hexdigest()[:16]


def _camera_report(
    models: dict,
    sources: list[Source],
    ladder_sources: list[Source],
    camera: CameraProfile,
    kinds: tuple,
    ladder_kinds: tuple,
) -> dict:
    """Maps, rankings and grades of one camera emulation (JSON-ready: means per method and kind)."""
    auroc: dict = defaultdict(lambda: defaultdict(list))  # method -> kind -> values
    rho: dict = defaultdict(lambda: defaultdict(list))
    clean: dict = defaultdict(dict)  # model -> source -> (score, grade; reject when flagged)
    worst: dict = defaultdict(list)  # model -> grades of the severity-1.0 rungs
    for i, source in enumerate(sources):
        for k, kind in enumerate(kinds):
            rung = regional(source, camera, kind, MAP_SEVERITY, seed=1000 * i + k)
            maps = {m: a.assess(rung.image).quality_map for m, a in models.items()}
            maps["laplacian_energy"] = laplacian_energy_map(rung.image)
            for method, quality in maps.items():
                auroc[method][kind].append(pixel_auroc(1.0 - quality, rung.region, rung.fov, AUROC_PIXELS))
        _, clean_rung = next(ladder(source, camera, kinds[0], (0.0,), seed=7 * i))  # severity 0: not degraded
        for m, a in models.items():
            r = a.assess(clean_rung.image)
            clean[m][source.name] = (round(float(r.score), 2), r.grade)
    for i, source in enumerate(ladder_sources):
        for kind in ladder_kinds:
            scores: dict[str, list[float]] = defaultdict(list)
            for severity, rung in ladder(source, camera, kind, SEVERITIES, seed=31 * i + 1):
                for m, a in models.items():
                    r = a.assess(rung.image)
                    scores[m].append(r.score)
                    if severity == SEVERITIES[-1]:
                        worst[m].append(r.grade)
                scores["laplacian_variance"].append(laplacian_variance(rung.image))
            for method, values in scores.items():
                r = stats.spearmanr(SEVERITIES, values).statistic
                rho[method][kind].append(0.0 if np.isnan(r) else float(r))
    print(f"{camera.name}: done", flush=True)
    return {
        "pixel_auroc": {m: {k: _mean(v) for k, v in d.items()} for m, d in auroc.items()},
        "severity_spearman": {m: {k: _mean(v) for k, v in d.items()} for m, d in rho.items()},
        "clean": clean,
        "severity1_reject_share": {m: grades.count("reject") / len(grades) for m, grades in worst.items()},
    }


def _grades(report: dict, model: str) -> dict[str, float]:
    """Shares of the clean recordings graded good, good or usable, and reject."""
    grades = [grade for _, grade in report["clean"][model].values()]
    share = {g: grades.count(g) / len(grades) for g in ("good", "usable", "reject")}
    return {"good": share["good"], "good_or_usable": share["good"] + share["usable"], "reject": share["reject"]}


def _max_shift_from_source_camera(cameras: dict, model: str, reference: str) -> float | None:
    """The largest change of a clean photograph's score between the source camera's recording and another's."""
    if reference not in cameras:
        return None
    ref = cameras[reference]["clean"][model]
    shifts = [abs(r["clean"][model][name][0] - score) for r in cameras.values() for name, (score, _) in ref.items()]
    return round(max(shifts), 2)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle", default="fundus_efiqa")
    ap.add_argument("--n-drive", type=int, default=10, help="DRIVE test photographs (plus retina.jpg) for the maps")
    ap.add_argument("--ladder-sources", type=int, default=4, help="sources whose every kind is laddered")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="two sources, two cameras, two kinds (checks the script)")
    ap.add_argument("--cameras", nargs="+", help="only these camera-shift profiles (kept in --cache, not written)")
    ap.add_argument("--cache", type=Path, help="folder keeping each finished camera's report (resumable runs)")
    args = ap.parse_args(argv)
    if args.cache and (args.quick or args.n_drive != 10 or args.ladder_sources != 4):
        raise SystemExit("--cache keeps full-protocol reports only (not with --quick, --n-drive or --ladder-sources)")
    torch.set_num_threads(args.threads)
    models = {m: monai_fiqa.load(args.bundle, mode=m) for m in ("stage1", "stage2")}
    sources = held_out_sources(1 if args.quick else args.n_drive)
    cameras = CAMERA_SHIFT_PROFILES[:2] if args.quick else select_cameras(args.cameras)
    kinds = REGIONAL_KINDS[:2] if args.quick else REGIONAL_KINDS
    ladder_kinds = kinds if args.quick else tuple(DEGRADATIONS)
    ladder_sources = sources[: 1 if args.quick else args.ladder_sources]
    cache = args.cache / _digest(args.bundle) if args.cache else None
    reports = {
        c.name: cached_camera_report(
            cache, c, lambda c=c: _camera_report(models, sources, ladder_sources, c, kinds, ladder_kinds)
        )
        for c in cameras
    }
    if args.cameras:  # a partial run only fills the cache
        return
    reference = CAMERA_SHIFT_PROFILES[0].name
    payload = {
        "n_sources_maps": len(sources),
        "n_sources_ladders": len(ladder_sources),
        "map_severity": MAP_SEVERITY,
        "cameras": reports,
        "clean_grade_shares": {c: {m: _grades(r, m) for m in models} for c, r in reports.items()},
        "clean_score_max_shift_from_source_camera": {
            m: _max_shift_from_source_camera(reports, m, reference) for m in models
        },
    }
    rows = []
    for name, r in reports.items():
        a = r["pixel_auroc"]
        for kind in kinds:
            cells = [a[m][kind] for m in ("stage1", "stage2", "laplacian_energy")]
            best = max(cells[0], cells[1])
            rows.append([name, f"map AUROC {kind}", *(f"{c:.3f}" for c in cells), f"{best - cells[2]:+.3f}"])
        s = r["severity_spearman"]
        for kind in ladder_kinds:
            cells = [s[m][kind] for m in ("stage1", "stage2", "laplacian_variance")]
            rows.append([name, f"Spearman {kind}", *(f"{c:+.2f}" for c in cells), ""])
        g = payload["clean_grade_shares"][name]
        for share in ("good", "good_or_usable"):
            rows.append(
                [name, f"clean: share {share.replace('_', ' ')}", *(f"{g[m][share]:.2f}" for m in models), "", ""]
            )
        worst = r["severity1_reject_share"]
        rows.append([name, "severity 1.0: share reject", *(f"{worst[m]:.2f}" for m in models), "", ""])
    shift = payload["clean_score_max_shift_from_source_camera"]
    rows.append(["all", "clean: max score shift from the source camera", *(f"{shift[m]}" for m in models), "", ""])
    header = ["camera", "measure", "stage 1", "stage 2", "Laplacian baseline", "best EFIQA - baseline"]
    write_results("efiqa_camera_shift_quick" if args.quick else "efiqa_camera_shift", payload, header, rows)


if __name__ == "__main__":
    main()
