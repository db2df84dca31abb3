"""Enhanced multi-frame CT/MR (one file, geometry and rescale in per-frame functional groups) read like the classic
series they were converted from, and series that are not one volume refused with the reason.

The enhanced objects are made here from classic series with highdicom's legacy-converted enhanced image classes,
the same conversion a PACS or modality applies.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from highdicom.legacy import LegacyConvertedEnhancedCTImage, LegacyConvertedEnhancedMRImage
from pydicom.data import get_testdata_file

from monai_fiqa.deploy.sample_study import make_sample_study
from monai_fiqa.io.volumes import VolumeReadError, read_volume, volume_from_datasets


def _ct_series(n: int = 8, dz: float = 2.5) -> list[pydicom.Dataset]:
    """A classic CT series: CT_small's slice repeated along its normal, each slice's HU shifted, intercept -1024."""
    series_uid, rng = hd.UID(), np.random.default_rng(0)
    out = []
    for k in range(n):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series_uid, hd.UID(), k + 1
        ds.ImagePositionPatient = [-158.0, -179.0, -75.0 + k * dz]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = dz
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        pixels = ds.pixel_array.astype(np.int32) + int(rng.integers(0, 200))
        ds.PixelData = np.clip(pixels, 0, 4000).astype(ds.pixel_array.dtype).tobytes()
        out.append(ds)
    return out


def _enhanced(cls: type, classic: list[pydicom.Dataset], path: Path) -> Path:
    enhanced = cls(
        legacy_datasets=classic,
        series_instance_uid=hd.UID(),
        series_number=99,
        sop_instance_uid=hd.UID(),
        instance_number=1,
    )
    enhanced.save_as(path)
    return path


@pytest.fixture(scope="module")
def mr_classic(tmp_path_factory) -> list[pydicom.Dataset]:
    root = tmp_path_factory.mktemp("study")
    make_sample_study(root)
    return [pydicom.dcmread(f) for f in sorted((root / "mr_series").glob("*.dcm"))]


@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_enhanced_reads_like_its_classic_series(tmp_path, mr_classic, modality):
    classic = _ct_series() if modality == "CT" else mr_classic
    cls = LegacyConvertedEnhancedCTImage if modality == "CT" else LegacyConvertedEnhancedMRImage
    head = _shuffle_frames(pydicom.dcmread(_enhanced(cls, classic, tmp_path / "enhanced.dcm")))
    assert "PixelSpacing" not in head and "RescaleIntercept" not in head  # only in the functional groups
    expected, _, _ = volume_from_datasets(classic)
    got, sources, frame_of_slice = volume_from_datasets([head])
    assert got.spacing == pytest.approx(expected.spacing)
    np.testing.assert_allclose(got.array, expected.array)  # HU (CT) and magnitudes, slice for slice
    assert len(sources) == 1 and frame_of_slice is not None
    stored, intercept = head.pixel_array, -1024.0 if modality == "CT" else 0.0  # frames in the file's order
    for k, frame in enumerate(frame_of_slice):  # slice k of the volume is that frame of the file
        np.testing.assert_allclose(got.array[..., k], stored[frame] + intercept)
    assert sorted(frame_of_slice) == list(range(len(classic))) and frame_of_slice != sorted(frame_of_slice)


def test_a_series_with_two_volumes_is_refused_with_the_reason(mr_classic):
    """Two interleaved volumes at the same positions (e.g. two b-values): never scored as one."""
    second = []
    for ds in mr_classic:
        copy = pydicom.dcmread(pydicom.filebase.DicomBytesIO(_bytes(ds)))
        copy.SOPInstanceUID = hd.UID()
        second.append(copy)
    with pytest.raises(VolumeReadError, match="several volumes in one series"):
        volume_from_datasets(mr_classic + second)


def test_a_missing_slice_is_refused_not_given_a_wrong_spacing():
    series = _ct_series(8)
    del series[4]
    with pytest.raises(VolumeReadError, match="missing or duplicated slice"):
        volume_from_datasets(series)


def test_classic_series_geometry(tmp_path):
    series = _ct_series(6, dz=3.0)
    for k, ds in enumerate(series):
        ds.save_as(tmp_path / f"{k}.dcm")
    vol = read_volume(tmp_path)
    assert vol.array.shape == (128, 128, 6) and vol.spacing == pytest.approx((0.661468, 0.661468, 3.0))
    assert vol.array.min() < -500  # the intercept applied: air in HU


def _shuffle_frames(ds: pydicom.Dataset) -> pydicom.Dataset:
    """The same object with its frames stored out of slice order (the standard allows any order)."""
    order = np.random.default_rng(1).permutation(int(ds.NumberOfFrames))
    frames = ds.pixel_array
    ds.PerFrameFunctionalGroupsSequence = [ds.PerFrameFunctionalGroupsSequence[int(i)] for i in order]
    ds.PixelData = np.ascontiguousarray(frames[order]).tobytes()
    return ds


def _bytes(ds: pydicom.Dataset) -> bytes:
    buffer = pydicom.filebase.DicomBytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()
