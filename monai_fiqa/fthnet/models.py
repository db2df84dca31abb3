"""FTHNet variants in the model registry (S and L as in the paper, a tiny one for tests)."""

from __future__ import annotations

from monai_fiqa.fthnet.network import FTHNet
from monai_fiqa.registry import ModelInfo, register_model

__all__: list[str] = []

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}


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
        "fthnet_s_detail",
        FTHNet,
        "fthnet",
        (3, 384, 384),
        description="FTHNet-S seeing the detail band beside RGB (fthnet.blocks.DetailChannels, sigma 4 px)",
        defaults={"embed_dim": 32, "depths": (2, 4, 6, 2), "detail_sigma": 4.0},
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
):
    register_model(_info, overwrite=True)
