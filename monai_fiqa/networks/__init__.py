"""Networks, registered by name in :mod:`monai_fiqa.registry` when this package is imported."""

from __future__ import annotations

from monai_fiqa.networks.blocks import SwinStages2D, soft_pool2d
from monai_fiqa.networks.efiqa import (
    ConvMIM,
    EFIQAAdapter,
    FundusConvEncoder,
    PatchFeatureEncoder,
    fundus_mae,
    vessel_inpainter,
    vessel_unet,
)
from monai_fiqa.networks.fthnet import FTHNet
from monai_fiqa.networks.mediqa import MedIQA
from monai_fiqa.registry import ModelInfo, register_model

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

_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
_WINDOWED = {"mean": (0.0, 0.0), "std": (1.0, 1.0)}  # MedIQA inputs are already windowed to [0, 1]
_FIXED = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}  # EFIQA: the same scaling for every image


def _efiqa_adapter(
    channels: tuple[int, ...] = (32, 48, 96, 128),
    img_size: int = 256,
    hidden: int = 64,
    kernel: int = 3,
    detail: bool = True,
) -> EFIQAAdapter:
    """EFIQA stage 2 with the default encoder (:class:`FundusConvEncoder`, SimMIM-pre-trained), the fixed detail
    statistics and a shallow head."""
    encoder = PatchFeatureEncoder(FundusConvEncoder(channels, img_size), img_size=img_size)
    return EFIQAAdapter(encoder, hidden=hidden, kernel=kernel, detail=detail)


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
        "fthnet_s",
        FTHNet,
        "fthnet",
        (3, 384, 384),
        description="FTHNet-S, C=32, depths (2,4,6,2), 5.58 M",
        defaults={"embed_dim": 32, "depths": (2, 4, 6, 2)},
        **_IMAGENET,
    ),
    ModelInfo(
        "fthnet_l",
        FTHNet,
        "fthnet",
        (3, 384, 384),
        description="FTHNet-L, C=64, depths (2,2,6,2), 14.92 M",
        defaults={"embed_dim": 64, "depths": (2, 2, 6, 2)},
        **_IMAGENET,
    ),
    ModelInfo(
        "fthnet_tiny",
        FTHNet,
        "fthnet",
        (3, 64, 64),
        description="tiny FTHNet for tests",
        defaults={
            "embed_dim": 8,
            "depths": (1, 1, 1, 1),
            "img_size": 64,
            "dpn_dim": 16,
            "hyper_dim": 64,
            "pgl_grid": 2,
        },
        **_IMAGENET,
    ),
    ModelInfo(
        "mediqa",
        MedIQA,
        "mediqa",
        (2, 192, 192),
        description="MedIQA compact: patch 16, ViT 128x4, Swin 128 (2,2), 4.1 M, trains on a CPU",
        **_WINDOWED,
    ),
    ModelInfo(
        "mediqa_maniqa",
        MedIQA,
        "mediqa",
        (2, 224, 224),
        description="MedIQA at MANIQA size: patch 8, ViT-B width 768 x 12, Swin 768 (2,2), window 7",
        defaults={
            "patch_down": 3,
            "vit_dim": 768,
            "vit_depth": 12,
            "vit_heads": 12,
            "swin_dim": 768,
            "swin_heads": 12,
            "window": 7,
        },
        **_WINDOWED,
    ),
    ModelInfo(
        "mediqa_tiny",
        MedIQA,
        "mediqa",
        (2, 64, 64),
        description="tiny MedIQA for tests",
        defaults={
            "vit_dim": 32,
            "vit_depth": 2,
            "vit_heads": 2,
            "swin_dim": 32,
            "swin_depths": (1, 1),
            "swin_heads": 2,
            "window": 4,
            "prompt_dim": 8,
        },
        **_WINDOWED,
    ),
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
