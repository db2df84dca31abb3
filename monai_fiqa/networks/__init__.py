"""Deprecated location of the networks (until 0.3): each model's network now lives in its own package.

Kept so that bundle configs and code written for 0.1 (``monai_fiqa.networks.FTHNet`` ...) still resolve; new code
imports from :mod:`monai_fiqa.fthnet`, :mod:`monai_fiqa.efiqa` and :mod:`monai_fiqa.mediqa`.
"""

from __future__ import annotations

from monai_fiqa.efiqa.networks import (
    ConvMIM,
    EFIQAAdapter,
    FundusConvEncoder,
    PatchFeatureEncoder,
    fundus_mae,
    vessel_inpainter,
    vessel_unet,
)
from monai_fiqa.fthnet.blocks import SwinStages2D, soft_pool2d
from monai_fiqa.fthnet.network import FTHNet
from monai_fiqa.mediqa.network import MedIQA

__all__ = [
    "ConvMIM",
    "EFIQAAdapter",
    "FTHNet",
    "FundusConvEncoder",
    "MedIQA",
    "PatchFeatureEncoder",
    "SwinStages2D",
    "fundus_mae",
    "soft_pool2d",
    "vessel_inpainter",
    "vessel_unet",
]
