"""The routing rules of the quality application: which DICOM items are scored, by which family, and why not.

Why a rules file and not code: what a site sends varies (a camera that exports Secondary Capture, a scanner that
labels reconstructions DERIVED, a vendor's own localizer flags), and an integration engineer must be able to read and
adapt the decision, with the reason each skip is reported under, without changing the package.  The file
(``series_rules.json`` beside this module, or the one ``FIQA_SERIES_RULES`` names) holds two lists:

* ``selections``: the MONAI Deploy SDK ``DICOMSeriesSelectorOperator``'s own rules (a first filter on Modality);
* ``rules``: tried in order on each work item; the first whose ``when`` conditions all match decides.  A rule with a
  ``family`` routes the item to that family's bundles; a rule with a ``status`` (``skipped``, ``unsupported``,
  ``failed``) stops it with its ``reason``, a ``str.format`` template over the routing attributes.

A condition is a regular expression that must match the whole attribute value, case-insensitively (the SDK's own
matcher searches anywhere in the value, which would let ``CT`` match ``OCT``).  The attributes are
:data:`ROUTING_ATTRIBUTES`, read from the item's first instance; multi-valued ones are joined with a backslash, as
DICOM writes them; an absent one is the empty string.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pydicom

from monai_fiqa.api import FAMILY_BUNDLES

__all__ = [
    "DEFAULT_RULES_FILE",
    "ROUTING_ATTRIBUTES",
    "Rule",
    "SeriesRules",
    "default_rules",
    "load_rules",
    "routing_attributes",
]

DEFAULT_RULES_FILE = Path(__file__).resolve().with_name("series_rules.json")

ROUTING_ATTRIBUTES: dict[str, str] = {
    "Modality": "the header's Modality",
    "SOPClassUID": "the SOP Class UID",
    "SOPClassName": "its name (e.g. 'CT Image Storage')",
    "ImageType": "ImageType values, e.g. ORIGINAL\\PRIMARY\\AXIAL",
    "PhotometricInterpretation": "e.g. RGB, YBR_FULL_422, MONOCHROME2",
    "SamplesPerPixel": "1 or 3",
    "Frames": "frames the item holds: 1 for a single-frame image or for one frame of a multi-frame photograph",
    "Instances": "instances (files) in the item",
    "PixelData": "'present' when any instance has pixel data, else 'absent'",
    "Manufacturer": "the header's Manufacturer",
    "SoftwareVersions": "the header's SoftwareVersions",
    "Colour": "'colour' (3 samples per pixel) or 'monochrome': for reasons",
    "FramesNote": "', N frames' for a multi-frame item, else empty: for reasons",
}
_STATUSES = ("skipped", "unsupported", "failed")
_FAMILIES = tuple(FAMILY_BUNDLES)  # a family rule names a family that has bundles


@dataclass(frozen=True)
class Rule:
    """One routing rule: conditions, and either a family or a status with its reason."""

    name: str
    when: dict[str, re.Pattern[str]]
    family: str | None = None
    status: str | None = None
    reason: str = ""

    def matches(self, attributes: dict[str, str]) -> bool:
        return all(pattern.fullmatch(attributes.get(key, "")) for key, pattern in self.when.items())

    def explain(self, attributes: dict[str, str]) -> str:
        """The reason with the item's attributes filled in (an empty value reads ``no Modality``, not blank)."""
        shown = {k: v or f"no {k}" for k, v in attributes.items()}
        shown["FramesNote"] = attributes.get("FramesNote", "")
        return self.reason.format_map(shown)


@dataclass(frozen=True)
class SeriesRules:
    """A parsed rules file: the SDK selector's ``selections`` and the ordered routing :class:`Rule` list."""

    selections: list[dict[str, Any]]
    rules: tuple[Rule, ...]

    def selector_json(self) -> str:
        """The JSON text the SDK's ``DICOMSeriesSelectorOperator`` takes."""
        return json.dumps({"selections": self.selections})

    def decide(self, attributes: dict[str, str]) -> Rule:
        """The first rule that matches; a file must end with a catch-all rule (checked when it is loaded)."""
        return next(rule for rule in self.rules if rule.matches(attributes))


