"""Regenerate the figures in docs/images: ``.venv/bin/python docs/make_figures.py``.

* ``synthetic_vs_drive.png`` - rendered fundus photographs beside real DRIVE photographs (needs ../shared/data);
* ``synthetic_anatomy.png`` - one rendered image with its vessel mask, artery mask and landmarks;
* ``retina_ladder.png`` - scikit-image's retina.jpg degraded at increasing severity, with the pseudo-MOS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai_fiqa.demo import retina_path  # noqa: E402
from monai_fiqa.io.images import read_rgb  # noqa: E402
from monai_fiqa.synth import render_fundus  # noqa: E402
from monai_fiqa.synth.dataset import resize_longest  # noqa: E402
from monai_fiqa.synth.ladder import DEFAULT_SEVERITIES, severity_ladder  # noqa: E402
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


if __name__ == "__main__":
    synthetic_vs_drive()
    anatomy_panel()
    retina_ladder()
    print(f"figures written to {OUT}")
