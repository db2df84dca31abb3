"""Scores of every shipped bundle on the demo inputs, pinned so that refactoring cannot change what users get.

``python -m tests.reference_scores`` rewrites ``tests/data/reference_scores.json`` (only when a bundle's weights or
its scoring are changed on purpose: say so in the commit); ``tests/test_reference_scores.py`` compares to 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.data import get_testdata_file

import monai_fiqa

OUT = Path(__file__).resolve().parent / "data" / "reference_scores.json"


def demo_inputs() -> dict[str, tuple[str, object]]:
    """name -> (bundle family, input): scikit-image's retina, pydicom's head CT slice and MR slice, the prostate T2."""
    from importlib import resources

    from skimage import data as skdata

    ct = pydicom.dcmread(get_testdata_file("693_J2KI.dcm"))
    hu = ct.pixel_array.astype(np.float32) * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    prostate = resources.files("monai_fiqa") / "sample_data" / "prostate_t2.nii.gz"
    return {
        "retina": ("fundus", skdata.retina()),
        "ct_head_slice": ("ctmr", hu),
        "mr_small_slice": ("ctmr", mr.pixel_array.astype(np.float32)),
        "prostate_t2": ("ctmr", np.asarray(nib.load(str(prostate)).dataobj, dtype=np.float32)),
    }


PROMPTS = {
    "ct_head_slice": {"modality": "CT", "anatomy": "head"},
    "mr_small_slice": {"modality": "MR", "anatomy": "head"},
    "prostate_t2": {"modality": "MR", "anatomy": "pelvis"},
}


def compute() -> dict[str, dict[str, list[float]]]:
    """{bundle: {input: [score, mean of the quality map]}} for every bundle with weights."""
    out: dict[str, dict[str, float]] = {}
    inputs = demo_inputs()
    for bundle in sorted(monai_fiqa.available_bundles()):
        assessor = monai_fiqa.load(bundle)
        family = "fundus" if bundle.startswith("fundus") else "ctmr"
        scores = {}
        for name, (kind, x) in inputs.items():
            if kind != family:
                continue
            r = assessor.assess(x, prompt=PROMPTS[name]) if kind == "ctmr" else assessor.assess(x)
            scores[name] = [float(r.score), float(np.mean(r.quality_map, dtype=np.float64))]
        out[bundle] = scores
    return out


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(compute(), indent=2) + "\n")
    print(OUT.read_text())
