"""Extra real MR training sources taken from public Python packages' own test data.

Why: the MedIQA held-out MR failures (bundle ``ctmr_mediqa`` docs) trace to there being only two real MR training
volumes; half of the MR training sources are noise-free phantoms, so a real acquisition's own noise reads as
degradation.  These brain acquisitions carry real thermal noise and come from packages on PyPI (no other
download is possible here), so anyone can rebuild them:

* nibabel (MIT, a dependency already): ``tests/data/example4d.nii.gz``, a 128 x 96 x 24 EPI run; frame 0 is used.
* dipy 1.12.1 (BSD-3, fetched as a wheel, not installed): ``data/files/S0_10slices.nii.gz`` (128 x 128 x 10 b0),
  ``aniso_vox.nii.gz`` (58 x 58 x 24, 4 x 4 x 5 mm: a real small matrix) and ``t1_coronal_slice.npy`` (one
  256 x 256 T1 slice).
* nilearn 0.14.1 (BSD-3, fetched as a wheel, not installed): ``datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted
  .nii.gz``, the ICBM 2009a symmetric T1 template (terms: the McConnell Brain Imaging Centre's for the ICBM
  templates, redistributed inside nilearn's wheel; read them before shipping weights trained on it).  It is an
  *average* of 152 brains: real anatomy and contrast at 1 mm, but without an
  acquisition's noise, so it is listed in :data:`NOISE_FREE` and treated like a phantom (``--noise-floor-prob``).

None of them is used in evaluation.  The held-out MR sources stay the prostate T2 volume and pydicom's slices.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = ["DIPY_VERSION", "NILEARN_VERSION", "NOISE_FREE", "PUBLIC_MR", "fetch_public_mr"]

DIPY_VERSION = "1.12.1"
NILEARN_VERSION = "0.14.1"
# written file -> (modality, anatomy, image type); the same form as ``ctmr_build.TRAIN_VOLUMES``
PUBLIC_MR = {
    "nibabel_example4d_epi.nii.gz": ("MR", "head", "mr_other"),
    "dipy_S0_10slices_b0.nii.gz": ("MR", "head", "mr_dwi"),
    "dipy_aniso_vox.nii.gz": ("MR", "head", "mr_other"),
    "dipy_t1_coronal_slice.nii.gz": ("MR", "head", "mr_t1"),
    "nilearn_mni152_t1.nii.gz": ("MR", "head", "mr_t1"),
}
NOISE_FREE = frozenset({"nilearn_mni152_t1.nii.gz"})  # averages, not acquisitions: no thermal noise of their own
SOURCES_FILE = "sources.json"


def _save(array: np.ndarray, spacing: tuple[float, float, float], path: Path) -> None:
    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(np.asarray(array, np.float32), affine), str(path))


def _wheel_files(package: str, version: str, members: list[str], work: Path) -> dict[str, Path]:
    """Download a package's wheel (no dependencies, nothing installed) and extract ``members`` (paths inside it)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work), f"{package}=={version}"],
        check=True,
    )
    wheel = next(work.glob(f"{package}-{version}-*.whl"))
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for member in members:
            target = work / Path(member).name
            target.write_bytes(z.read(member))
            out[target.name] = target
    return out


def fetch_public_mr(out: str | Path) -> Path:
    """Write the sources as NIfTI plus ``sources.json`` (file -> prompt fields) to ``out``; return ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    epi = nib.load(str(Path(nib.__file__).parent / "tests" / "data" / "example4d.nii.gz"))
    zooms = tuple(float(v) for v in epi.header.get_zooms()[:3])
    _save(np.asarray(epi.dataobj)[..., 0], zooms, out / "nibabel_example4d_epi.nii.gz")
    with tempfile.TemporaryDirectory() as tmp:
        names = ["S0_10slices.nii.gz", "aniso_vox.nii.gz", "t1_coronal_slice.npy"]
        files = _wheel_files("dipy", DIPY_VERSION, [f"dipy/data/files/{n}" for n in names], Path(tmp))
        template = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
        files |= _wheel_files("nilearn", NILEARN_VERSION, [template], Path(tmp))
        mni = nib.load(str(files[Path(template).name]))
        mni_spacing = tuple(float(v) for v in mni.header.get_zooms()[:3])
        _save(np.asarray(mni.dataobj, np.float32), mni_spacing, out / "nilearn_mni152_t1.nii.gz")
        b0 = nib.load(str(files["S0_10slices.nii.gz"]))
        # its header's 53 mm slice spacing is impossible for 10 slices of a brain (read_volume refuses > 50 mm);
        # 5 mm is assumed - through-plane spacing only matters to CT slice thickness, not to the MR artefacts
        _save(np.asarray(b0.dataobj)[..., 0], (2.0, 2.0, 5.0), out / "dipy_S0_10slices_b0.nii.gz")
        aniso = nib.load(str(files["aniso_vox.nii.gz"]))
        spacing = tuple(float(v) for v in aniso.header.get_zooms()[:3])
        _save(np.asarray(aniso.dataobj), spacing, out / "dipy_aniso_vox.nii.gz")
        # a float slice scaled to [0, 1] with no spacing stored: 1 mm assumed (256 mm field of view)
        t1 = np.load(files["t1_coronal_slice.npy"], allow_pickle=False)
        _save(t1[:, :, None] * 1000.0, (1.0, 1.0, 1.0), out / "dipy_t1_coronal_slice.nii.gz")
    (out / SOURCES_FILE).write_text(json.dumps(PUBLIC_MR, indent=2))
    return out
