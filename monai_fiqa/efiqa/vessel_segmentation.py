"""Vessel segmentation for EFIQA: DRIVE data, training, inference on the field-of-view square, evaluation.

Why a fixed intensity normalisation and no photometric augmentation beyond +-10 %: the segmenter must report the
vessels a photograph *shows*.  Normalising each image (or training on degraded copies with clean labels) would teach
it to find vessels through darkness, haze and blur, and EFIQA would then see nothing missing.

Geometry: every photograph is cropped to its field-of-view square and resized to ``SEG_SIZE`` (512 px, close to
DRIVE's native ~540-px field of view), so vessel calibre in pixels is the same for any camera resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image

__all__ = [
    "SEG_SIZE",
    "DrivePair",
    "VesselCropSet",
    "load_drive",
    "segment_square",
    "square_mask",
    "to_input",
    "vessel_metrics",
]

SEG_SIZE = 512


@dataclass
class DrivePair:
    """One DRIVE photograph at native resolution with its labels."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8
    vessels: np.ndarray  # (H, W) bool, 1st observer
    fov: np.ndarray  # (H, W) bool, official mask
    second: np.ndarray | None = None  # (H, W) bool, 2nd observer (test split only)


def load_drive(root: str | Path, split: str) -> list[DrivePair]:
    """DRIVE ``training`` or ``test`` split (images, 1st/2nd observer labels, FOV masks)."""
    base = Path(root) / split
    pairs = []
    for img in sorted((base / "images").glob("*.tif")):
        idx = img.name.split("_")[0]
        grey = lambda p: np.asarray(Image.open(p).convert("L")) > 127  # noqa: E731
        # the 2nd observer's files are named NN_manual2.gif, or vessel(N).gif in some DRIVE copies
        second = base / "2nd_manual" / f"{idx}_manual2.gif"
        second = second if second.is_file() else base / "2nd_manual" / f"vessel({int(idx)}).gif"
        pairs.append(
            DrivePair(
                idx,
                np.asarray(Image.open(img).convert("RGB")),
                grey(base / "1st_manual" / f"{idx}_manual1.gif"),
                grey(next((base / "mask").glob(f"{idx}_*mask.gif"))),
                grey(second) if second.is_file() else None,
            )
        )
    return pairs


def square_mask(mask: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """A (H, W) mask cut to the same FOV square as the photograph, as float in [0, 1] (area-resampled)."""
    return fundus_to_square(mask.astype(np.uint8) * 255, size, box).astype(np.float32) / 255.0


def to_input(square: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float: fixed scaling (x / 255 - 0.5) / 0.25, the same for every image."""
    return torch.from_numpy((square.astype(np.float32) / 255.0 - 0.5) / 0.25).permute(2, 0, 1).contiguous()


class VesselCropSet(Dataset):
    """Random crops of FOV squares with their vessel labels; flips, 90-degree turns and +-10 % gain/contrast."""

    def __init__(self, pairs: list[DrivePair], crop: int = 256, per_epoch: int = 2000, seed: int = 0) -> None:
        self.crop, self.per_epoch = crop, per_epoch
        self.rng = np.random.default_rng(seed)
        self.items = []
        for p in pairs:
            box = fov_square_box(p.image, fov=p.fov)
            self.items.append((fundus_to_square(p.image, SEG_SIZE, box), square_mask(p.vessels, box, SEG_SIZE) > 0.5))

    def __len__(self) -> int:
        return self.per_epoch

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, lab = self.items[int(self.rng.integers(len(self.items)))]
        r, c = self.rng.integers(0, SEG_SIZE - self.crop + 1, size=2)
        x = img[r : r + self.crop, c : c + self.crop].astype(np.float32)
        y = lab[r : r + self.crop, c : c + self.crop].astype(np.float32)
        k = int(self.rng.integers(4))
        x, y = np.rot90(x, k), np.rot90(y, k)
        if self.rng.uniform() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        gain, contrast = self.rng.uniform(0.9, 1.1, size=2)
        x = np.clip((x - x.mean()) * contrast + x.mean() * gain, 0, 255).astype(np.uint8)
        return to_input(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))[None]


@torch.no_grad()
def segment_square(net: torch.nn.Module, squares: np.ndarray | list[np.ndarray], batch: int = 4) -> np.ndarray:
    """Vessel probabilities for FOV squares: (S, S, 3) or a list of them -> (S, S) or (N, S, S) float32."""
    single = isinstance(squares, np.ndarray) and squares.ndim == 3
    items = [squares] if single else list(squares)
    net.eval()
    out = []
    for i in range(0, len(items), batch):
        x = torch.stack([to_input(s) for s in items[i : i + batch]])
        out.append(torch.sigmoid(net(x))[:, 0].numpy())
    probs = np.concatenate(out).astype(np.float32)
    return probs[0] if single else probs


def native_probabilities(net: torch.nn.Module, pair: DrivePair) -> np.ndarray:
    """Segment a DRIVE photograph on its FOV square and map the probabilities back to native pixels."""
    top, left, side = fov_square_box(pair.image, fov=pair.fov)
    prob = segment_square(net, fundus_to_square(pair.image, SEG_SIZE, (top, left, side)))
    return square_to_image(prob, (top, left, side), pair.fov.shape, outside=0.0)


def vessel_metrics(prob: np.ndarray, truth: np.ndarray, fov: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUC, Dice and accuracy inside the FOV (the DRIVE protocol)."""
    from monai.metrics import compute_roc_auc

    p, t = prob[fov], truth[fov]
    pred = p >= threshold
    dice = 2 * float((pred & t).sum()) / max(1, int(pred.sum() + t.sum()))
    auc = float(compute_roc_auc(torch.from_numpy(p.astype(np.float32)), torch.from_numpy(t.astype(np.float32))))
    return {"auc": auc, "dice": dice, "accuracy": float((pred == t).mean())}
