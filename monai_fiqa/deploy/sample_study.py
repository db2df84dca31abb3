"""Build the demo study: one fundus photograph (OP), one CT series and one MR series of one (fictitious) patient.

Why built, not shipped as DICOM: the pixels are real and small - scikit-image's ``retina.jpg`` (CC0), a head CT
slice from pydicom's test files (``693_J2KI.dcm``, calibrated HU; pydicom's test-file terms) and a prostate T2 series
(``sample_data/prostate_t2.nii.gz``: MONAI's test volume, Apache-2.0, at half resolution in-plane) - and the DICOM
headers around them are written here, so the sample carries no real patient identity and any UID scheme stays in
one place.  ``with_bad_inputs`` adds what a real inbox also holds: a truncated DICOM file, an ECG waveform and a
structured report (from pydicom's test files), and a text file - the app must report those and go on.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pydicom.tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

__all__ = ["SAMPLE_PATIENT", "make_sample_study"]

SAMPLE_PATIENT = {"PatientName": "DEMO^QUALITY", "PatientID": "FIQA-DEMO-001", "PatientSex": "O"}
_OP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.5.1"  # Ophthalmic Photography 8 Bit Image Storage
_CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
_MR_CLASS = "1.2.840.10008.5.1.4.1.1.4"


def _base(sop_class: str, study: Dataset, series_uid: str, modality: str, number: int, description: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    for kw in ("PatientName", "PatientID", "PatientSex", "PatientBirthDate", "StudyInstanceUID", "StudyDate"):
        setattr(ds, kw, getattr(study, kw))
    for kw in ("StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription"):
        setattr(ds, kw, getattr(study, kw))
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = modality, series_uid, number
    ds.SeriesDescription = description
    ds.Manufacturer = "monai-fiqa sample"
    ds.ContentDate, ds.ContentTime = study.StudyDate, study.StudyTime
    return ds


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _study() -> Dataset:
    now = datetime.now()
    st = Dataset()
    for k, v in SAMPLE_PATIENT.items():
        setattr(st, k, v)
    st.PatientBirthDate = "19700101"
    st.StudyInstanceUID = generate_uid()
    st.StudyDate, st.StudyTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    st.StudyID, st.AccessionNumber, st.ReferringPhysicianName = "1", "FIQA0001", ""
    st.StudyDescription = "monai-fiqa demo study"
    return st


def _fundus(study: Dataset, out: Path) -> Path:
    from PIL import Image
    from skimage import data as skdata

    rgb = np.asarray(Image.fromarray(skdata.retina()).resize((768, 768), Image.LANCZOS))
    ds = _base(_OP_CLASS, study, generate_uid(), "OP", 1, "Colour fundus photograph")
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ImageLaterality, ds.PatientOrientation = "R", ""
    ds.NumberOfFrames, ds.FrameIncrementPointer = 1, pydicom.tag.Tag("FrameTime")
    ds.FrameTime = 0.0
    ds.AcquisitionDateTime = study.StudyDate + study.StudyTime
    ds.LossyImageCompression, ds.BurnedInAnnotation = "01", "NO"  # the CC0 source is a JPEG
    ds.LossyImageCompressionRatio, ds.LossyImageCompressionMethod = 10.0, "ISO_10918_1"
    ds.SynchronizationFrameOfReferenceUID = generate_uid()
    ds.SynchronizationTrigger, ds.AcquisitionTimeSynchronized = "NO TRIGGER", "N"
    ds.AnatomicRegionSequence = [_code("81745001", "SCT", "Eye")]
    ds.AcquisitionDeviceTypeCodeSequence = [_code("409898007", "SCT", "Fundus Camera")]
    for kw in ("RefractiveStateSequence", "IlluminationTypeCodeSequence", "LightPathFilterTypeStackCodeSequence"):
        setattr(ds, kw, [])
    for kw in ("ImagePathFilterTypeStackCodeSequence", "LensesCodeSequence"):
        setattr(ds, kw, [])
    for kw in ("PatientEyeMovementCommanded", "HorizontalFieldOfView", "EmmetropicMagnification"):
        setattr(ds, kw, None)
    ds.IntraOcularPressure, ds.PupilDilated, ds.DetectorType = None, None, "CCD"
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(rgb).tobytes()
    path = out / "fundus" / "OP0001.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _slice(study: Dataset, modality: str, series: tuple[str, str, int, str], pixels: Any, geometry: dict) -> Dataset:
    """One CT/MR instance of a series (``series`` = (series UID, frame of reference UID, number, description))."""
    series_uid, frame_uid, number, description = series
    ds = _base(_CT_CLASS if modality == "CT" else _MR_CLASS, study, series_uid, modality, number, description)
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_uid, ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientPosition, ds.AcquisitionNumber = "HFS", 1
    for kw, value in geometry.items():
        setattr(ds, kw, value)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = np.ascontiguousarray(pixels.astype(np.int16)).tobytes()
    return ds


def _ct(study: Dataset, out: Path) -> Path:
    """pydicom's head CT slice (512 x 512, HU = value - 1024; JPEG 2000 in pydicom, stored uncompressed here)."""
    from pydicom.data import get_testdata_file

    src = pydicom.dcmread(get_testdata_file("693_J2KI.dcm"))
    geometry = {kw: src.get(kw) for kw in ("PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")}
    geometry |= {
        "SliceThickness": src.SliceThickness,
        "SliceLocation": src.ImagePositionPatient[2],
        "InstanceNumber": 1,
    }
    geometry |= {"RescaleIntercept": src.RescaleIntercept, "RescaleSlope": 1, "RescaleType": "HU", "KVP": src.KVP}
    geometry |= {"BodyPartExamined": "HEAD", "ConvolutionKernel": str(src.ConvolutionKernel)}
    ds = _slice(study, "CT", (generate_uid(), generate_uid(), 2, "Head CT 5 mm (sample)"), src.pixel_array, geometry)
    path = out / "ct_series" / "CT0001.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path.parent


