"""MedIQA prompts (dimension, modality, anatomy, image type) read from DICOM headers or NIfTI metadata.

Why prompts: what counts as "good" differs between a soft-kernel head CT and a sharp-kernel chest CT, or between a
T1 and a DWI series; MedIQA conditions every Swin block on these four facts.  They are read from the headers that
carry them (Modality, BodyPartExamined, SeriesDescription/ProtocolName, ScanningSequence/SequenceName,
ConvolutionKernel); a field that no header gives stays "unknown", and the assessor then asks the network's own
modality/anatomy head (the small predictor) instead.  A user can override any field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

__all__ = ["ANATOMIES", "DIMENSIONS", "IMAGE_TYPES", "MODALITIES", "Prompt", "prompt_from_meta"]

DIMENSIONS = ("2D", "3D")
MODALITIES = ("unknown", "CT", "MR")
ANATOMIES = ("unknown", "head", "chest", "abdomen", "pelvis", "other")
IMAGE_TYPES = ("unknown", "ct_soft", "ct_sharp", "mr_t1", "mr_t2", "mr_dwi", "mr_other")

_ANATOMY_WORDS = (
    ("head", r"head|brain|skull|neuro|cerebr|sinus|orbit|\bcow\b|circle of willis|angio head"),
    ("chest", r"chest|thorax|lung|pulmo|cardiac|heart|coronary|smartscore|calcium"),
    ("abdomen", r"abdom|liver|hepat|kidney|renal|pancrea|spleen|\babd\b"),
    ("pelvis", r"pelvi|prostat|bladder|rectum|uterus|hip"),
)
_SHARP_KERNEL = r"\b(bone|lung|sharp|edge|detail|b[6-9]\d|h[6-9]\d|fc[3-9]\d|yc|yd|ye|br6|br7)"


@dataclass(frozen=True)
class Prompt:
    """The four prompt fields (strings from the vocabularies above)."""

    dimension: str = "2D"
    modality: str = "unknown"
    anatomy: str = "unknown"
    image_type: str = "unknown"

    def __post_init__(self) -> None:
        for name, vocab in (
            ("dimension", DIMENSIONS),
            ("modality", MODALITIES),
            ("anatomy", ANATOMIES),
            ("image_type", IMAGE_TYPES),
        ):
            if getattr(self, name) not in vocab:
                raise ValueError(f"prompt {name}={getattr(self, name)!r} is not one of {vocab}")

    def ids(self) -> tuple[int, int, int, int]:
        """Integer ids for the embedding tables."""
        return (
            DIMENSIONS.index(self.dimension),
            MODALITIES.index(self.modality),
            ANATOMIES.index(self.anatomy),
            IMAGE_TYPES.index(self.image_type),
        )

    def with_overrides(self, overrides: Mapping[str, str] | None) -> Prompt:
        """A copy with user-given fields replaced (validated)."""
        return replace(self, **dict(overrides)) if overrides else self

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _anatomy(text: str) -> str:
    for name, pattern in _ANATOMY_WORDS:
        if re.search(pattern, text):
            return name
    return "unknown"


def _mr_type(text: str) -> str:
    if re.search(r"dwi|diff|\badc\b|\bep_b|trace", text):
        return "mr_dwi"
    if re.search(r"t2|flair|tse|haste|stir|\bfse\b", text):
        return "mr_t2"
    if re.search(r"t1|mprage|spgr|vibe|flash|\bgre?\b|tfl|angio|tof", text):
        return "mr_t1"
    return "mr_other" if text.strip() else "unknown"


def prompt_from_meta(meta: Mapping[str, str], is_3d: bool) -> Prompt:
    """Prompt from header fields (DICOM keywords, or NIfTI ``descrip``); missing facts stay "unknown".

    Args:
        meta: header values, e.g. ``Volume.meta``.
        is_3d: True for a volume with more than one slice.
    """
    modality = str(meta.get("Modality", "")).upper()
    modality = modality if modality in ("CT", "MR") else "unknown"
    text = " ".join(
        str(meta.get(k, "")) for k in ("BodyPartExamined", "SeriesDescription", "ProtocolName", "descrip")
    ).lower()
    anatomy = _anatomy(text)
    if anatomy == "unknown" and meta.get("BodyPartExamined"):
        anatomy = "other"
    image_type = "unknown"
    if modality == "CT":
        kernel = str(meta.get("ConvolutionKernel", "")).lower()
        if kernel:
            image_type = "ct_sharp" if re.search(_SHARP_KERNEL, kernel) else "ct_soft"
    elif modality == "MR":
        seq = " ".join(str(meta.get(k, "")) for k in ("SeriesDescription", "SequenceName", "ProtocolName")).lower()
        image_type = _mr_type(seq)
        if image_type in ("unknown", "mr_other") and "SE" in str(meta.get("ScanningSequence", "")):
            image_type = "mr_t2" if "T2" in str(meta.get("SeriesDescription", "")).upper() else image_type
    return Prompt("3D" if is_3d else "2D", modality, anatomy, image_type)
