"""DICOM objects for a quality result, built with highdicom: SR (TID 1500), Parametric Map, binary SEG and Secondary
Capture.

Why these: the SR carries the numbers a PACS, a worklist rule or an AI pipeline can query (score, grade, model,
estimated acquisition parameters); the Parametric Map is the quality map itself on the source geometry (1 = good),
what OHIF-class viewers and Slicer display; the binary SEG outlines the poor-quality region (map below
:data:`POOR_QUALITY_BELOW`) - a segment, because a quality map is not a probability of anything; the Secondary
Capture is a picture any PACS viewer shows.  Patient and study identity
are copied from the source instances by highdicom; every object gets a new series; nothing is invented.

Codes: standard DCM/SCT codes where one fits (Image Quality, Image Quality Rating, Overall image quality
evaluation, Good image quality, Insufficient quality for interpretation, Image quality analysis); the rest use the
private coding scheme ``99FIQA`` (declared in each object's Coding Scheme Identification Sequence).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from monai_fiqa.api import QualityResult
from monai_fiqa.io.dicom_header import header_number_or

__all__ = ["PRIVATE_SCHEME", "WriterIdentity", "private_code", "quality_pm", "quality_sc", "quality_seg", "quality_sr"]

PRIVATE_SCHEME = "99FIQA"
_SR_SERIES, _SEG_SERIES, _SC_SERIES, _PM_SERIES = 1000, 2000, 3000, 4000  # added to the source SeriesNumber
_SCORE_UNIT = CodedConcept("{score}", "UCUM", "score")
# Grades from one standard context group, CID 7036 "Image Quality Assessment" (RadLex): its three values are
# exactly good / usable / reject - readable (diagnostic), readable with limits, not readable.
_GRADE_CODES = {
    "good": codes.cid7036.DiagnosticQuality,
    "usable": codes.cid7036.LimitedQuality,
    "reject": codes.cid7036.NonDiagnosticQuality,
}
# Standard codes for estimated parameters that have one (CID 4243 "Ophthalmic Quality Metric Type" holds SNR).
_STANDARD_PARAMETER_CODES = {"SNR": codes.cid4243.SignalToNoiseRatio}


@dataclass(frozen=True)
class WriterIdentity:
    """Who made the object: the model (bundle name and version) and the software."""

    model: str
    model_version: str
    manufacturer: str = "monai-fiqa"

    @property
    def software_versions(self) -> list[str]:
        """SoftwareVersions: the package and the bundle, each with its version."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("monai-fiqa")
        except PackageNotFoundError:
            package = "unknown"
        return [f"monai-fiqa {package}", f"{self.model} {self.model_version}"]

    @property
    def device_uid(self) -> str:
        """A Device Observer UID that is the same for every report of one bundle version (derived, not random)."""
        return generate_uid(entropy_srcs=["monai-fiqa device observer", self.model, self.model_version])

    def algorithm(self) -> hd.AlgorithmIdentificationSequence:
        return hd.AlgorithmIdentificationSequence(
            name=self.model, family=codes.cid7162.ArtificialIntelligence, version=self.model_version
        )


def _scheme_identification() -> Dataset:
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "monai-fiqa image quality concepts"
    item.CodingSchemeResponsibleOrganization = "monai-fiqa developers"
    return item


def _series_number(source: Dataset, offset: int) -> int:
    return offset + int(header_number_or(source, "SeriesNumber", 0)) % 1000


