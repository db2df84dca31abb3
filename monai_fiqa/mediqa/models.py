"""MedIQA variants in the model registry (compact CPU model, MANIQA size, tiny for tests)."""

from __future__ import annotations

from monai_fiqa.mediqa.network import MedIQA
from monai_fiqa.registry import ModelInfo, register_model

__all__: list[str] = []

_WINDOWED = {"mean": (0.0, 0.0), "std": (1.0, 1.0)}  # MedIQA inputs are already windowed to [0, 1]


for _info in (
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
):
    register_model(_info, overwrite=True)
