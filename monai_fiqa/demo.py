"""``monai-fiqa demo``: the main job on sample data that ships with the installed packages.

It shows the data engine - a labelled synthetic set and a severity ladder of a real fundus photograph
(scikit-image's ``retina.jpg``, CC0) with its pseudo-MOS, both as contact sheets - and, when the ``fundus_fthnet``
bundle is installed, its score, grade and quality map of the photograph and its score on every rung of the ladder.
With the ``ctmr_mediqa`` bundle it also scores real CT and MR slices that ship with pydicom (a 512 px head CT,
``J2K_pixelrep_mismatch.dcm``, and a 300 x 484 abdominal MR, ``examples_overlay.dcm``) along dose and noise
ladders, with the estimated dose fraction / SNR and a contact sheet of the quality maps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from monai_fiqa.fundus.ladder import DEFAULT_SEVERITIES, severity_ladder
from monai_fiqa.fundus.synth_set import make_labelled_set, resize_longest
from monai_fiqa.io.images import read_rgb
from monai_fiqa.viz import contact_sheet, save_png

__all__ = ["retina_path", "run_demo"]


def retina_path() -> Path:
    """scikit-image's bundled colour fundus photograph (public domain)."""
    import skimage.data

    return Path(skimage.data.__file__).parent / "retina.jpg"


def run_demo(out: str | Path, n_synthetic: int = 8, size: int = 512) -> dict:
    """Run the demo and return a summary (also written to ``summary.json``)."""
    root = Path(out)
    csv_path = make_labelled_set(n_synthetic, root / "synthetic", size=size, seed=0)
    image, _ = read_rgb(retina_path())
    image = resize_longest(image, size)
    rungs = severity_ladder(image)
    tiles = [r["image"] for r in rungs]
    caps = [f"{r['kind']} s={r['severity']:.2f}\nMOS {r['label'].score:.0f} {r['label'].grade}" for r in rungs]
    sheet = contact_sheet(
        tiles, caps, cols=len(DEFAULT_SEVERITIES), tile=200, title="retina.jpg: severity ladder with pseudo-MOS"
    )
    ladder_png = save_png(sheet, root / "retina_ladder.png")
    table: dict[str, list[float]] = {}
    for r in rungs:
        table.setdefault(r["kind"], []).append(round(r["label"].score, 1))
    monotone = {k: bool(np.all(np.diff(v) <= 1e-6)) for k, v in table.items()}
    summary = {
        "synthetic_set": str(csv_path),
        "synthetic_contact_sheet": str(root / "synthetic" / "contact_sheet.png"),
        "retina_ladder": str(ladder_png),
        "severities": list(DEFAULT_SEVERITIES),
        "pseudo_mos_by_kind": table,
        "monotone": monotone,
    }
    summary.update(_assess_with_bundle(root, image, rungs))
    summary.update(_assess_ctmr(root))
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _assess_with_bundle(root: Path, image: np.ndarray, rungs: list[dict]) -> dict:
    """Score the retina and every ladder rung with the FTHNet bundle (when installed) and save map overlays."""
    from monai_fiqa.api import available_bundles, load
    from monai_fiqa.viz import overlay_map

    if "fundus_fthnet" not in available_bundles():
        return {}
    full = load("fundus_fthnet")
    fast = load("fundus_fthnet", tta=False, quality_map=False)
    r = full.assess(image)
    save_png(overlay_map(image, r.quality_map), root / "retina_fthnet_map.png")
    table: dict[str, list[float]] = {}
    for rung in rungs:
        table.setdefault(rung["kind"], []).append(round(fast.assess(rung["image"]).score, 1))
    return {"fthnet_retina": r.to_dict(), "fthnet_by_kind": table, "fthnet_map": str(root / "retina_fthnet_map.png")}


def _assess_ctmr(root: Path) -> dict:
    """Score pydicom's real CT/MR slices along dose / noise ladders with the MedIQA bundle (when installed)."""
    import pydicom.data

    from monai_fiqa.api import available_bundles, load
    from monai_fiqa.ctmr.artefacts import degrade_slab
    from monai_fiqa.ctmr.preview import slice_overlays
    from monai_fiqa.io.volumes import Volume, read_volume

    if "ctmr_mediqa" not in available_bundles():
        return {}
    assessor = load("ctmr_mediqa")
    table: dict[str, list[dict]] = {}
    tiles, caps = [], []
    pairs = (("J2K_pixelrep_mismatch.dcm", "ct_dose", "dose fraction"), ("examples_overlay.dcm", "mr_noise", "SNR"))
    for name, artefact, key in pairs:
        vol = read_volume(pydicom.data.get_testdata_file(name))
        for s in (0.0, 0.5, 1.0):
            arr = degrade_slab(vol.array, vol.spacing, {artefact: s}, np.random.default_rng(0))[:, :, None]
            v = Volume(arr, vol.spacing, vol.meta, vol.source)
            r = assessor.assess(v)
            est = r.params["artefacts"][artefact][key]
            table.setdefault(f"{name} {artefact}", []).append(
                {"severity": s, "score": round(r.score, 1), "grade": r.grade, f"estimated {key}": est}
            )
            tiles.append(slice_overlays(v, r)[0][0])
            caps.append(f"{artefact} s={s:.1f}\nscore {r.score:.0f} {r.grade}")
    sheet = save_png(
        contact_sheet(tiles, caps, cols=3, tile=256, title="MedIQA on pydicom CT/MR slices"), root / "ctmr_ladder.png"
    )
    return {"mediqa_ladders": table, "mediqa_sheet": str(sheet)}