def private_code(key: str, meaning: str) -> CodedConcept:
    """A private concept whose code value is derived from ``key`` (e.g. ``"mr_undersampling/acceleration R"``).

    Why a hash and not the name: Code Value is at most 16 characters, and truncating names made different concepts
    share one code ("undersampling severity" and "acceleration R" both became ``MR_UNDERSAMPLING``).  ``FIQA-``
    plus 10 hexadecimal digits of a SHA-256 is stable across runs and versions; the test over every concept we
    write checks that none collide, and docs/dicom_conformance.md lists them.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()[:10].upper()
    return CodedConcept(f"FIQA-{digest}", PRIVATE_SCHEME, meaning[:64])


def _unit(parameter: str) -> CodedConcept:
    """UCUM unit from a parameter name such as ``"metal insert diameter (mm)"``; dimensionless otherwise."""
    m = re.search(r"\(([^)]+)\)\s*$", parameter)
    return CodedConcept(m.group(1), "UCUM", m.group(1)) if m else CodedConcept("1", "UCUM", "no units")


def _measurements(result: QualityResult, algorithm: hd.sr.AlgorithmIdentification) -> list[hd.sr.Measurement]:
    out = [
        hd.sr.Measurement(
            name=codes.DCM.ImageQualityRating, value=float(result.score), unit=_SCORE_UNIT, algorithm_id=algorithm
        )
    ]
    for name, values in (result.params.get("artefacts") or {}).items():
        for key, value in values.items():
            label = "severity" if key == "severity" else re.sub(r"\s*\([^)]*\)\s*$", "", key)
            concept = _STANDARD_PARAMETER_CODES.get(key) or private_code(f"{name}/{key}", f"Estimated {name} {label}")
            unit = CodedConcept("1", "UCUM", "no units") if key == "severity" else _unit(key)
            out.append(hd.sr.Measurement(name=concept, value=float(value), unit=unit, algorithm_id=algorithm))
    return out


# Patient and study attributes of Type 2 (present, may be empty) that the writers copy from the source: a
# de-identified series often lacks them, and highdicom then fails with AttributeError - after the whole inference.
_TYPE2_IDENTITY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def _complete_identity(sources: Sequence[Dataset]) -> list[Dataset]:
    """The sources, where one lacks a Type 2 patient/study attribute as a header-only copy with it present and
    empty (the sources themselves are not changed; nothing is invented; pixel data is not copied)."""
    out = []
    for ds in sources:
        missing = [kw for kw in _TYPE2_IDENTITY if kw not in ds]
        if missing:
            header = Dataset()
            if hasattr(ds, "file_meta"):
                header.file_meta = ds.file_meta
            for elem in ds:
                if elem.keyword != "PixelData":
                    header.add(elem)
            for kw in missing:
                setattr(header, kw, None)
            ds = header
        out.append(ds)
    return out


_LATERALITY = {"R": codes.SCT.Right, "L": codes.SCT.Left}


def _eye_site(source: Dataset) -> list[hd.sr.FindingSite] | None:
    """Finding site "Eye" with the photograph's laterality (ImageLaterality, else Laterality); None if unknown."""
    side = str(source.get("ImageLaterality") or source.get("Laterality") or "").strip().upper()
    return [hd.sr.FindingSite(codes.SCT.Eye, laterality=_LATERALITY[side])] if side in _LATERALITY else None


