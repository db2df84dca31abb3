"""EFIQA networks in the model registry: vessel segmenter, inpainting prior, stage-2 adapters."""

from __future__ import annotations

from monai_fiqa.efiqa.networks import (
    EFIQAAdapter,
    FundusConvEncoder,
    PatchFeatureEncoder,
    fundus_mae,
    vessel_inpainter,
    vessel_unet,
)
from monai_fiqa.registry import ModelInfo, register_model

__all__: list[str] = []

_FIXED = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}  # EFIQA: the same scaling for every image


def _efiqa_adapter(
    channels: tuple[int, ...] = (32, 48, 96, 128),
    img_size: int = 256,
    hidden: int = 64,
    kernel: int = 3,
    detail: bool = True,
    encoder_dropout: float = 0.0,
) -> EFIQAAdapter:
    """EFIQA stage 2 with the default encoder (:class:`FundusConvEncoder`, SimMIM-pre-trained), the fixed detail
    statistics and a shallow head (``encoder_dropout``: see :class:`EFIQAAdapter`, training only)."""
    encoder = PatchFeatureEncoder(FundusConvEncoder(channels, img_size), img_size=img_size)
    return EFIQAAdapter(encoder, hidden=hidden, kernel=kernel, detail=detail, encoder_dropout=encoder_dropout)


def _efiqa_adapter_mae(
    layers: tuple[int, ...] = (1, 3, -1), hidden: int = 64, kernel: int = 3, **kw: object
) -> EFIQAAdapter:
    """EFIQA stage 2 over the MAE ViT encoder (blocks ``layers`` concatenated); other ``kw`` go to
    :func:`fundus_mae`."""
    width = int(kw.get("hidden_size", 192)) * len(layers)  # type: ignore[call-overload]
    encoder = PatchFeatureEncoder(fundus_mae(**kw), out_channels=width, layers=layers)  # type: ignore[arg-type]
    return EFIQAAdapter(encoder, hidden=hidden, kernel=kernel)


for _info in (
    ModelInfo(
        "efiqa_vessel_unet",
        vessel_unet,
        "efiqa",
        (3, 512, 512),
        score_range=(0.0, 1.0),
        description="EFIQA vessel segmenter: MONAI U-Net (16-256 channels), FOV square at 512 px -> vessel logit",
        **_FIXED,
    ),
    ModelInfo(
        "efiqa_inpainter",
        vessel_inpainter,
        "efiqa",
        (2, 256, 256),
        mean=(0.0, 0.0),
        std=(1.0, 1.0),
        score_range=(0.0, 1.0),
        description="EFIQA stage 1: masked vessel-map inpainting U-Net (map + mask -> completed map logit)",
    ),
    ModelInfo(
        "efiqa_adapter",
        _efiqa_adapter,
        "efiqa",
        (3, 256, 256),
        score_range=(0.0, 1.0),
        description="EFIQA stage 2: frozen SimMIM-pre-trained conv encoder (multi-scale, 272 ch on a 16 x 16 grid) "
        "+ 3x3/1x1 head -> 16 x 16 map",
        **_FIXED,
    ),
    ModelInfo(
        "efiqa_adapter_mae",
        _efiqa_adapter_mae,
        "efiqa",
        (3, 256, 256),
        score_range=(0.0, 1.0),
        description="EFIQA stage 2 over the MAE ViT encoder (192 x 6, patch 16; blocks 2, 4, 6) -> 16 x 16 map",
        **_FIXED,
    ),
    ModelInfo(
        "efiqa_adapter_tiny",
        _efiqa_adapter,
        "efiqa",
        (3, 64, 64),
        score_range=(0.0, 1.0),
        description="tiny EFIQA adapter for tests",
        defaults={"img_size": 64, "channels": (8, 8, 8, 8), "hidden": 8},
        **_FIXED,
    ),
):
    register_model(_info, overwrite=True)
