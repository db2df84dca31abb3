"""Synthetic data: procedural fundus photographs, degradation physics and pseudo-MOS labels."""

from __future__ import annotations

from monai_fiqa.synth.fundus import LESION_TYPES, FundusSample, render_fundus

__all__ = ["LESION_TYPES", "FundusSample", "render_fundus"]
