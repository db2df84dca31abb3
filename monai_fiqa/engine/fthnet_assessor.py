"""Deprecated (until 0.3): moved to :mod:`monai_fiqa.fthnet.assessor`; kept so that 0.1 bundle configs still resolve."""

from __future__ import annotations

from monai_fiqa.fthnet.assessor import FTHNetAssessor

__all__ = ["FTHNetAssessor"]
