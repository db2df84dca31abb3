"""In-memory fundus quality dataset for training and evaluation.

Why in memory: a few thousand photographs at ~400 px fit easily (~0.5 MB each), and decoding PNGs every epoch would
cost more CPU than the model on this two-core machine.  Images are FOV-cropped and squared once
(:func:`monai_fiqa.transforms.fundus.fundus_to_square`), then randomly cropped and flipped per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from monai_fiqa.data.quality_csv import QualityRecord
from monai_fiqa.engine.zoom import zoom_sample
from monai_fiqa.io.images import read_rgb
from monai_fiqa.transforms.fundus import fundus_to_square

__all__ = ["FundusQualityDataset", "normalise"]

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def normalise(square_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 normalised with ImageNet statistics (the registry's mean/std)."""
    x = torch.from_numpy(np.array(square_hwc, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0  # own, writable copy
    return (x - _MEAN) / _STD


class FundusQualityDataset(Dataset):
    """(image, MOS / 100) pairs.

    Args:
        records: labelled images.
        img_size: network input side.
        train: random crop (from a 6 % larger square) and flips; otherwise the whole square at ``img_size``.
        seed: seed of the augmentation generator (so a resumed run does not replay the same crops).
        zoom_prob: share of training samples shown as a zoomed window with its local pseudo-MOS
            (:mod:`monai_fiqa.engine.zoom`; only rows of ``monai-fiqa synth`` sets have one).
    """

    def __init__(
        self, records: Sequence[QualityRecord], img_size: int, train: bool, seed: int = 0, zoom_prob: float = 0.0
    ) -> None:
        self.records = list(records)
        self.img_size, self.train = img_size, train
        self.load_size = int(round(img_size * 1.0625)) if train else img_size
        self.images = [
            fundus_to_square(read_rgb(r.path)[0], self.load_size)
            for r in tqdm(self.records, desc="load", unit="img", leave=False)
        ]
        self.targets = torch.tensor([r.mos / 100.0 for r in self.records], dtype=torch.float32)
        self.rng = np.random.default_rng(seed)
        self.zoom_prob = zoom_prob
        self.zoom: list[tuple[np.ndarray, float] | None] = []
        if train and zoom_prob > 0:
            windows = np.random.default_rng(seed + 1).integers(0, 9, len(self.records))
            self.zoom = [
                zoom_sample(r, img_size, int(w))
                for r, w in tqdm(
                    zip(self.records, windows, strict=True),
                    total=len(self.records),
                    desc="zoom views",
                    unit="img",
                    leave=False,
                )
            ]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.zoom and self.zoom[i] is not None and self.rng.random() < self.zoom_prob:
            img, mos = self.zoom[i]
            if self.rng.random() < 0.5:
                img = img[:, ::-1]
            return normalise(img), torch.tensor([mos / 100.0], dtype=torch.float32)
        img = self.images[i]
        if self.train:
            m = self.load_size - self.img_size
            r, c = self.rng.integers(0, m + 1, 2)
            img = img[r : r + self.img_size, c : c + self.img_size]
            if self.rng.random() < 0.5:
                img = img[:, ::-1]
            if self.rng.random() < 0.5:
                img = img[::-1]
        return normalise(img), self.targets[i : i + 1]