def quality_sr(
    sources: Sequence[Dataset],
    result: QualityResult,
    who: WriterIdentity,
    scored: Sequence[Dataset] | None = None,
    frame: int | None = None,
    eye: bool = False,
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 measurement report: score, grade, model, estimated acquisition parameters.

    Args:
        sources: every instance of the assessed series (the SR's evidence).
        result: the quality result.
        who: model and software identity.
        scored: the instances the model actually looked at (e.g. MedIQA's salient slices); default all sources.
        frame: the frame (0-based) of a multi-frame photograph that was assessed, referenced by number.
        eye: the source is a photograph of an eye: its laterality (R/L) becomes the group's finding site, so the
            result of each eye can be queried apart.
    """
    sources = _complete_identity(sources)
    scored = _complete_identity(scored) if scored is not None else None
    algorithm = hd.sr.AlgorithmIdentification(name=who.model, version=who.model_version)
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=who.device_uid, name=who.model, manufacturer_name=who.manufacturer, model_name=who.model
        ),
    )
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(identifier=f"{who.model} image quality", uid=generate_uid()),
        finding_type=codes.DCM.ImageQuality,
        algorithm_id=algorithm,
        finding_sites=_eye_site(sources[0]) if eye else None,
        measurements=_measurements(result, algorithm),
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.DCM.OverallImageQualityEvaluation, value=_GRADE_CODES[result.grade])
        ],
        source_images=[
            hd.sr.SourceImageForMeasurementGroup.from_source_image(
                d, referenced_frame_numbers=None if frame is None else [frame + 1]
            )
            for d in (scored or sources)
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ImageQualityAnalysis,
        imaging_measurements=[group],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=list(sources),
        content=report,
        series_instance_uid=generate_uid(),
        series_number=_series_number(sources[0], _SR_SERIES),
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=who.manufacturer,
        series_description=f"Image quality report ({who.model})"[:64],
        is_complete=True,
        is_final=False,
        is_verified=False,
        institution_name=sources[0].get("InstitutionName"),
    )
    sr.CodingSchemeIdentificationSequence = [_scheme_identification()]
    sr.SoftwareVersions = who.software_versions
    return sr


_VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"  # a single-frame IOD with the same pixel semantics


def _seg_source_view(ds: Dataset) -> Dataset:
    """highdicom reads pixel measures from the enhanced functional groups of any multi-frame IOD, which a legacy
    Ophthalmic Photography instance (multi-frame IOD, no functional groups, no frame of reference) does not have.
    Such a source is passed as a copy with a single-frame SOP class; :func:`_restore_references` puts the true class
    back into every reference of the finished SEG."""
    if "SharedFunctionalGroupsSequence" in ds or "FrameOfReferenceUID" in ds or "NumberOfFrames" not in ds:
        return ds
    view = copy.deepcopy(ds)
    view.SOPClassUID = _VL_PHOTOGRAPHIC
    del view.NumberOfFrames
    return view


def _restore_references(item: Dataset, true_class: dict[str, str]) -> None:
    for elem in item:
        if elem.VR == "SQ":
            for child in elem.value:
                _restore_references(child, true_class)
        elif elem.keyword == "ReferencedSOPInstanceUID" and str(elem.value) in true_class:
            item.ReferencedSOPClassUID = true_class[str(elem.value)]


def _new_object(source: Dataset, who: WriterIdentity, series_offset: int) -> dict[str, object]:
    """The identity of a new derived object: new series and instance UIDs, series number, equipment."""
    return {
        "series_instance_uid": generate_uid(),
        "series_number": _series_number(source, series_offset),
        "sop_instance_uid": generate_uid(),
        "instance_number": 1,
        "manufacturer": who.manufacturer,
        "manufacturer_model_name": who.model,
        "software_versions": who.software_versions,
        "device_serial_number": "0",
    }


def _map_frames(sources: Sequence[Dataset], quality_map: np.ndarray) -> np.ndarray:
    """(frames, H, W) float32 in [0, 1], one frame per source slice (or frame of a multi-frame source).

    Raises:
        ValueError: the map's slices do not match the sources' frames.
    """
    qmap = quality_map[:, :, None] if quality_map.ndim == 2 else quality_map
    frames_in_sources = int(header_number_or(sources[0], "NumberOfFrames", 1)) if len(sources) == 1 else len(sources)
    if qmap.shape[2] != frames_in_sources:
        raise ValueError(f"map has {qmap.shape[2]} slices but the sources hold {frames_in_sources} frames")
    return np.clip(np.moveaxis(qmap, 2, 0), 0.0, 1.0).astype(np.float32)


POOR_QUALITY_BELOW = 0.5  # a pixel whose quality map value is below this belongs to the poor-quality region


def quality_seg(sources: Sequence[Dataset], quality_map: np.ndarray, who: WriterIdentity) -> hd.seg.Segmentation:
    """A binary SEG of the poor-quality region (quality map below :data:`POOR_QUALITY_BELOW`) on the source
    geometry.

    Args:
        sources: the source instances in the map's z order (one per slice), or one instance (a photograph, or a
            multi-frame instance with one frame per slice).
        quality_map: (H, W) or (H, W, Z) float in [0, 1], 1 = good, matching the sources' rows and columns.
        who: model and software identity.
    """
    sources = _complete_identity(sources)
    frames = (_map_frames(sources, quality_map) < POOR_QUALITY_BELOW).astype(np.uint8)
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Poor image quality",
        segmented_property_category=codes.DCM.QualityAssessment,
        segmented_property_type=codes.DCM.PoorImageQuality,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=who.algorithm(),
    )
    seg = hd.seg.Segmentation(
        source_images=[_seg_source_view(d) for d in sources],
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        **_new_object(sources[0], who, _SEG_SERIES),
        series_description=f"Poor-quality region ({who.model})"[:64],
    )
    if "FrameOfReferenceUID" not in seg and "PatientOrientation" not in seg:
        seg.PatientOrientation = None  # Type 2C without a frame of reference: present, empty, not invented
    _restore_references(seg, {str(d.SOPInstanceUID): str(d.SOPClassUID) for d in sources})
    seg.CodingSchemeIdentificationSequence = [_scheme_identification()]
    return seg


def quality_pm(sources: Sequence[Dataset], quality_map: np.ndarray, who: WriterIdentity) -> hd.pm.ParametricMap:
    """The quality map itself as a Parametric Map: float pixels, 1 = good, with a real-world value mapping to
    "image quality 0-1" - what OHIF-class viewers display as a map and Slicer loads as a volume.

    Args:
        sources: as for :func:`quality_seg`, with a Frame of Reference (CT/MR series): highdicom cannot index the
            frames of a map on a photograph without one, so a fundus photograph's map goes to the SEG only.
        quality_map: (H, W) or (H, W, Z) float in [0, 1], 1 = good.
        who: model and software identity.

    Raises:
        ValueError: no Frame of Reference, or a map that does not match the sources.
    """
    if "FrameOfReferenceUID" not in sources[0]:
        raise ValueError("a Parametric Map needs a Frame of Reference (CT/MR); a photograph's map is in the SEG")
    sources = _complete_identity(sources)
    frames = _map_frames(sources, quality_map)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="QUALITY",
        lut_explanation="Image quality, 1 = good",
        unit=CodedConcept("1", "UCUM", "no units"),
        value_range=(0.0, 1.0),
        slope=1.0,
        intercept=0.0,
        quantity_definition=codes.DCM.ImageQuality,
    )
    pm = hd.pm.ParametricMap(
        source_images=[_seg_source_view(d) for d in sources],
        pixel_array=frames,
        **_new_object(sources[0], who, _PM_SERIES),
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=0.5, window_width=1.0)],
        content_label="QUALITY",
        content_description=f"Image quality map ({who.model})"[:64],
        series_description=f"Quality map ({who.model})"[:64],
    )
    if "Laterality" not in pm:  # Type 2C in General Series: present, from the source or empty (not invented)
        pm.Laterality = sources[0].get("Laterality") or sources[0].get("ImageLaterality")
    _restore_references(pm, {str(d.SOPInstanceUID): str(d.SOPClassUID) for d in sources})
    return pm


def _patient_orientation(source: Dataset) -> tuple[str, str] | None:
    """Row and column directions (e.g. ``("L", "P")`` for an axial slice) from ImageOrientationPatient, or the
    source's own PatientOrientation; None when the source has neither (a photograph)."""
    iop = source.get("ImageOrientationPatient")
    if iop is not None and len(iop) == 6:
        letters = (("L", "R"), ("P", "A"), ("H", "F"))
        out = []
        for v in np.reshape(np.asarray(iop, float), (2, 3)):
            axis = int(np.argmax(np.abs(v)))
            out.append(letters[axis][0 if v[axis] > 0 else 1])
        return out[0], out[1]
    po = source.get("PatientOrientation")
    return (str(po[0]), str(po[1])) if po is not None and len(po) == 2 else None


def quality_sc(source: Dataset, picture: np.ndarray, who: WriterIdentity, description: str) -> hd.sc.SCImage:
    """An RGB Secondary Capture (map overlay or slice montage) in the source's study.

    Args:
        source: any instance of the assessed series (identity and study are copied from it).
        picture: (H, W, 3) uint8.
        who: model and software identity.
        description: series description, e.g. ``"Quality map overlay (ctmr_mediqa)"``.
    """
    if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 picture, got {picture.shape} {picture.dtype}")
    (source,) = _complete_identity([source])
    orientation = _patient_orientation(source)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source,
        pixel_array=np.ascontiguousarray(picture),
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system="PATIENT",
        patient_orientation=orientation or ("L", "P"),
        series_instance_uid=generate_uid(),
        sop_instance_uid=generate_uid(),
        series_number=_series_number(source, _SC_SERIES),
        instance_number=1,
        manufacturer=who.manufacturer,
        series_description=description[:64],
    )
    if orientation is None:  # Type 2: present but empty rather than invented
        sc.PatientOrientation = None
    laterality = source.get("Laterality") or source.get("ImageLaterality")
    sc.Laterality = laterality if laterality in ("R", "L") else None  # Type 2C: the eye of a fundus photograph
    sc.SoftwareVersions, sc.BurnedInAnnotation = who.software_versions, "YES"  # scores are drawn into the picture
    sc.DerivationDescription = f"Quality map of {who.model} {who.model_version} over the source image"[:1024]
    return sc
