"""Numbers from DICOM headers, checked: a damaged or hand-edited header may hold a list, text or nothing where one
number belongs, and ``int()`` / ``float()`` on it raises a TypeError that no caller documents."""

from __future__ import annotations

import math

import pydicom

__all__ = ["header_number"]


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
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."  # a damaged value may be huge
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:  # multi-valued or text
        raise error(f"{keyword} {shown} is not one number") from exc
    if not math.isfinite(number):
        raise error(f"{keyword} {shown} is not a finite number")
    return number
