"""Contact sheets and overlays as PNG, so people can look at what the code makes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["contact_sheet", "overlay_map", "save_png"]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def contact_sheet(
    images: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    cols: int = 8,
    tile: int = 192,
    title: str | None = None,
) -> np.ndarray:
    """Tile images into one RGB sheet with a caption under each tile.

    Args:
        images: (H, W, 3) or (H, W) arrays, uint8 or float in [0, 1]; each is resized to ``tile`` px wide.
        labels: one caption per image (may contain a newline).
        cols: tiles per row.
        tile: tile width in pixels.
        title: optional line at the top.

    Returns:
        (H, W, 3) uint8 sheet.
    """
    if not images:
        raise ValueError("no images for the contact sheet")
    font = _font(max(10, tile // 14))
    cap = (max(10, tile // 14) + 3) * (max((lab.count("\n") + 1 for lab in labels), default=1) if labels else 0)
    head = (max(12, tile // 10) + 8) if title else 0
    rows = (len(images) + cols - 1) // cols
    cell_h = tile + cap + 4
    sheet = Image.new("RGB", (cols * (tile + 4) + 4, head + rows * cell_h + 4), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((6, 4), title, fill=(240, 240, 240), font=_font(max(12, tile // 10)))
    for i, img in enumerate(images):
        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            arr = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
        pil = Image.fromarray(arr).convert("RGB")
        pil = pil.resize((tile, max(1, round(tile * pil.height / pil.width))), Image.BILINEAR).crop((0, 0, tile, tile))
        x, y = 4 + (i % cols) * (tile + 4), head + 4 + (i // cols) * cell_h
        sheet.paste(pil, (x, y))
        if labels:
            draw.multiline_text((x + 2, y + tile + 2), labels[i], fill=(235, 235, 235), font=font, spacing=2)
    return np.asarray(sheet)


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W[, 3]) uint8 array as PNG, creating parent folders."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image)).save(p)
    return p


def overlay_map(image: np.ndarray, quality_map: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a quality map (1 = good) over an (H, W, 3) uint8 photograph: green good, yellow fair, red poor.

    Pixels where the photograph is near-black (outside a fundus field of view) stay as they are.
    """
    q = np.clip(np.asarray(quality_map, dtype=np.float32), 0.0, 1.0)
    colour = np.stack([np.clip(2.0 * (1.0 - q), 0, 1), np.clip(2.0 * q, 0, 1), np.zeros_like(q)], axis=-1) * 255.0
    img = image.astype(np.float32)
    a = alpha * (img.max(axis=-1, keepdims=True) > 20)
    return np.clip(img * (1 - a) + colour * a, 0, 255).astype(np.uint8)
