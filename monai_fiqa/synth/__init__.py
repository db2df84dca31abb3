"""Synthetic data: procedural fundus photographs, degradation physics and pseudo-MOS labels."""

from __future__ import annotations

from monai_fiqa.fundus.renderer import LESION_TYPES, FundusSample, render_fundus

__all__ = ["LESION_TYPES", "FundusSample", "render_fundus"]
