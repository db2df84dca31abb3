"""SR / SEG / SC writers: valid by dciodvfy, read back with pydicom, identity copied, geometry kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.sr.codedict import codes

from monai_fiqa.api import QualityResult
from monai_fiqa.io.dicom_writers import WriterIdentity, quality_pm, quality_sc, quality_seg, quality_sr
from monai_fiqa.io.volumes import volume_from_datasets
from tests.deploy.conftest import dciodvfy_errors, sr_values

WHO = WriterIdentity("ctmr_mediqa", "0.1.0")


@pytest.fixture(scope="module")
def mr_series(sample_study: Path) -> list[pydicom.Dataset]:
    files = sorted((sample_study / "mr_series").glob("*.dcm"))
    datasets = [pydicom.dcmread(f) for f in files]
    return datasets[::-1]  # out of order on purpose: the writers must follow the volume's z order


def test_sr_carries_score_grade_parameters_and_references(mr_series, tmp_path):
    vol, ordered, _ = volume_from_datasets(mr_series)
    params = {"artefacts": {"mr_noise": {"severity": 0.25, "SNR": 38.4}, "mr_bias": {"severity": 0.0, "bias (log)": 0}}}
    result = QualityResult(61.5, "usable", None, params)
    sr = quality_sr(ordered, result, WHO, scored=ordered[5:12])
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert back.Modality == "SR" and back.SeriesInstanceUID != ordered[0].SeriesInstanceUID
    for kw in ("PatientID", "PatientName", "StudyInstanceUID", "AccessionNumber"):
        assert back.get(kw) == ordered[0].get(kw), kw
    values = sr_values(back)
    assert values[codes.DCM.ImageQualityRating.meaning] == pytest.approx(61.5)
    assert values[codes.DCM.OverallImageQualityEvaluation.meaning] == "Limited quality"  # CID 7036 (RadLex)
    assert values["Signal to Noise Ratio"] == pytest.approx(38.4)  # a standard code where one exists
    assert values["Estimated mr_noise severity"] == pytest.approx(0.25)
    assert back.SoftwareVersions[1] == "ctmr_mediqa 0.1.0" and back.SoftwareVersions[0].startswith("monai-fiqa ")
    again = quality_sr(ordered, result, WHO, scored=ordered[5:12])
    observer_uid = [it for it in back.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue == "121012"]
    assert observer_uid and observer_uid[0].UID == WHO.device_uid  # stable: derived from bundle and version
    assert again.SOPInstanceUID != back.SOPInstanceUID
    assert values["Algorithm Name"] == "ctmr_mediqa" and values["Algorithm Version"] == "0.1.0"
    evidence = {
        r.ReferencedSOPInstanceUID
        for s in back.CurrentRequestedProcedureEvidenceSequence
        for se in s.ReferencedSeriesSequence
        for r in se.ReferencedSOPSequence
    }
    assert evidence == {d.SOPInstanceUID for d in ordered}


def test_seg_follows_source_geometry_and_z_order(mr_series, tmp_path):
    vol, ordered, _ = volume_from_datasets(mr_series)
    qmap = np.ones(vol.array.shape, np.float32)
    qmap[:, :, 4] = 0.0  # one bad slice: its frame must reference the 5th slice along the normal
    seg = quality_seg(ordered, qmap, WHO)
    path = tmp_path / "seg.dcm"
    seg.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert back.SegmentationType == "BINARY" and back.SegmentSequence[0].SegmentLabel == "Poor image quality"
    # highdicom omits all-zero frames: only the bad slice is stored, all of it poor quality, on the 5th source slice
    assert back.NumberOfFrames == 1 and (back.Rows, back.Columns) == vol.array.shape[:2]
    assert back.pixel_array.min() == 1
    ref = back.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == ordered[4].SOPInstanceUID
    with pytest.raises(ValueError, match="slices"):
        quality_seg(ordered[:3], qmap, WHO)


def test_fundus_seg_and_sc_on_an_ophthalmic_photograph(sample_study, tmp_path):
    op = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    qmap = np.ones((op.Rows, op.Columns), np.float32)
    qmap[: op.Rows // 2] = 0.25
    who = WriterIdentity("fundus_fthnet", "0.1.0")
    seg, sc = quality_seg([op], qmap, who), quality_sc(op, op.pixel_array, who, "overlay")
    for name, ds in (("seg.dcm", seg), ("sc.dcm", sc)):
        ds.save_as(tmp_path / name, enforce_file_format=True)
        assert dciodvfy_errors(tmp_path / name) == [], name
    back = pydicom.dcmread(tmp_path / "seg.dcm")
    ref = back.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
    assert ref.ReferencedSOPClassUID == op.SOPClassUID  # the true OP class, not the stand-in used to build it
    frame = back.pixel_array
    assert frame[: op.Rows // 2].min() == 1 and frame[op.Rows // 2 :].max() == 0  # quality 0.25: the poor region
    back_sc = pydicom.dcmread(tmp_path / "sc.dcm")
    assert back_sc.PhotometricInterpretation == "RGB" and back_sc.Laterality == "R"
    assert np.array_equal(back_sc.pixel_array, op.pixel_array)


def test_sc_refuses_non_rgb_pictures(mr_series):
    with pytest.raises(ValueError, match="uint8"):
        quality_sc(mr_series[0], np.zeros((8, 8), np.float32), WHO, "x")


def test_de_identified_source_without_patient_attributes_still_gets_valid_objects(tmp_path):
    """De-identified data often lacks PatientID, PatientBirthDate, AccessionNumber...: written empty (Type 2)."""
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for kw in ("PatientID", "PatientBirthDate", "PatientName", "AccessionNumber", "StudyID", "ReferringPhysicianName"):
        if kw in ds:
            delattr(ds, kw)
    result = QualityResult(50.0, "usable", np.ones((ds.Rows, ds.Columns), np.float32), {})
    objects = {
        "sr": quality_sr([ds], result, WHO),
        "seg": quality_seg([ds], result.quality_map, WHO),
        "sc": quality_sc(ds, np.zeros((64, 64, 3), np.uint8), WHO, "overlay"),
    }
    for name, obj in objects.items():
        path = tmp_path / f"{name}.dcm"
        obj.save_as(path, enforce_file_format=True)
        assert dciodvfy_errors(path) == [], name
        assert pydicom.dcmread(path).PatientID == ""
    assert "PatientID" not in ds  # the source itself is untouched


def test_private_codes_of_every_estimated_parameter_are_unique():
    """Every (artefact, parameter) MedIQA reports gets its own code: 16-character truncation once merged two."""
    from monai_fiqa.ctmr.artefacts import ARTEFACTS
    from monai_fiqa.io.dicom_writers import private_code

    keys = [f"{name}/{key}" for name, spec in ARTEFACTS.items() for key in ("severity", spec.parameter)]
    values = [private_code(k, k).value for k in keys]
    assert len(set(values)) == len(keys) and all(len(v) <= 16 for v in values)
    assert private_code("mr_undersampling/severity", "x").value == private_code("mr_undersampling/severity", "y").value


def test_parametric_map_holds_the_quality_map_with_its_real_world_values(mr_series, tmp_path):
    vol, ordered, _ = volume_from_datasets(mr_series)
    qmap = np.linspace(0, 1, vol.array.size, dtype=np.float32).reshape(vol.array.shape)
    pm = quality_pm(ordered, qmap, WHO)
    path = tmp_path / "pm.dcm"
    pm.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert back.SOPClassUID.name == "Parametric Map Storage" and back.NumberOfFrames == vol.array.shape[2]
    rwv = back.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert rwv.LUTLabel == "QUALITY" and float(rwv.RealWorldValueSlope) == 1.0
    z_of = {tuple(round(float(v), 3) for v in d.ImagePositionPatient): k for k, d in enumerate(ordered)}
    for frame, groups in zip(back.pixel_array, back.PerFrameFunctionalGroupsSequence, strict=True):
        position = tuple(round(float(v), 3) for v in groups.PlanePositionSequence[0].ImagePositionPatient)
        assert np.allclose(frame, qmap[:, :, z_of[position]], atol=1e-6)  # float pixels on their own slice
    op = pydicom.dcmread(get_testdata_file("SC_rgb_dcmtk_+eb+cy+n1.dcm"))
    with pytest.raises(ValueError, match="Frame of Reference"):
        quality_pm([op], np.ones((op.Rows, op.Columns), np.float32), WHO)


def test_maps_on_an_enhanced_multiframe_source_land_on_the_right_frames(mr_series, tmp_path):
    """An enhanced MR whose frames are stored out of slice order: the map of volume slice k is written on the
    frame that slice came from (``frame_of_slice``), and the SEG and PM validate."""
    from highdicom import UID
    from highdicom.legacy import LegacyConvertedEnhancedMRImage

    from monai_fiqa.deploy.outputs import _in_frame_order

    enhanced = LegacyConvertedEnhancedMRImage(
        legacy_datasets=mr_series, series_instance_uid=UID(), series_number=9, sop_instance_uid=UID(), instance_number=1
    )
    enhanced.save_as(tmp_path / "enhanced.dcm")
    head = pydicom.dcmread(tmp_path / "enhanced.dcm")
    order = np.random.default_rng(2).permutation(int(head.NumberOfFrames))
    frames = head.pixel_array
    head.PerFrameFunctionalGroupsSequence = [head.PerFrameFunctionalGroupsSequence[int(i)] for i in order]
    head.PixelData = np.ascontiguousarray(frames[order]).tobytes()
    vol, sources, frame_of_slice = volume_from_datasets([head])
    qmap = np.ones(vol.array.shape, np.float32)
    qmap[:, :, 4] = 0.0  # the 5th slice along the normal is bad
    on_frames = _in_frame_order(qmap, frame_of_slice)
    seg, pm = quality_seg(sources, on_frames, WHO), quality_pm(sources, on_frames, WHO)
    for name, ds in (("seg.dcm", seg), ("pm.dcm", pm)):
        ds.save_as(tmp_path / name, enforce_file_format=True)
        assert dciodvfy_errors(tmp_path / name) == [], name
    back = pydicom.dcmread(tmp_path / "seg.dcm")
    assert back.NumberOfFrames == 1  # only the bad slice is stored ...
    source_frame = back.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert int(source_frame.ReferencedFrameNumber) == frame_of_slice[4] + 1  # ... on the frame it came from


def test_a_fundus_sr_names_the_eye(sample_study, tmp_path):
    """Laterality of the photograph as the group's finding site (Eye, Right/Left): each eye's result is queryable."""
    op = pydicom.dcmread(sample_study / "fundus" / "OP0001.dcm")
    sr = quality_sr([op], QualityResult(70.0, "good", None, {}), WriterIdentity("fundus_efiqa", "0.4.0"), eye=True)
    sr.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []
    values = sr_values(pydicom.dcmread(tmp_path / "sr.dcm"))
    assert values["Finding Site"] == "Eye" and values["Laterality"] == "Right"  # OP0001 is ImageLaterality R
