"""Deprecated (until 0.3): moved to :mod:`monai_fiqa.efiqa.train`; kept so that 0.1 bundle configs still resolve."""

from __future__ import annotations

from monai_fiqa.efiqa.train import train_adapter

__all__ = ["train_adapter"]
