"""Regenerate the figures in docs/images: ``.venv/bin/python docs/make_figures.py``.

* ``synthetic_vs_drive.png`` - rendered fundus photographs beside real DRIVE photographs (needs ../shared/data);
* ``synthetic_anatomy.png`` - one rendered image with its vessel mask, artery mask and landmarks;
* ``retina_ladder.png`` - scikit-image's retina.jpg degraded at increasing severity, with the pseudo-MOS;
* ``ctmr_ladders.png`` - every CT/MR artefact at increasing severity on a real head CT slice (pydicom) and the
  brain T1 MR (needs ../shared/data), with the pseudo-score;
* ``ctmr_phantoms.png`` - procedural phantoms rendered as CT and MR.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai_fiqa.demo import retina_path  # noqa: E402
from monai_fiqa.fundus.ladder import DEFAULT_SEVERITIES, severity_ladder  # noqa: E402
from monai_fiqa.fundus.renderer import render_fundus  # noqa: E402
from monai_fiqa.fundus.synth_set import resize_longest  # noqa: E402
from monai_fiqa.io.images import read_rgb  # noqa: E402
from monai_fiqa.io.volumes import read_volume  # noqa: E402
from monai_fiqa.viz import contact_sheet, save_png  # noqa: E402

OUT = ROOT / "docs" / "images"
DRIVE = ROOT.parent / "shared" / "data" / "fundus" / "DRIVE" / "training" / "images"


def synthetic_vs_drive() -> None:
    synth = [render_fundus(s, size=512, lesions=(s % 3 == 0) or None) for s in range(6)]
    tiles = [s.image for s in synth]
    caps = [f"synthetic seed {s.params['seed']}\n{s.params['lesions'] or 'no lesions'}" for s in synth]
    for p in sorted(DRIVE.glob("*_training.tif"))[:6]:
        tiles.append(np.asarray(Image.open(p).convert("RGB")))
        caps.append(f"DRIVE {p.stem}\nreal")
    save_png(
        contact_sheet(tiles, caps, cols=6, tile=256, title="top: synthetic   bottom: real DRIVE"),
        OUT / "synthetic_vs_drive.png",
    )


def anatomy_panel() -> None:
    s = render_fundus(4, size=512, lesions=("exudates", "haemorrhages"))
    marked = Image.fromarray(s.image.copy())
    draw = ImageDraw.Draw(marked)
    for (r, c), rad, col in ((s.disc_center, s.disc_radius, "cyan"), (s.fovea_center, 8, "lime")):
        draw.ellipse([c - rad, r - rad, c + rad, r + rad], outline=col, width=3)
    av = np.zeros_like(s.image)
    av[s.vessel_mask & ~s.artery_mask] = (70, 110, 255)
    av[s.artery_mask] = (255, 70, 70)
    tiles = [
        s.image,
        np.asarray(marked),
        s.vessel_mask.astype(np.uint8) * 255,
        av,
        s.lesion_mask.astype(np.uint8) * 255,
    ]
    caps = ["image", "disc (cyan), fovea (green)", "vessel mask", "arteries red, veins blue", "lesion mask"]
    save_png(contact_sheet(tiles, caps, cols=5, tile=256), OUT / "synthetic_anatomy.png")


def retina_ladder() -> None:
    image = resize_longest(read_rgb(retina_path())[0], 512)
    rungs = severity_ladder(image)
    caps = [f"{r['kind']} s={r['severity']:.2f}\nMOS {r['label'].score:.0f} {r['label'].grade}" for r in rungs]
    save_png(
        contact_sheet([r["image"] for r in rungs], caps, cols=len(DEFAULT_SEVERITIES), tile=200),
        OUT / "retina_ladder.png",
    )


def ctmr_ladders() -> None:
    import pydicom.data

    from monai_fiqa.ctmr.artefacts import artefacts_for
    from monai_fiqa.ctmr.prompts import Prompt
    from monai_fiqa.ctmr.synth_set import CTMRSource, file_source, make_sample

    ct_vol = read_volume(pydicom.data.get_testdata_file("J2K_pixelrep_mismatch.dcm"))
    # one real slice repeated along z only so that the thickness row has neighbours (it then shows no change)
    ct = CTMRSource("head CT", np.repeat(ct_vol.array, 9, axis=2), ct_vol.spacing, Prompt("2D", "CT", "head"))
    mr = file_source(ROOT.parent / "shared" / "data" / "volumes" / "MR_Gd.nii.gz", "MR", "head", "mr_t1")
    tiles, caps = [], []
    for src, z in ((ct, 4), (mr, 80)):
        modality = src.prompt.modality
        for artefact in artefacts_for(modality):
            if artefact == "ct_thickness":
                continue
            for s in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
                sample = make_sample(src, np.random.default_rng(0), {artefact: s}, z=z)
                tiles.append(np.clip(sample["image"][0], 0, 1))
                caps.append(f"{artefact} s={s:.1f}\nscore {sample['score']:.0f}")
    save_png(contact_sheet(tiles, caps, cols=6, tile=160), OUT / "ctmr_ladders.png")


def ctmr_phantoms() -> None:
    from monai_fiqa.ctmr.phantoms import phantom_ct, phantom_mr, render_phantom

    tiles, caps = [], []
    for seed, anatomy in ((1, "head"), (2, "chest"), (3, "abdomen")):
        ph = render_phantom(seed, anatomy)
        rng = np.random.default_rng(seed)
        z = ph.labels.shape[2] // 2
        tiles.append(np.clip((phantom_ct(ph, rng)[:, :, z] + 160) / 400, 0, 1))
        caps.append(f"{anatomy} CT")
        for w in ("T1", "T2"):
            tiles.append(np.clip(phantom_mr(ph, w, rng)[:, :, z] / 1000, 0, 1))
            caps.append(f"{anatomy} MR {w}w")
    save_png(contact_sheet(tiles, caps, cols=3, tile=192), OUT / "ctmr_phantoms.png")


if __name__ == "__main__":
    ctmr_ladders()
    ctmr_phantoms()
    synthetic_vs_drive()
    anatomy_panel()
    retina_ladder()
    print(f"figures written to {OUT}")
