"""Shared fixtures: real data paths (DRIVE lives beside the checkout in ../shared/data) and small images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MONAI_FIQA_DATA", REPO.parent / "shared" / "data"))
DRIVE = DATA / "fundus" / "DRIVE"


@pytest.fixture(scope="session")
def drive_test_images() -> list[Path]:
    """DRIVE test photographs (never used to train anything). CI has them; a bare checkout skips."""
    paths = sorted((DRIVE / "test" / "images").glob("*_test.tif"))
    if not paths:
        pytest.skip(f"DRIVE not found under {DRIVE}")
    return paths


def load_drive(path: Path, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A DRIVE photograph and its official FOV mask, optionally resized (longer side = size)."""
    img = Image.open(path).convert("RGB")
    mask = Image.open(path.parent.parent / "mask" / path.name.replace(".tif", "_mask.gif")).convert("L")
    if size:
        f = size / max(img.size)
        new = (round(img.width * f), round(img.height * f))
        img, mask = img.resize(new, Image.LANCZOS), mask.resize(new, Image.NEAREST)
    return np.asarray(img), np.asarray(mask) > 127
