"""The fundus input check on the camera-shift set (issue 30, item 4): how many *clean* photographs of each camera
emulation it flags as not a fundus (the goal is none), and how many photographs of other things it flags (the goal
is all).

Run: ``.venv/bin/python -m benchmarks.fundus_check [--random-cameras 40]``.  Clean photographs: the 20 DRIVE test
photographs and ``retina.jpg`` recorded by every camera of ``CAMERA_SHIFT_PROFILES`` (full, truncated, notched and
frame-filling fields of view, 1000-2400 px, other colour and tone), plus ``--random-cameras`` recordings by random
cameras from the training ranges.  Other things: scikit-image's photographs of people, objects, animals, text,
tissue and space.  Writes ``results/fundus_check.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import numpy as np
import skimage.data

from benchmarks._camera_shift import held_out_sources
from benchmarks._common import write_results
from monai_fiqa.fundus.camera import CAMERA_SHIFT_PROFILES, random_profile, record
from monai_fiqa.fundus.checks import fundus_input

NON_FUNDUS = (  # colour first (the hard ones: chelsea is a reddish close-up of a cat), then greyscale
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "colorwheel",
    "logo",
    "coins",
    "page",
    "text",
    "camera",
    "moon",
    "horse",
    "clock",
    "brick",
    "grass",
    "gravel",
)


def flagged(image: np.ndarray) -> list[str]:
    """The check's reasons (empty: accepted as a fundus photograph)."""
    try:
        return fundus_input(image).warnings
    except ValueError as exc:  # too small or blank: refused, which also counts as flagged
        return [str(exc)]


def _rate(images: list[tuple[str, np.ndarray]], check: Callable[[np.ndarray], list[str]]) -> tuple[int, list]:
    reasons = [(name, check(img)) for name, img in images]
    return sum(bool(r) for _, r in reasons), [(n, r) for n, r in reasons if r]


def main(random_cameras: int) -> dict:
    sources = held_out_sources()
    rows, payload = [], {"cameras": {}}
    rng = np.random.default_rng(0)
    cameras = [(p.name, p) for p in CAMERA_SHIFT_PROFILES]
    cameras += [("random training cameras", None)]
    for name, profile in cameras:
        images = []
        for k, src in enumerate(sources):
            for j in range(1 if profile is not None else max(1, random_cameras // len(sources))):
                cam = profile if profile is not None else random_profile(rng)
                images.append((f"{src.name}/{cam.name}", record(src.image, src.anatomy.fov, cam, seed=k + j).image))
        n_flagged, examples = _rate(images, flagged)
        payload["cameras"][name] = {"photographs": len(images), "flagged": n_flagged, "examples": examples[:5]}
        rows.append([name, len(images), n_flagged])
    others = []
    for name in NON_FUNDUS:
        image = np.asarray(getattr(skimage.data, name)())
        others.append((name, np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]))
    n_flagged, _ = _rate(others, flagged)
    missed = [name for name, img in others if not flagged(img)]
    payload["non_fundus"] = {"photographs": len(others), "flagged": n_flagged, "accepted": missed}
    rows.append(["photographs of other things (skimage.data)", len(others), n_flagged])
    write_results("fundus_check", payload, ["clean photographs of", "photographs", "flagged"], rows)
    print(json.dumps({k: v for k, v in payload.items() if k != "cameras"}, indent=1))
    return payload


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--random-cameras", type=int, default=42, help="recordings by random training cameras")
    main(ap.parse_args().random_cameras)
