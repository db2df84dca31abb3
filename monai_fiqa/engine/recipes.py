"""Deprecated (until 0.3): moved to :mod:`monai_fiqa.fthnet.recipe`; kept so that 0.1 bundle configs still resolve."""

from __future__ import annotations

from monai_fiqa.fthnet.recipe import train_from_csvs

__all__ = ["train_from_csvs"]
