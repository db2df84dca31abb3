"""How an FTHNet-style score-regression network is applied to a photograph: multi-crop score and coarse map.

Why these choices:
* deterministic test-time averaging - a fixed grid of crops (four corners and the centre of a 6 % larger square,
  each also flipped) instead of random crops, so the same image always gets the same score;
* quality map - for a network with the degradation-map head, 1 minus its map of the FOV square (one value per
  8-px cell of the input, ~1/48 of the retina's diameter) resampled onto the photograph; otherwise the coarse map
  of scored windows: the network scores a 3x3 grid of overlapping half-size windows of the FOV square, each
  shown in place at the photograph's scale (black outside the window: :mod:`monai_fiqa.fthnet.windows` says why
  not enlarged), and the 3x3 scores, placed at the windows' centres, are interpolated onto the photograph;
* a photograph that is not an in-distribution colour fundus image is still scored, and flagged (then graded reject).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_fiqa.engine.workflow import QualityInferer, network_device
from monai_fiqa.fthnet.dataset import CROP_MARGIN, normalise
from monai_fiqa.fthnet.windows import window_views
from monai_fiqa.fundus.checks import FundusInput
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image
from monai_fiqa.results import Scored

__all__ = ["FTHNetInferer"]


class FTHNetInferer(QualityInferer):
    """Score, per-kind degradation severities and coarse map of one checked photograph.

    Args:
        img_size: network input side S; the network maps (B, 3, S, S) -> (B, 1) MOS / 100.
        tta: average the deterministic crop grid (else one centre view).
        quality_map: compute the quality map.
        model_name: reported in ``params``.
    """

    def __init__(self, img_size: int = 384, tta: bool = True, quality_map: bool = True, model_name: str = "fthnet"):
        super().__init__()
        self.img_size, self.tta, self.want_map, self.model_name = img_size, tta, quality_map, model_name

    @torch.no_grad()
    def scores_and_severities(
        self, squares: Sequence[np.ndarray], network: torch.nn.Module
    ) -> tuple[np.ndarray, dict[str, float]]:
        """0-100 score per view and, for a network with the severity head, each kind's mean severity."""
        device = network_device(network)
        x = torch.stack([normalise(s) for s in squares]).to(device)
        kinds = tuple(getattr(network, "severity_kinds", ()))
        if not kinds:
            return (network(x).squeeze(1).clamp(0.0, 1.0) * 100.0).cpu().numpy(), {}
        score, severities, _ = network.outputs(x)
        per_kind = severities.mean(0).cpu().numpy()
        return (score.squeeze(1).clamp(0.0, 1.0) * 100.0).cpu().numpy(), {
            k: round(float(v), 3) for k, v in zip(kinds, per_kind, strict=True)
        }

    def views(self, image: np.ndarray, box: tuple[int, int, int]) -> list[np.ndarray]:
        """The test-time views: the crop grid of the slightly larger FOV square (and flips), or its centre."""
        s = self.img_size
        if not self.tta:
            return [fundus_to_square(image, s, box)]
        big = fundus_to_square(image, int(round(s * CROP_MARGIN)), box)
        m = big.shape[0] - s
        views = [big[r : r + s, c : c + s] for r, c in ((0, 0), (0, m), (m, 0), (m, m), (m // 2, m // 2))]
        return views + [v[:, ::-1] for v in views]

    @torch.no_grad()
    def quality_map(self, image: np.ndarray, box: tuple[int, int, int], network: torch.nn.Module) -> np.ndarray:
        """The photograph's quality map in [0, 1] (low = degraded), from the map head or else the window scores."""
        square = fundus_to_square(image, self.img_size, box)
        if getattr(network, "map_head", None) is None:
            return self._window_map(square, box, image.shape[:2], network)
        logits = network.outputs(normalise(square)[None].to(network_device(network))).degradation_logits
        quality = 1.0 - torch.sigmoid(logits.float())[0, 0].cpu().numpy()
        return square_to_image(quality, box, image.shape[:2], outside=None)  # the head's cells tile the square

    def _window_map(
        self, square: np.ndarray, box: tuple[int, int, int], shape: tuple[int, int], network: torch.nn.Module
    ) -> np.ndarray:
        """The 3x3 window scores of the FOV square, upsampled to the photograph, in [0, 1]."""
        windows = window_views(square)
        grid = self.scores_and_severities(windows, network)[0].reshape(3, 3) / 100.0
        # each score belongs at its window's centre (1/4, 1/2, 3/4 of the square), constant beyond: the edge-padded
        # 5 x 5 grid spans the square corner to corner
        centred = np.pad(grid, 1, mode="edge")
        return square_to_image(centred, box, shape, outside=None, align_corners=True)

    def infer(self, loaded: FundusInput, network: torch.nn.Module) -> Scored:
        image, fov, warnings = loaded.image, loaded.fov, loaded.warnings
        box = fov_square_box(image, fov=fov)
        views = self.views(image, box)
        per_view, severities = self.scores_and_severities(views, network)
        qmap = self.quality_map(image, box, network) if self.want_map else None
        params = {
            "model": self.model_name,
            "views": len(views),
            "view_score_std": round(float(per_view.std()), 3),
            "out_of_distribution": bool(warnings),
            "warnings": warnings,
        }
        if severities:  # why the score is what it is: the estimated severity (0-1) of each degradation kind
            params["degradations"] = severities
        return Scored(float(per_view.mean()), qmap, params)