def _mr(study: Dataset, out: Path) -> Path:
    """The prostate T2 TSE sample volume as an axial MR series, one instance per slice."""
    img = nib.load(str(resources.files("monai_fiqa") / "sample_data" / "prostate_t2.nii.gz"))
    arr = np.asarray(img.dataobj)
    dx, dy, dz = (round(float(z), 6) for z in img.header.get_zooms()[:3])
    series = (generate_uid(), generate_uid(), 3, "T2 TSE axial prostate (sample)")
    folder = out / "mr_series"
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(arr.shape[2]):
        geometry = {
            "InstanceNumber": k + 1,
            "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
            "ImagePositionPatient": [0.0, 0.0, round(k * dz, 3)],
            "SliceLocation": round(k * dz, 3),
            "SliceThickness": dz,
            "PixelSpacing": [dy, dx],  # rows run along the NIfTI's second axis
            "ScanningSequence": "SE",
            "SequenceVariant": "SK",
            "ScanOptions": "",
            "MRAcquisitionType": "2D",
            "RepetitionTime": 4000.0,
            "EchoTime": 100.0,
            "EchoTrainLength": 16,
            "MagneticFieldStrength": 3.0,
            "BodyPartExamined": "PROSTATE",
        }
        ds = _slice(study, "MR", series, arr[:, :, k].T, geometry)
        ds.save_as(folder / f"MR{k + 1:04d}.dcm", enforce_file_format=True)
    return folder


def _bad_inputs(out: Path) -> list[Path]:
    """A truncated copy of a real CT file, an ECG waveform, a structured report and a stray text file."""
    from pydicom.data import get_testdata_file

    bad = out / "other"
    bad.mkdir(parents=True, exist_ok=True)
    raw = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (bad / "truncated.dcm").write_bytes(raw[: len(raw) // 3])
    paths = [bad / "truncated.dcm"]
    for name in ("waveform_ecg.dcm", "test-SR.dcm"):
        paths.append(Path(shutil.copy(get_testdata_file(name), bad / name)))
    (bad / "notes.txt").write_text("not an image\n")
    return paths + [bad / "notes.txt"]


def make_sample_study(out: str | Path, with_bad_inputs: bool = False) -> dict[str, Path]:
    """Write the demo study under ``out`` and return where each part went.

    Args:
        out: folder to create (existing files are left alone).
        with_bad_inputs: also add a truncated DICOM, an ECG waveform, an SR and a text file.

    Returns:
        ``{"fundus": file, "ct": folder, "mr": folder}`` (+ ``"bad"``: folder).
    """
    out = Path(out)
    study = _study()
    parts = {
        "fundus": _fundus(study, out),
        "ct": _ct(study, out),
        "mr": _mr(study, out),
    }
    if with_bad_inputs:
        parts["bad"] = _bad_inputs(out)[0].parent
    return parts
