"""MONAI array and dictionary transforms for fundus quality work."""

from __future__ import annotations

from monai_fiqa.fundus.transforms import (
    FundusDegrade,
    FundusDegraded,
    RandFundusQualityMix,
    RandFundusQualityMixd,
)

__all__ = ["FundusDegrade", "FundusDegraded", "RandFundusQualityMix", "RandFundusQualityMixd"]
