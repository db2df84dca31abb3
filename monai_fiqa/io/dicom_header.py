"""DICOM headers read and checked in one place.

pydicom parses each element only when it is first used, so a damaged element (an unknown value representation, a
bad length) raises later, in whatever code touches it, with a type no caller documents; :func:`read_dicom` parses
every element up front inside one ``try``.  A damaged or hand-edited header may also hold a list, text or nothing
where one number belongs, and ``int()`` / ``float()`` on it raises a TypeError: :func:`header_number` checks it."""

from __future__ import annotations

import math
from pathlib import Path

import pydicom
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag

__all__ = ["declared_voxels", "header_number", "header_number_or", "header_numbers", "parse_elements", "read_dicom"]

# pixel data stays unparsed (it may be deferred on disk): the pixel decoders check it, after the declared size
PIXEL_TAGS = frozenset(Tag(t) for t in (0x7FE00008, 0x7FE00009, 0x7FE00010))


def parse_elements(ds: pydicom.Dataset, skip: frozenset[BaseTag] = PIXEL_TAGS) -> None:
    """Parse every element of ``ds`` (sequences included) now, so a damaged one raises here and not later."""
    for tag in list(ds.keys()):
        if tag in skip:
            continue
        elem = ds[tag]
        if elem.VR == "SQ":
            for item in elem.value:
                parse_elements(item, skip)


def read_dicom(path: Path, error: type[ValueError], **dcmread_args: object) -> pydicom.Dataset:
    """``pydicom.dcmread(path, **dcmread_args)`` with every element parsed.

    Raises:
        error: (the caller's documented type) when the file is not DICOM or any element cannot be parsed.
    """
    try:
        ds = pydicom.dcmread(path, **dcmread_args)
        parse_elements(ds)
    except Exception as exc:  # pydicom raises many types (NotImplementedError, KeyError, struct.error...) here
        raise error(f"{path.name}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    return ds


def header_number(ds: pydicom.Dataset, keyword: str, default: float, error: type[ValueError] = ValueError) -> float:
    """The attribute as one finite number; ``default`` when it is absent.

    Raises:
        error: (the caller's documented type) when the attribute is present but empty, multi-valued, text or not
            finite, with the attribute's name and value.
    """
    if keyword not in ds:
        return default
    value = ds[keyword].value
    if value is None or value == "":
        raise error(f"{keyword} is present but empty")
    shown = _shown(value)
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:  # multi-valued or text
        raise error(f"{keyword} {shown} is not one number") from exc
    if not math.isfinite(number):
        raise error(f"{keyword} {shown} is not a finite number")
    return number


def header_numbers(
    ds: pydicom.Dataset, keyword: str, count: int, default: tuple[float, ...], error: type[ValueError] = ValueError
) -> tuple[float, ...]:
    """The attribute as ``count`` finite numbers (e.g. PixelSpacing's two); ``default`` when it is absent or empty.

    Raises:
        error: (the caller's documented type) when the attribute is text, has another number of values or holds a
            value that is not a finite number, with the attribute's name and value.
    """
    value = ds.get(keyword)
    if value is None or value == "" or (isinstance(value, list | tuple) and len(value) == 0):
        return default
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]  # one value: text or a number
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise error(f"{keyword} {_shown(value)} is not {count} numbers") from exc
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise error(f"{keyword} {_shown(value)} is not {count} finite numbers")
    return numbers


def _shown(value: object) -> str:
    """A header value for an error message, cut short: a damaged value may be huge."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def header_number_or(ds: pydicom.Dataset, keyword: str, fallback: float) -> float:
    """The attribute as one number, or ``fallback`` when it is absent *or damaged*.

    Only for ordering, naming and grouping (InstanceNumber, SeriesNumber, a first look at SamplesPerPixel), where a
    damaged value must not stop anything: the step that reads the pixels checks the same header with
    :func:`header_number` and reports it.
    """
    try:
        return header_number(ds, keyword, fallback)
    except ValueError:
        return fallback


def declared_voxels(ds: pydicom.Dataset, error: type[ValueError] = ValueError) -> int:
    """Rows x Columns x NumberOfFrames as the header declares them (0 without a pixel matrix): checked against the
    size limits before any pixel is decoded."""
    rows, columns = (header_number(ds, k, 0, error) for k in ("Rows", "Columns"))
    return int(rows * columns * header_number(ds, "NumberOfFrames", 1, error))
