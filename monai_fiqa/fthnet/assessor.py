"""``assess`` for score-regression fundus models (FTHNet): multi-crop score, coarse map, grade, input checks.

Why these choices:
* deterministic test-time averaging - a fixed grid of crops (four corners and the centre of a 6 % larger square,
  each also flipped) instead of random crops, so the same image always gets the same score;
* coarse quality map - the same network scores a 3x3 grid of overlapping half-size windows (the FOV square
  at twice the input size, crops at the input size); the 3x3 scores are upsampled bilinearly to the photograph.
  It says *where* quality is lower at the scale of a quarter of the retina; it is not a pixel-level map;
* a photograph that is not an in-distribution colour fundus image is still scored but flagged and graded reject.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from monai_fiqa.api import QualityResult
from monai_fiqa.engine.checkpoints import load_weights
from monai_fiqa.fthnet.dataset import CROP_MARGIN, normalise
from monai_fiqa.fthnet.zoom import window_views
from monai_fiqa.fundus.checks import fundus_input
from monai_fiqa.fundus.preprocessing import fov_square_box, fundus_to_square, square_to_image
from monai_fiqa.results import grade_from_score, require_thresholds

__all__ = ["FTHNetAssessor"]


class FTHNetAssessor:
    """Scores fundus photographs with a trained score-regression network.

    Args:
        network: the network (e.g. ``monai_fiqa.fthnet.network.FTHNet``), input (B, 3, S, S) -> (B, 1) MOS / 100.
        checkpoint: path of a state dict (loaded with ``weights_only=True``); ``None`` keeps the given weights.
        img_size: network input side S.
        device: torch device.
        tta: average the deterministic crop grid (else one centre view).
        quality_map: compute the coarse 3x3 map.
        thresholds: grade thresholds (``good``, ``usable``) on the 0-100 score.
        model_name: reported in ``params``.
    """

    input_kind = "image"  # what the folder runner feeds it (monai_fiqa.engine.runners)

    def __init__(
        self,
        network: torch.nn.Module,
        checkpoint: str | os.PathLike | None = None,
        img_size: int = 384,
        device: str = "cpu",
        tta: bool = True,
        quality_map: bool = True,
        thresholds: Mapping[str, float] | None = None,
        model_name: str = "fthnet",
    ) -> None:
        self.device = torch.device(device)
        self.net = load_weights(network, checkpoint, self.device).eval()
        self.img_size, self.tta, self.want_map = img_size, tta, quality_map
        self.thresholds = require_thresholds(thresholds)
        self.model_name = model_name

    @torch.no_grad()
    def _scores(self, squares: Sequence[np.ndarray]) -> np.ndarray:
        return self._scores_and_severities(squares)[0]

    @torch.no_grad()
    def _scores_and_severities(self, squares: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
        """0-100 score per view and, for a network with the severity head, each kind's mean severity."""
        x = torch.stack([normalise(s) for s in squares]).to(self.device)
        kinds = tuple(getattr(self.net, "severity_kinds", ()))
        if not kinds:
            return (self.net(x).squeeze(1).clamp(0.0, 1.0) * 100.0).cpu().numpy(), {}
        score, severities = self.net.score_and_severities(x)
        per_kind = severities.mean(0).cpu().numpy()
        return (score.squeeze(1).clamp(0.0, 1.0) * 100.0).cpu().numpy(), {
            k: round(float(v), 3) for k, v in zip(kinds, per_kind, strict=True)
        }

    def _views(self, image: np.ndarray, box: tuple[int, int, int]) -> list[np.ndarray]:
        s = self.img_size
        if not self.tta:
            return [fundus_to_square(image, s, box)]
        big = fundus_to_square(image, int(round(s * CROP_MARGIN)), box)
        m = big.shape[0] - s
        views = [big[r : r + s, c : c + s] for r, c in ((0, 0), (0, m), (m, 0), (m, m), (m // 2, m // 2))]
        return views + [v[:, ::-1] for v in views]

    def _map(self, image: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
        s = self.img_size
        crops = window_views(fundus_to_square(image, 2 * s, box), s)
        grid = self._scores(crops).reshape(3, 3) / 100.0
        return square_to_image(grid, box, image.shape[:2], outside=None, align_corners=True)

    def assess(self, x: str | os.PathLike | np.ndarray) -> QualityResult:
        """Score one photograph (path or (H, W, 3) uint8 / (H, W) array).

        Raises:
            monai_fiqa.io.ImageReadError: unreadable file.
            ValueError: image too small or blank.
        """
        inp = fundus_input(x)
        image, fov, warnings = inp.image, inp.fov, inp.warnings
        box = fov_square_box(image, fov=fov)
        views = self._views(image, box)
        per_view, severities = self._scores_and_severities(views)
        score = float(per_view.mean())
        qmap = self._map(image, box) if self.want_map else None
        grade = "reject" if warnings else grade_from_score(score, self.thresholds)
        params = {
            "model": self.model_name,
            "views": len(views),
            "view_score_std": round(float(per_view.std()), 3),
            "out_of_distribution": bool(warnings),
            "warnings": warnings,
        }
        if severities:  # why the score is what it is: the estimated severity (0-1) of each degradation kind
            params["degradations"] = severities
        return QualityResult(score, grade, qmap, params)
