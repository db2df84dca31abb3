"""Readers (and, later, DICOM writers) for the images monai-fiqa assesses."""

from __future__ import annotations

from monai_fiqa.io.images import ImageReadError, read_rgb, to_rgb_uint8
from monai_fiqa.io.volumes import Volume, VolumeReadError, read_volume

__all__ = ["ImageReadError", "Volume", "VolumeReadError", "read_rgb", "read_volume", "to_rgb_uint8"]
