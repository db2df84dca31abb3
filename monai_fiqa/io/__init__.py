"""Readers (and, later, DICOM writers) for the images monai-fiqa assesses."""

from __future__ import annotations

from monai_fiqa.io.images import ImageReadError, read_rgb, to_rgb_uint8

__all__ = ["ImageReadError", "read_rgb", "to_rgb_uint8"]