def _parse_rule(raw: dict[str, Any], where: str) -> Rule:
    unknown = sorted(set(raw.get("when", {})) - set(ROUTING_ATTRIBUTES))
    if unknown:
        raise ValueError(f"{where}: unknown attribute(s) {', '.join(unknown)}; known: {', '.join(ROUTING_ATTRIBUTES)}")
    family, status = raw.get("family"), raw.get("status")
    if (family is None) == (status is None):
        raise ValueError(f"{where}: give either a 'family' ({', '.join(_FAMILIES)}) or a 'status', not both or none")
    if family is not None and family not in _FAMILIES:
        raise ValueError(f"{where}: family {family!r} is not one of {', '.join(_FAMILIES)}")
    if status is not None and status not in _STATUSES:
        raise ValueError(f"{where}: status {status!r} is not one of {', '.join(_STATUSES)}")
    reason = str(raw.get("reason", ""))
    if status is not None and not reason:
        raise ValueError(f"{where}: a rule that stops an item must say why ('reason')")
    fields = {name for _, name, _, _ in string.Formatter().parse(reason) if name}
    if fields - set(ROUTING_ATTRIBUTES):
        unknown = sorted(fields - set(ROUTING_ATTRIBUTES))
        raise ValueError(f"{where}: the reason names unknown attribute(s) {', '.join(unknown)}")
    try:
        when = {key: re.compile(str(pattern), re.IGNORECASE) for key, pattern in raw.get("when", {}).items()}
    except re.error as exc:
        raise ValueError(f"{where}: invalid regular expression ({exc})") from exc
    return Rule(str(raw.get("name", where)), when, family, status, reason)


def load_rules(path: str | Path | None = None) -> SeriesRules:
    """Read and check a rules file (default: the package's); a bad file is a ``ValueError`` that says what is wrong,
    raised before any study is read."""
    path = Path(path or DEFAULT_RULES_FILE)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the series rules {path}: {exc}") from exc
    rules = tuple(_parse_rule(r, f"{path.name} rule {i + 1}") for i, r in enumerate(raw.get("rules", [])))
    if not rules or rules[-1].when:
        raise ValueError(f"{path}: the last rule must have no conditions (it decides every item no rule matched)")
    return SeriesRules(list(raw.get("selections", [])), rules)


@lru_cache(maxsize=1)
def default_rules() -> SeriesRules:
    """The package's rules, read once."""
    return load_rules()


def routing_attributes(datasets: list[pydicom.Dataset], samples: int, frames: int, instances: int) -> dict[str, str]:
    """The values the rules see for an item (see :data:`ROUTING_ATTRIBUTES`); ``samples`` and ``frames`` are the
    caller's checked numbers (a damaged header fails the item before routing)."""
    first = datasets[0]
    uid = first.get("SOPClassUID")

    def text(keyword: str) -> str:
        value = first.get(keyword)
        if value is None:
            return ""
        values = value if isinstance(value, pydicom.multival.MultiValue) else [value]
        return "\\".join(str(v).strip() for v in values)

    return {
        "Modality": text("Modality"),
        "SOPClassUID": str(uid or ""),
        "SOPClassName": str(getattr(uid, "name", uid or "unknown SOP class")),
        "ImageType": text("ImageType").upper(),
        "PhotometricInterpretation": text("PhotometricInterpretation"),
        "SamplesPerPixel": str(samples),
        "Frames": str(frames),
        "Instances": str(instances),
        "PixelData": "present" if any("PixelData" in d for d in datasets) else "absent",
        "Manufacturer": text("Manufacturer"),
        "SoftwareVersions": text("SoftwareVersions"),
        "Colour": "colour" if samples == 3 else "monochrome",
        "FramesNote": f", {frames} frames" if frames > 1 else "",
    }
