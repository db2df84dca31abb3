"""Volume reading with clear errors, prompts from headers, salient slice selection."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pydicom.data as pdd
import pytest

from monai_fiqa.ctmr.prompts import Prompt, prompt_from_meta
from monai_fiqa.ctmr.slices import evenly_spaced, select_salient_slices, slice_saliency
from monai_fiqa.io.volumes import VolumeReadError, read_volume


def _nifti(tmp_path, arr, zooms=(1.0, 1.0, 1.0), name="v.nii.gz"):
    img = nib.Nifti1Image(arr, np.diag([*zooms, 1.0]))
    path = tmp_path / name
    nib.save(img, path)
    return path


def _blob(shape=(32, 32, 8)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 100, shape)).astype(np.float32)


def test_reads_nifti_dicom_file_and_series(tmp_path) -> None:
    vol = read_volume(_nifti(tmp_path, _blob(), (0.8, 0.8, 2.5)))
    assert vol.array.shape == (32, 32, 8) and vol.spacing == pytest.approx((0.8, 0.8, 2.5)) and vol.is_3d
    ct = read_volume(pdd.get_testdata_file("CT_small.dcm"))
    assert ct.array.shape == (128, 128, 1) and ct.meta["Modality"] == "CT"
    assert ct.array.min() < -500  # rescaled to HU
    assert "PatientName" not in ct.meta
    # a series folder: three slices written from one file at increasing positions, given out of order
    ds = pydicom.dcmread(pdd.get_testdata_file("CT_small.dcm"))
    folder = tmp_path / "series"
    folder.mkdir()
    for i, z in enumerate((10.0, 0.0, 5.0)):
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(folder / f"s{i}.dcm")
    series = read_volume(folder)
    assert series.array.shape == (128, 128, 3) and series.spacing[2] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("arr", "zooms", "message"),
    [
        (np.zeros((32, 32, 8, 3), np.float32) + np.arange(3), (1, 1, 1), "3D volume"),
        (np.full((32, 32, 8), 5.0, np.float32), (1, 1, 1), "constant"),
        (np.where(np.eye(32)[:, :, None] > 0, np.nan, 1.0) * np.ones((1, 1, 4)), (1, 1, 1), "NaN"),
        (_blob(), (1.0, 1.0, 400.0), "spacing"),
        (_blob((8, 8, 4)), (1, 1, 1), "too small"),
    ],
    ids=["4d", "empty", "nan", "absurd-spacing", "tiny"],
)
def test_bad_volumes_raise_clear_errors(tmp_path, arr, zooms, message) -> None:
    path = _nifti(tmp_path, arr.astype(np.float32), zooms[:3] if arr.ndim == 3 else (1.0, 1.0, 1.0))
    with pytest.raises(VolumeReadError, match=message):
        read_volume(path)


def test_corrupt_and_non_dicom_files_raise(tmp_path) -> None:
    with pytest.raises(VolumeReadError, match="decoded|less"):
        read_volume(pdd.get_testdata_file("MR_truncated.dcm"))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not a dicom file at all" * 10)
    with pytest.raises(VolumeReadError, match="not a readable DICOM file"):
        read_volume(junk)
    with pytest.raises(VolumeReadError, match="does not exist"):
        read_volume(tmp_path / "missing.nii.gz")


def test_prompts_from_dicom_headers() -> None:
    ct = read_volume(pdd.get_testdata_file("CT_small.dcm"))
    assert prompt_from_meta(ct.meta, ct.is_3d) == Prompt("2D", "CT", "unknown", "ct_soft")
    head = read_volume(pdd.get_testdata_file("J2K_pixelrep_mismatch.dcm"))
    assert prompt_from_meta(head.meta, False).anatomy == "head"
    meta = {"Modality": "MR", "SeriesDescription": "t2_tse_tra PROSTATE", "BodyPartExamined": "PELVIS"}
    assert prompt_from_meta(meta, True) == Prompt("3D", "MR", "pelvis", "mr_t2")
    assert prompt_from_meta(
        {"Modality": "CT", "ConvolutionKernel": "B70f", "BodyPartExamined": "CHEST"}, True
    ) == Prompt("3D", "CT", "chest", "ct_sharp")
    assert prompt_from_meta({}, True) == Prompt("3D")


def test_prompt_overrides_are_validated() -> None:
    p = Prompt("3D", "CT").with_overrides({"anatomy": "head"})
    assert p.anatomy == "head" and p.ids() == (1, 1, 1, 0)
    with pytest.raises(ValueError, match="modality"):
        Prompt().with_overrides({"modality": "PET"})


def test_salient_slices_avoid_empty_ends_and_spread() -> None:
    vol = np.full((64, 64, 60), -1000.0, np.float32)
    rng = np.random.default_rng(0)
    vol[10:54, 10:54, 15:45] = rng.normal(40, 60, (44, 44, 30))
    sal = slice_saliency(vol, "CT")
    picks = select_salient_slices(sal, 7)
    assert len(picks) == 7 and picks.min() >= 15 and picks.max() < 45
    assert np.diff(picks).min() >= 60 // 14
    even = evenly_spaced(60, 7)
    assert len(even) == 7 and (even < 15).any()  # the baseline lands on empty slices
    assert list(select_salient_slices(sal[:5], 7)) == [0, 1, 2, 3, 4]


def test_huge_volume_is_refused_before_loading(tmp_path) -> None:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2048, 2048, 1024))
    hdr.set_data_dtype(np.int16)
    hdr["vox_offset"] = 352
    path = tmp_path / "huge.nii"
    with open(path, "wb") as fh:  # a header that promises 8 GB and a few bytes of data
        hdr.write_to(fh)
        fh.write(b"\0" * 1028)
    with pytest.raises(VolumeReadError, match="exceeds the limit"):
        read_volume(path)
