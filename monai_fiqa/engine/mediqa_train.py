"""Deprecated (until 0.3): moved to :mod:`monai_fiqa.mediqa.train`; kept so that 0.1 bundle configs still resolve."""

from __future__ import annotations

from monai_fiqa.mediqa.train import train_mediqa

__all__ = ["train_mediqa"]
